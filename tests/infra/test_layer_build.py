"""The layer is built without Docker, for the Lambda target, without what the runtime provides."""

from __future__ import annotations

import json
import re

import pytest

from infra.layer_build import (
    BUILD_DIR,
    LAMBDA_UNZIPPED_LIMIT_BYTES,
    LAYER_SOURCE,
    LOCK_FILE,
    ROOT,
    UNUSED_POWERTOOLS_UTILITIES,
    _requirement_name,
    build_layer,
    locked_requirements,
    read_lock,
    runtime_dependencies,
)

# The layer must stay small enough to load fast and leave room for the functions (Lambda's limit is 250 MB).
# The 25 MB, read strictly: decimal megabytes (25 MiB would allow 1.2 MB more).
LAYER_BUDGET_BYTES = 25_000_000
CPYTHON_313_MAGIC = 3571  # importlib.util.MAGIC_NUMBER of CPython 3.13

pytestmark = pytest.mark.infra


def test_dependencies_come_from_pyproject_without_boto():
    deps = runtime_dependencies()
    assert any(d.startswith("aws-lambda-powertools") for d in deps)
    assert any(d.startswith("livekit-api") for d in deps)
    assert not [d for d in deps if d.lower().startswith(("boto3", "botocore"))]


def test_layer_contents_fit_the_lambda_target(layer_build):
    site = layer_build.path / "python"
    assert layer_build.with_dependencies
    assert (site / "aws_lambda_powertools").is_dir()
    assert (site / "livekit" / "api").is_dir()
    assert (site / "pynamodb").is_dir()
    # compiled wheels are for Linux arm64 and CPython 3.13
    (core,) = (site / "pydantic_core").glob("_pydantic_core*.so")
    assert "cpython-313-aarch64-linux-gnu" in core.name
    # provided by the Lambda runtime, so not shipped
    for provided in ("boto3", "botocore", "s3transfer"):
        assert not (site / provided).exists()
        assert not list(site.glob(f"{provided}-*.dist-info"))
    if (LAYER_SOURCE / "rooms").is_dir():
        assert (site / "rooms" / "__init__.py").is_file()
    assert 0 < layer_build.size_bytes < LAMBDA_UNZIPPED_LIMIT_BYTES
    print(f"rooms layer: {layer_build.size_mib:.1f} MiB unzipped")


def test_layer_ships_unchecked_hash_bytecode_for_3_13(layer_build):
    """/opt is read-only: without bytecode every cold start compiles every module from source."""
    site = layer_build.path / "python"
    sources = [p for p in site.rglob("*.py") if "__pycache__" not in p.parts]
    assert sources
    missing = [p for p in sources if not (p.parent / "__pycache__" / f"{p.stem}.cpython-313.pyc").is_file()]
    assert missing == []
    for pyc in [
        site / "rooms" / "__pycache__" / "settings.cpython-313.pyc",
        site / "pydantic" / "__pycache__" / "main.cpython-313.pyc",
    ]:
        header = pyc.read_bytes()[:16]
        assert int.from_bytes(header[:2], "little") == CPYTHON_313_MAGIC and header[2:4] == b"\r\n"
        flags = int.from_bytes(header[4:8], "little")
        assert flags == 0b01  # hash-based, check_source off: unchecked-hash
    # code objects name the files where Lambda mounts the layer
    settings_pyc = site / "rooms" / "__pycache__" / "settings.cpython-313.pyc"
    assert b"/opt/python/rooms/settings.py" in settings_pyc.read_bytes()


def test_layer_with_bytecode_is_within_budget(layer_build):
    assert layer_build.size_bytes <= LAYER_BUDGET_BYTES, f"{layer_build.size_mib:.1f} MiB unzipped"


def test_pruned_powertools_utilities_are_gone_and_nothing_shipped_imports_them(layer_build):
    site = layer_build.path / "python"
    utilities = site / "aws_lambda_powertools" / "utilities"
    assert (utilities / "batch").is_dir() and (utilities / "parser").is_dir()
    for name in UNUSED_POWERTOOLS_UTILITIES:
        assert not (utilities / name).exists(), name
    pattern = re.compile(
        rb"aws_lambda_powertools\.utilities(?:\.|\s+import\s+[\w, ]*\b)("
        + "|".join(UNUSED_POWERTOOLS_UTILITIES).encode()
        + rb")\b"
    )
    importers = [str(p.relative_to(site)) for p in site.rglob("*.py") if pattern.search(p.read_bytes())]
    assert importers == []
    # the service's own code does not use them either
    ours = [p for root in (ROOT / "layers" / "rooms" / "python", ROOT / "functions") for p in root.rglob("*.py")]
    assert [str(p) for p in ours if pattern.search(p.read_bytes())] == []


def test_lock_pins_every_dependency_with_a_hash():
    lock = read_lock(runtime_dependencies())  # raises when older than pyproject.toml
    pins = locked_requirements(lock)
    for requirement in runtime_dependencies():
        assert _requirement_name(requirement) in pins, requirement
        exact = re.search(r"==([^,;\s]+)$", requirement)
        if exact:
            assert pins[_requirement_name(requirement)] == exact.group(1), requirement
    for line in lock.splitlines():
        if line and not line.startswith("#"):
            assert re.fullmatch(r"[a-z0-9-]+==\S+ --hash=sha256:[0-9a-f]{64}", line), line
    assert not {"boto3", "botocore", "s3transfer"} & set(pins)  # the Lambda runtime provides them


def test_resolved_versions_are_in_the_asset_hash(layer_build):
    stamp = json.loads((BUILD_DIR / "layer.stamp.json").read_text())
    assert stamp["locked"] == locked_requirements(LOCK_FILE.read_text())
    installed = {
        re.sub(r"[-_.]+", "-", d.name.split("-")[0]).lower(): d.name.split("-")[1].removesuffix(".dist")
        for d in (layer_build.path / "python").glob("*.dist-info")
    }
    assert installed == stamp["locked"]  # the layer holds exactly what the lock says


def test_lock_change_changes_the_asset_hash():
    from infra import layer_build as lb

    lock = LOCK_FILE.read_text()
    assert lb._dependencies_stamp(lock) != lb._dependencies_stamp(lock.replace("==", "==0", 1))


def test_second_build_reuses_the_installed_dependencies(layer_build):
    again = build_layer()
    assert not again.rebuilt_dependencies
    assert again.asset_hash == layer_build.asset_hash
    assert again.size_bytes == layer_build.size_bytes


def test_asset_hash_is_the_lock_and_the_sources(layer_build, monkeypatch, tmp_path):
    """build_layer's own asset hash (what CDK uploads by) follows the lock's resolved versions, and nothing
    else of the install: an empty build from the same lock has the same hash, one from another lock not."""
    from infra import layer_build as lb

    for step in ("_install_dependencies", "_prune", "compile_bytecode"):
        monkeypatch.setattr(lb, step, lambda *args, **kwargs: None)
    same = lb.build_layer(tmp_path / "same", force=True)
    lock = LOCK_FILE.read_text()
    bumped = lock.replace("pydantic==", "pydantic==0", 1)
    assert bumped != lock
    monkeypatch.setattr(lb, "read_lock", lambda dependencies: bumped)
    other = lb.build_layer(tmp_path / "other", force=True)
    assert same.asset_hash == layer_build.asset_hash
    assert other.asset_hash != layer_build.asset_hash


def test_the_template_uploads_the_layer_by_that_hash(dev, layer_build):
    import hashlib

    (layer,) = dev.resources("AWS::Lambda::LayerVersion").values()
    # a custom asset hash is what CDK names the asset by (it hashes it once more: sha256 of the text)
    expected = hashlib.sha256(layer_build.asset_hash.encode()).hexdigest()
    assert layer["Properties"]["Content"]["S3Key"] == f"{expected}.zip"
