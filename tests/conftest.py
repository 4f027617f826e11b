"""Shared fixtures. The local stack (moto server + LiveKit emulator + gateway) starts once per
test session on free ports, so tests run beside a developer's own `rooms up`."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture(scope="session")
def stack():
    from rooms_local.config import LocalConfig
    from rooms_local.stack import LocalStack

    config = LocalConfig(table_name=f"rooms-test-{uuid.uuid4().hex[:6]}").with_free_ports()
    with LocalStack(config) as running:
        yield running
