"""SnapStart (infra -c snapStart=true): restored copies must not share the `random` module's state."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from rooms import observability


class FakeRuntimeHooks:
    """The Lambda runtime's snapshot_restore_py interface (register_before_snapshot/after_restore)."""

    def __init__(self) -> None:
        self.after_restore: list = []

    def register_after_restore(self, func, *args, **kwargs) -> None:
        self.after_restore.append(func)


def test_random_is_reseeded_after_restore():
    hooks = FakeRuntimeHooks()
    assert observability.register_snapshot_hooks(hooks) is True
    assert hooks.after_restore == [random.seed]


def test_outside_lambda_there_is_nothing_to_register():
    assert observability.register_snapshot_hooks() is False  # no snapshot_restore_py here


# What a SnapStart function's init (importing its handler, as Lambda does before the snapshot) registers
# with the runtime and what it reaches outside the process: the hook must be registered by init itself,
# and no AWS client (credentials, connections) or socket may exist yet, or every restored copy shares it.
_INIT_PROBE = """
import importlib.util, json, socket, sys, types

registered = []
hooks = types.ModuleType("snapshot_restore_py")
def _named(f):
    return f"{f.__module__}.{f.__qualname__}"
hooks.register_before_snapshot = lambda f, *a, **k: registered.append(["before_snapshot", _named(f)])
hooks.register_after_restore = lambda f, *a, **k: registered.append(["after_restore", _named(f)])
sys.modules["snapshot_restore_py"] = hooks

import botocore.session
clients = []
_create = botocore.session.Session.create_client
def create_client(self, service_name, *a, **k):
    clients.append(service_name)
    return _create(self, service_name, *a, **k)
botocore.session.Session.create_client = create_client
connects = []
_connect = socket.socket.connect
def connect(self, address):
    connects.append(repr(address))
    return _connect(self, address)
socket.socket.connect = connect

spec = importlib.util.spec_from_file_location("handler", sys.argv[1])
module = importlib.util.module_from_spec(spec); sys.modules["handler"] = module; spec.loader.exec_module(module)
print(json.dumps({"registered": registered, "clients": clients, "connects": connects}))
"""

ROOT = Path(__file__).resolve().parents[2]
# SnapStart is offered for the HTTP API's functions (infra: FunctionSpec.user_facing): those of routes.json
USER_FACING = sorted(json.loads((ROOT / "functions" / "routes.json").read_text()))


def _init_of(function: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _INIT_PROBE, str(ROOT / "functions" / function / "handler.py")],
        capture_output=True, text=True, check=True,
        env={"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "true"},
    )
    return json.loads(out.stdout.splitlines()[-1])


@pytest.mark.parametrize("function", USER_FACING)
def test_init_registers_the_reseed_and_snapshots_no_client(function):
    init = _init_of(function)
    assert ["after_restore", "random.Random.seed"] in init["registered"]
    assert init["clients"] == []  # boto3/botocore clients (and their credentials) come on the first request
    assert init["connects"] == []


def test_the_probe_sees_a_client_made_at_import(tmp_path):
    handler = tmp_path / "probe_fn" / "handler.py"
    handler.parent.mkdir()
    handler.write_text("import boto3\nboto3.client('s3', region_name='us-east-1')\n")
    out = subprocess.run(
        [sys.executable, "-c", _INIT_PROBE, str(handler)], capture_output=True, text=True, check=True,
        env={"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1",
             "AWS_ACCESS_KEY_ID": "AKIATEST", "AWS_SECRET_ACCESS_KEY": "test"},  # no IMDS lookup
    )
    init = json.loads(out.stdout.splitlines()[-1])
    assert init == {"registered": [], "clients": ["s3"], "connects": []}
