"""``make bench``: the project's own benchmark.

Every figure is a ratio or a count measured in this run (machines here are shared and noisy, so no
absolute time is compared with anything measured elsewhere). Each module in this package named
``bench_*.py`` exposes ``run(ctx) -> list[str]``; they share one local stack, started only when a
selected section needs it. ``python -m rooms_local.bench cold_start ...`` runs only the sections named.
"""
