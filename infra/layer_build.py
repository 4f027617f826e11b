"""Build the `rooms` Lambda layer without Docker.

The layer asset is a directory laid out as Lambda expects (`python/...` lands on `/opt/python`):

    layers/rooms/build/layer/python/rooms/...        the shared package (copied on every build)
    layers/rooms/build/layer/python/<third party>    the runtime dependencies of pyproject.toml

The third-party part is installed by pip for the Lambda target (CPython 3.11 on arm64, manylinux wheels
only), so the build runs on any machine with network access to the package index, no Docker. It is the
slow part, so it is cached: a stamp records what it was built from (dependency list, platform, Python
version, exclusions) and pip runs again only when that changes. boto3/botocore/s3transfer are removed
after the install because the Lambda runtime provides them (some of our dependencies pull botocore in
transitively).

CLI:  python -m infra.layer_build [--force] [--no-deps]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
LAYER_SOURCE = ROOT / "layers" / "rooms" / "python"
BUILD_DIR = ROOT / "layers" / "rooms" / "build"

# The Lambda target. Keep in step with the runtime/architecture in infra/constructs/functions.py.
PLATFORM = "manylinux2014_aarch64"
IMPLEMENTATION = "cp"
PYTHON_VERSION = "3.11"

# Distributions the Lambda Python runtime already provides; shipping them would only add ~25 MB and
# shadow the runtime's own copy.
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer"})

# Bump when the build procedure changes in a way that must invalidate cached builds.
BUILD_RECIPE_VERSION = "1"

LAMBDA_UNZIPPED_LIMIT_BYTES = 250 * 1024 * 1024


@dataclass(frozen=True)
class LayerBuild:
    path: Path  # the asset directory (contains `python/`)
    size_bytes: int  # unzipped size of the whole layer
    asset_hash: str  # content identity of the asset, for the CDK asset hash
    rebuilt_dependencies: bool
    with_dependencies: bool

    @property
    def size_mib(self) -> float:
        return self.size_bytes / (1024 * 1024)


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if not match:
        raise ValueError(f"cannot parse requirement {requirement!r}")
    return _canonical(match.group(1))


def runtime_dependencies(pyproject: Path = PYPROJECT) -> list[str]:
    """`[project].dependencies` of pyproject.toml, minus what the Lambda runtime provides."""
    with pyproject.open("rb") as f:
        project = tomllib.load(f)["project"]
    return [req for req in project.get("dependencies", []) if _requirement_name(req) not in RUNTIME_PROVIDED]


def _dependencies_stamp(dependencies: list[str]) -> str:
    recipe = {
        "dependencies": dependencies,
        "platform": PLATFORM,
        "implementation": IMPLEMENTATION,
        "python_version": PYTHON_VERSION,
        "excluded": sorted(RUNTIME_PROVIDED),
        "recipe": BUILD_RECIPE_VERSION,
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()


def _tree_hash(root: Path) -> str:
    digest = hashlib.sha256()
    if root.exists():
        for path in sorted(root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                digest.update(path.relative_to(root).as_posix().encode())
                digest.update(b"\0")
                digest.update(path.read_bytes())
    return digest.hexdigest()


def _tree_size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def _remove_distribution(site: Path, dist_info: Path) -> None:
    """Remove an installed distribution using its RECORD (the files pip says it installed)."""
    record = dist_info / "RECORD"
    if record.exists():
        for line in record.read_text().splitlines():
            rel = line.split(",", 1)[0]
            if not rel:
                continue
            target = (site / rel).resolve()
            if site.resolve() in target.parents and target.is_file():
                target.unlink()
    shutil.rmtree(dist_info, ignore_errors=True)
    # Drop package directories the removal left empty.
    for directory in sorted((p for p in site.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        if not any(directory.iterdir()):
            directory.rmdir()


def _prune(site: Path) -> None:
    for dist_info in site.glob("*.dist-info"):
        name = _canonical(dist_info.name.split("-", 1)[0])
        if name in RUNTIME_PROVIDED:
            _remove_distribution(site, dist_info)
    for cache in list(site.rglob("__pycache__")):
        shutil.rmtree(cache, ignore_errors=True)
    # console scripts of the dependencies are useless in a layer
    shutil.rmtree(site / "bin", ignore_errors=True)


def _install_dependencies(dependencies: list[str], target: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--platform",
        PLATFORM,
        "--implementation",
        IMPLEMENTATION,
        "--python-version",
        PYTHON_VERSION,
        "--only-binary=:all:",
        "--target",
        str(target),
        *dependencies,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise RuntimeError(
            "pip could not install the layer dependencies for the Lambda target "
            f"({PLATFORM}, CPython {PYTHON_VERSION}).\n{result.stderr[-4000:]}\n"
            "Without access to the package index, synthesize with `-c layerDependencies=false` "
            "(a layer with the rooms package only; not for deployment)."
        )


def _sync_package(site: Path) -> None:
    """Copy the shared package(s) under layers/rooms/python into the asset, replacing older copies."""
    if not LAYER_SOURCE.exists():
        return
    for entry in LAYER_SOURCE.iterdir():
        if entry.name == "__pycache__" or entry.name.startswith("."):
            continue
        target = site / entry.name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        if entry.is_dir():
            shutil.copytree(entry, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(entry, target)


def build_layer(
    build_dir: Path = BUILD_DIR,
    *,
    with_dependencies: bool = True,
    force: bool = False,
) -> LayerBuild:
    """Build (or refresh) the layer asset directory and return where it is and how big it is."""
    build_dir.mkdir(parents=True, exist_ok=True)
    asset = build_dir / ("layer" if with_dependencies else "layer-nodeps")
    site = asset / "python"
    stamp_file = build_dir / (asset.name + ".stamp.json")

    dependencies = runtime_dependencies() if with_dependencies else []
    deps_stamp = _dependencies_stamp(dependencies)
    previous = json.loads(stamp_file.read_text()) if stamp_file.exists() else {}
    rebuild = force or previous.get("dependencies_stamp") != deps_stamp or not site.exists()

    if rebuild:
        if asset.exists():
            shutil.rmtree(asset)
        with tempfile.TemporaryDirectory(dir=build_dir, prefix=".pip-") as tmp:
            staged = Path(tmp) / "python"
            staged.mkdir()
            if dependencies:
                _install_dependencies(dependencies, staged)
                _prune(staged)
            asset.mkdir()
            os.replace(staged, site)

    _sync_package(site)
    package_hash = _tree_hash(LAYER_SOURCE)
    size = _tree_size(asset)
    stamp_file.write_text(
        json.dumps(
            {"dependencies_stamp": deps_stamp, "dependencies": dependencies, "size_bytes": size}, indent=2
        )
    )
    if size > LAMBDA_UNZIPPED_LIMIT_BYTES:
        raise RuntimeError(f"layer is {size} bytes unzipped, over Lambda's 250 MB limit")
    return LayerBuild(
        path=asset,
        size_bytes=size,
        asset_hash=hashlib.sha256(f"{deps_stamp}:{package_hash}".encode()).hexdigest(),
        rebuilt_dependencies=rebuild,
        with_dependencies=with_dependencies,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the rooms Lambda layer (no Docker).")
    parser.add_argument("--force", action="store_true", help="reinstall the dependencies")
    parser.add_argument("--no-deps", action="store_true", help="only the rooms package (offline)")
    args = parser.parse_args(argv)
    build = build_layer(with_dependencies=not args.no_deps, force=args.force)
    state = "rebuilt" if build.rebuilt_dependencies else "dependencies cached"
    print(f"layer at {build.path.relative_to(ROOT)} ({state}): {build.size_mib:.1f} MiB unzipped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
