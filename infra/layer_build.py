"""Build the `rooms` Lambda layer without Docker.

The layer asset is a directory laid out as Lambda expects (`python/...` lands on `/opt/python`):

    layers/rooms/build/layer/python/rooms/...        the shared package (copied on every build)
    layers/rooms/build/layer/python/<third party>    the runtime dependencies of pyproject.toml

The third-party part is installed by pip for the Lambda target (CPython 3.13 on arm64, manylinux wheels
only), so the build runs on any machine with network access to the package index, no Docker. What it
installs is locked: `layers/rooms/requirements.lock` pins every distribution (transitive ones too) to one
version and the sha256 of its wheel for that target, and pip installs it with `--require-hashes --no-deps`.
The lock is generated from pyproject.toml's dependencies by pip's own resolver (`pip install --dry-run
--report`, for the Lambda platform) with `--lock`; the build refuses a lock that is older than pyproject.
boto3/botocore/s3transfer are left out of the lock (the Lambda runtime provides them; some of our
dependencies pull botocore in transitively).

The layer ships bytecode: `/opt` is read-only on Lambda, so without it every cold start compiles every
module from source. It is compiled by a CPython 3.13 (`compileall --invalidation-mode unchecked-hash`:
no source stat on import; the sources are immutable in a layer) with paths as Lambda sees them
(`/opt/python/...`).

The third-party install is the slow part, so it is cached: a stamp records what it was built from (the
lock's content, platform, Python version, recipe) and pip runs again only when that changes. The asset
hash is that stamp plus the hash of the `rooms` sources, so the resolved versions are part of it.

CLI:  python -m infra.layer_build [--force] [--no-deps] [--lock]
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
PYTHON_VERSION = "3.13"
LOCK_FILE = ROOT / "layers" / "rooms" / "requirements.lock"
# Where the layer's python/ directory is on Lambda: compiled code objects carry these paths.
LAMBDA_SITE = "/opt/python"

# Distributions the Lambda Python runtime already provides (boto3 and its dependencies); shipping them
# would only add ~27 MB and shadow the runtime's own copy.
RUNTIME_PROVIDED = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"}
)

# Powertools utilities the service never imports, and that no other Powertools module we ship imports
# (tests/infra/test_layer_build.py checks both): about 1 MB with their bytecode. `parser` stays, because
# `utilities.batch` imports its models whenever pydantic is loaded.
UNUSED_POWERTOOLS_UTILITIES = (
    "auth_alpha",
    "circuit_breaker",
    "data_masking",
    "feature_flags",
    "idempotency",
    "kafka",
    "streaming",
)

# Files no import ever reads at runtime: type stubs, C/Cython sources, test helpers, and Powertools'
# Swagger UI assets (served only by `enable_swagger`, which the service never calls).
PRUNED_GLOBS = (
    "*-stubs",
    "**/*.pyi",
    "**/*.c",
    "**/*.h",
    "**/*.pyx",
    "**/*.pxd",
    "multidict/_testcapi*.so",
    "aws_lambda_powertools/event_handler/openapi/swagger_ui/*.js",
    "aws_lambda_powertools/event_handler/openapi/swagger_ui/*.css",
    "pydantic/v1",  # pydantic 2 ships the whole v1 API beside it; nothing here imports pydantic.v1
    *(f"aws_lambda_powertools/utilities/{name}" for name in UNUSED_POWERTOOLS_UTILITIES),
)
# Shared objects keep their symbol tables but drop debug info (some wheels ship it: aiohttp's parser is
# 3.4 MB with it, 0.5 MB without). llvm-strip handles aarch64 ELF on any host.
STRIP_TOOLS = ("llvm-strip", "aarch64-linux-gnu-strip")

# Bump when the build procedure changes in a way that must invalidate cached builds.
BUILD_RECIPE_VERSION = "2"  # 2: locked and hashed install, bytecode

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


def _dependencies_stamp(lock_text: str) -> str:
    recipe = {
        "lock": lock_text,  # every resolved version and wheel hash
        "platform": PLATFORM,
        "implementation": IMPLEMENTATION,
        "python_version": PYTHON_VERSION,
        "excluded": sorted(RUNTIME_PROVIDED),
        "pruned": list(PRUNED_GLOBS),
        "stripped": strip_tool() is not None,
        "recipe": BUILD_RECIPE_VERSION,
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()


# --- the lock ---------------------------------------------------------------------------------------------


def _inputs_digest(dependencies: list[str]) -> str:
    """What the lock was resolved from: the dependency list and the target."""
    inputs = {"dependencies": dependencies, "platform": PLATFORM, "python_version": PYTHON_VERSION}
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


_INPUTS_LINE = "# inputs: "


def resolve_lock(dependencies: list[str]) -> str:
    """The lock text for `dependencies` on the Lambda target, resolved by pip (no install)."""
    with tempfile.TemporaryDirectory(prefix="rooms-lock-") as tmp:
        report = Path(tmp) / "report.json"
        command = [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--dry-run", "--ignore-installed", "--report", str(report),
            "--platform", PLATFORM, "--implementation", IMPLEMENTATION, "--python-version", PYTHON_VERSION,
            "--only-binary=:all:", "--target", str(Path(tmp) / "target"), *dependencies,
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        if result.returncode != 0:
            raise RuntimeError(f"pip could not resolve the layer dependencies:\n{result.stderr[-4000:]}")
        installs = json.loads(report.read_text())["install"]
    lines = [
        "# The rooms layer's third-party packages for the Lambda target: generated, do not edit.",
        f"# Regenerate: python -m infra.layer_build --lock   ({PLATFORM}, CPython {PYTHON_VERSION};",
        f"# without {', '.join(sorted(RUNTIME_PROVIDED))}: the Lambda runtime provides them)",
        f"{_INPUTS_LINE}{_inputs_digest(dependencies)}",
    ]
    for item in sorted(installs, key=lambda i: _canonical(i["metadata"]["name"])):
        name = _canonical(item["metadata"]["name"])
        if name in RUNTIME_PROVIDED:
            continue
        sha256 = item["download_info"]["archive_info"]["hashes"]["sha256"]
        lines.append(f"{name}=={item['metadata']['version']} --hash=sha256:{sha256}")
    return "\n".join(lines) + "\n"


def locked_requirements(lock_text: str) -> dict[str, str]:
    """{distribution: version} of a lock."""
    pins = {}
    for line in lock_text.splitlines():
        if line.strip() and not line.startswith("#"):
            requirement = line.split()[0]
            name, _, version = requirement.partition("==")
            pins[_canonical(name)] = version
    return pins


def read_lock(dependencies: list[str], lock_file: Path = LOCK_FILE) -> str:
    """The lock, checked against what it must have been resolved from."""
    if not lock_file.exists():
        raise RuntimeError(f"{lock_file.relative_to(ROOT)} is missing: run `python -m infra.layer_build --lock`")
    text = lock_file.read_text()
    expected = f"{_INPUTS_LINE}{_inputs_digest(dependencies)}"
    if expected not in text.splitlines():
        raise RuntimeError(
            f"{lock_file.relative_to(ROOT)} was not resolved from pyproject.toml's current dependencies "
            "(or for another target): run `python -m infra.layer_build --lock` and commit it"
        )
    return text


def write_lock(lock_file: Path = LOCK_FILE) -> Path:
    lock_file.write_text(resolve_lock(runtime_dependencies()))
    return lock_file


# --- bytecode ---------------------------------------------------------------------------------------------


def target_python() -> str:
    """A CPython of the Lambda runtime's version, to compile the bytecode with (its magic number must match)."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" == PYTHON_VERSION:
        return sys.executable
    candidates = [shutil.which(f"python{PYTHON_VERSION}")]
    pyenv_root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    pattern = f"versions/{PYTHON_VERSION}*/bin/python{PYTHON_VERSION}"
    candidates += sorted(str(p) for p in Path(pyenv_root).glob(pattern))
    for candidate in candidates:
        if candidate and subprocess.run([candidate, "-c", ""], capture_output=True, check=False).returncode == 0:  # noqa: S603
            return candidate
    raise RuntimeError(
        f"the layer's bytecode must be compiled by CPython {PYTHON_VERSION} (the Lambda runtime): "
        f"none found (python{PYTHON_VERSION} on PATH or in pyenv)"
    )


def compile_bytecode(site: Path, directories: list[Path] | None = None) -> None:
    """compileall with unchecked-hash pycs; code objects name /opt/python/... (where Lambda mounts it)."""
    targets = [str(d) for d in (directories or [site])]
    command = [
        target_python(), "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash",
        "-s", str(site), "-p", LAMBDA_SITE, *targets,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise RuntimeError(f"compileall failed:\n{result.stdout[-4000:]}{result.stderr[-4000:]}")


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
    for pattern in PRUNED_GLOBS:
        for path in list(site.glob(pattern)):
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    _strip_shared_objects(site)


def strip_tool() -> str | None:
    return next((tool for tool in map(shutil.which, STRIP_TOOLS) if tool), None)


def _strip_shared_objects(site: Path) -> None:
    tool = strip_tool()
    if tool is None:
        print(f"warning: none of {', '.join(STRIP_TOOLS)} found: shared objects keep their debug info", file=sys.stderr)
        return
    objects = sorted(str(p) for p in site.rglob("*.so"))
    if objects:
        subprocess.run([tool, "--strip-debug", *objects], check=True, capture_output=True)  # noqa: S603


def _install_dependencies(lock_text: str, target: Path) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as requirements:
        requirements.write(lock_text)
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
        "--require-hashes", "--no-deps",
        "--platform", PLATFORM, "--implementation", IMPLEMENTATION, "--python-version", PYTHON_VERSION,
        "--only-binary=:all:", "--target", str(target), "-r", requirements.name,
    ]  # fmt: skip
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    finally:
        os.unlink(requirements.name)
    if result.returncode != 0:
        raise RuntimeError(
            "pip could not install the layer dependencies for the Lambda target "
            f"({PLATFORM}, CPython {PYTHON_VERSION}).\n{result.stderr[-4000:]}\n"
            "Without access to the package index, synthesize with `-c layerDependencies=false` "
            "(a layer with the rooms package only; not for deployment)."
        )


def _sync_package(site: Path) -> list[Path]:
    """Copy the shared package(s) under layers/rooms/python into the asset, replacing older copies."""
    copied: list[Path] = []
    if not LAYER_SOURCE.exists():
        return copied
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
        copied.append(target)
    return copied


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
    lock_text = read_lock(dependencies) if with_dependencies else ""
    deps_stamp = _dependencies_stamp(lock_text)
    previous = json.loads(stamp_file.read_text()) if stamp_file.exists() else {}
    rebuild = force or previous.get("dependencies_stamp") != deps_stamp or not site.exists()

    if rebuild:
        if asset.exists():
            shutil.rmtree(asset)
        with tempfile.TemporaryDirectory(dir=build_dir, prefix=".pip-") as tmp:
            staged = Path(tmp) / "python"
            staged.mkdir()
            if dependencies:
                _install_dependencies(lock_text, staged)
                _prune(staged)
                compile_bytecode(staged)
            asset.mkdir()
            os.replace(staged, site)

    copied = _sync_package(site)
    if copied:
        compile_bytecode(site, copied)
    package_hash = _tree_hash(LAYER_SOURCE)
    size = _tree_size(asset)
    stamp_file.write_text(
        json.dumps(
            {
                "dependencies_stamp": deps_stamp,
                "dependencies": dependencies,
                "locked": locked_requirements(lock_text),
                "size_bytes": size,
            },
            indent=2,
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
    parser.add_argument("--lock", action="store_true", help=f"re-resolve {LOCK_FILE.relative_to(ROOT)} first")
    args = parser.parse_args(argv)
    if args.lock:
        print(f"wrote {write_lock().relative_to(ROOT)}")
    build = build_layer(with_dependencies=not args.no_deps, force=args.force)
    state = "rebuilt" if build.rebuilt_dependencies else "dependencies cached"
    print(f"layer at {build.path.relative_to(ROOT)} ({state}): {build.size_mib:.1f} MiB unzipped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
