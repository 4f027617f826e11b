"""Cold start: each function's import (what Lambda's init does) against `import boto3;
boto3.client("dynamodb")`, measured in the same run, from source and with bytecode, in an environment
shaped like Lambda's (``lambda_import``: the layer's locked packages only, no dev venv).

Two measures of each: instructions executed (Valgrind Ir; load-independent and repeatable, so the goals are
held against it) and the median wall time of fresh interpreters (what init waits for, as noisy as the
machine). From source: our modules are compiled at every import. With bytecode: the layer's ``rooms``
package is compiled first, as the layer build does. Third-party packages are compiled in both, as in the
layer. Goals: issue_token ≤ 1.25x, every other user-facing function ≤ 1.35x, held against the form
that is deployed: with bytecode (``infra.layer_build`` compiles the layer, and ``/opt`` is read-only, so
a layer shipped without it would compile at every cold start). From source is reported beside it: what
that compilation would cost.

Alone: ``python -m rooms_local.bench cold_start`` (no local stack), or ``make bench BENCH=cold_start``.
ROOMS_BENCH_RUNS sets the wall-clock runs (default 7).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from rooms_local.bench.lambda_import import (
    BASELINE,
    LambdaPython,
    code_copy,
    import_function_code,
    measure_instructions,
    third_party_site,
    valgrind_available,
)
from rooms_local.config import FUNCTIONS_DIR

NEEDS_STACK = False
GOALS = {"issue_token": 1.25}
USER_FACING_GOAL = 1.35
# Not called by users: schedules, S3, queues and the booking platform's events call them, and nobody waits
# on their answer (webhook_handler answers LiveKit, which drops events queued behind a slow answer, and
# dial_out_worker is what a person waiting for their phone to ring waits on: both are held to the
# user-facing goal).
BACKGROUND = {"room_sweeper", "recording_processor", "webhook_worker", "booking_events"}
RUNS = int(os.environ.get("ROOMS_BENCH_RUNS", "7"))
MODES = ("source", "bytecode")
DEPLOYED = "bytecode"  # what the goals are held against: the layer ships compiled


def functions() -> list[str]:
    return sorted(json.loads((FUNCTIONS_DIR / "routes.json").read_text()).keys()
                  | {p.parent.name for p in FUNCTIONS_DIR.glob("*/handler.py")})


def goal_of(name: str) -> float | None:
    return None if name in BACKGROUND else GOALS.get(name, USER_FACING_GOAL)


def measure(runs: int = RUNS) -> dict[str, dict[str, dict[str, float]]]:
    """{measure: {mode: {function or "baseline": value}}}, measure "instructions" (when valgrind is
    installed) and "seconds". The baseline imports none of our code: its instructions are counted once."""
    site = third_party_site()
    out: dict[str, dict[str, dict[str, float]]] = {"instructions": {}, "seconds": {}}
    with tempfile.TemporaryDirectory(prefix="rooms-cold-") as tmp:
        pythons, codes = {}, {}
        for mode in MODES:
            fdir, layer = code_copy(Path(tmp) / mode, bytecode=mode == "bytecode")
            pythons[mode] = LambdaPython([layer, site], cwd=Path(tmp))
            codes[mode] = {"baseline": BASELINE, **{name: import_function_code(name, fdir) for name in functions()}}
        if valgrind_available():
            jobs = {(mode, name): (pythons[mode], code) for mode in MODES for name, code in codes[mode].items()
                    if name != "baseline" or mode == MODES[0]}
            counts = measure_instructions(jobs)
            baseline = counts[(MODES[0], "baseline")]
            out["instructions"] = {mode: {"baseline": baseline, **{name: counts[(mode, name)] for name in functions()}}
                                   for mode in MODES}
        for mode in MODES:
            out["seconds"][mode] = {name: pythons[mode].seconds(code, runs) for name, code in codes[mode].items()}
    return out


def report(figures: dict[str, dict[str, dict[str, float]]], elapsed: float | None = None) -> list[str]:
    instr, secs = figures["instructions"], figures["seconds"]
    lines = ["cold import ÷ baseline `import boto3; boto3.client('dynamodb')`, both measured in this run, on the "
             "layer's locked packages only"]
    if instr:
        lines.append("baseline: " + ", ".join(f"{m} {instr[m]['baseline'] / 1e6:.0f} M instructions" for m in MODES)
                     + " (Valgrind Ir, less an interpreter importing nothing)")
    else:
        lines.append("valgrind not installed: no instruction counts, goals judged on wall time (noisy)")
    lines.append("baseline: " + ", ".join(f"{m} {secs[m]['baseline'] * 1000:.0f} ms" for m in MODES)
                 + f" wall (median of {RUNS} fresh interpreters)")
    lines.append(f"{'':<20} {'instructions':^15} {'wall':^15}")
    lines.append(f"{'function':<20} {'source':>7} {'bytec':>7} {'source':>7} {'bytec':>7}  goal (bytecode)")
    judged = instr or secs
    for name in functions():
        ratio = {(k, m): fig[m][name] / fig[m]["baseline"] for k, fig in (("i", instr), ("s", secs)) if fig
                 for m in MODES}
        cells = [f"{ratio[(k, m)]:6.2f}x" if (k, m) in ratio else f"{'-':>7}" for k in "is" for m in MODES]
        goal = goal_of(name)
        deployed = judged[DEPLOYED][name] / judged[DEPLOYED]["baseline"]
        verdict = "-" if goal is None else f"≤{goal:.2f} " + ("ok" if deployed <= goal else "MISSED")
        lines.append(f"{name:<20} {' '.join(cells)}  {verdict}")
    if elapsed is not None:
        lines.append(f"({elapsed:.0f} s)")
    return lines


def run(ctx) -> list[str]:
    started = time.monotonic()
    figures = measure()
    return report(figures, time.monotonic() - started)


if __name__ == "__main__":
    print("\n".join(run(None)))
