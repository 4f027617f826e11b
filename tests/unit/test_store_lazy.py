"""``rooms.store`` loads its modules on first use. Every name it exports resolves, and a query that can read
entities of other store modules makes pynamodb know every kind it may get back, in a fresh interpreter
(as a Lambda imports it), not only in a test process where everything happens to be imported."""

from __future__ import annotations

import json
import subprocess
import sys

import rooms.store as store

_KINDS = """
import importlib, json, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
from rooms.store.table import TableItem
print(json.dumps(sorted(TableItem._get_discriminator_attribute()._discriminator_map)))
"""


def _kinds_after_importing(*modules: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", _KINDS, *modules], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_every_exported_name_resolves_from_its_module():
    for module, names in store.EXPORTS.items():
        assert module in store.SUBMODULES
        for name in names:
            assert getattr(store, name) is getattr(getattr(store, module), name), name
    assert all(hasattr(store, name) for name in store.__all__)


def test_a_room_partition_read_knows_every_kind():
    every = _kinds_after_importing(*(f"rooms.store.{m}" for m in store.SUBMODULES))
    assert {"room", "member", "attendance_segment", "recording", "audit", "retention", "dial_out"} <= every
    assert _kinds_after_importing("rooms.store.users") == every


def test_a_due_index_read_knows_what_the_index_holds():
    assert {"room", "retention", "dial_out"} <= _kinds_after_importing("rooms.store.due")


def test_the_token_path_loads_only_the_store_modules_it_uses():
    out = subprocess.run([sys.executable, "-c", "import sys, rooms.room.join; print(sorted(sys.modules))"],
                         capture_output=True, text=True, check=True).stdout
    for unused in ("rooms.store.recordings", "rooms.store.retention", "rooms.store.users", "rooms.store.due",
                   "rooms.attendance.models"):
        assert f"'{unused}'" not in out, unused
