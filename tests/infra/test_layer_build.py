"""The layer is built without Docker, for the Lambda target, without what the runtime provides."""

from __future__ import annotations

import pytest

from infra.layer_build import (
    LAMBDA_UNZIPPED_LIMIT_BYTES,
    LAYER_SOURCE,
    build_layer,
    runtime_dependencies,
)

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
    # compiled wheels are for Linux arm64 and CPython 3.11
    (core,) = (site / "pydantic_core").glob("_pydantic_core*.so")
    assert "cpython-311-aarch64-linux-gnu" in core.name
    # provided by the Lambda runtime, so not shipped
    for provided in ("boto3", "botocore", "s3transfer"):
        assert not (site / provided).exists()
        assert not list(site.glob(f"{provided}-*.dist-info"))
    assert not list(site.rglob("__pycache__"))
    if (LAYER_SOURCE / "rooms").is_dir():
        assert (site / "rooms" / "__init__.py").is_file()
    assert 0 < layer_build.size_bytes < LAMBDA_UNZIPPED_LIMIT_BYTES
    print(f"rooms layer: {layer_build.size_mib:.1f} MiB unzipped")


def test_second_build_reuses_the_installed_dependencies(layer_build):
    again = build_layer()
    assert not again.rebuilt_dependencies
    assert again.asset_hash == layer_build.asset_hash
    assert again.size_bytes == layer_build.size_bytes
