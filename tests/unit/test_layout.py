"""The package map, enforced: a static scan of every import in the layer and the functions.

- a capability package (room, attendance, recordings, phone) never imports the packages that cross
  capabilities: ``rooms.lifecycle`` (a room's life: ending, the sweeper, booking) and ``rooms.evidence``
  (export, retention, erasure: it reads attendance, recordings and the room together), nor
  ``rooms.webhooks``, which routes into lifecycle (except for typing);
- ``rooms.evidence`` never imports ``rooms.lifecycle`` (lifecycle calls evidence: retention is scheduled
  when a room ends and swept by the sweeper, so the dependency runs one way);
- only ``rooms.livekit_gateway`` imports ``livekit`` (or protobuf, its message vocabulary);
- only ``rooms.store`` imports ``pynamodb``, and the store imports no domain package;
- a function never imports another function;
- only the store builds DynamoDB expressions (``RoomItem.status.set(...)``): the domain says what it
  wants (``store.recordings.mark_recording_uploaded(...)``).
- settings are passed in: only the owners of outside systems (``SETTINGS_READERS``) call
  ``get_settings()`` in the layer; the functions read them once and hand them to the domain.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "rooms" / "python"
FUNCTIONS = ROOT / "functions"
CAPABILITIES = ("room", "attendance", "recordings", "phone")
CROSSING = ("lifecycle", "evidence")  # packages that read across capabilities
STORE_MAY_IMPORT = ("rooms.store", "rooms.settings", "rooms.clock", "rooms.room.status")  # status: a leaf vocabulary


@dataclass(frozen=True)
class Import:
    where: str  # importing module, dotted ("rooms.room.join", "functions.issue_token.handler")
    module: str  # imported module, dotted
    line: int
    typing_only: bool


def _module_name(path: Path) -> str:
    if path.is_relative_to(LAYER):
        parts = path.relative_to(LAYER).with_suffix("").parts
    else:
        parts = ("functions", *path.relative_to(FUNCTIONS).with_suffix("").parts)
    return ".".join(p for p in parts if p != "__init__")


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(source: str, where: str) -> list[Import]:
    """Every import in ``source`` (at any depth: lazy imports count), marked when only for typing."""
    found: list[Import] = []

    def visit(node: ast.AST, typing_only: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, True)
            for child in node.orelse:
                visit(child, typing_only)
            return
        if isinstance(node, ast.Import):
            found.extend(Import(where, a.name, node.lineno, typing_only) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(Import(where, node.module, node.lineno, typing_only))
            # ``from rooms import lifecycle`` imports the package ``rooms.lifecycle``
            found.extend(Import(where, f"{node.module}.{a.name}", node.lineno, typing_only) for a in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child, typing_only)

    visit(ast.parse(source), False)
    return found


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def violations(imports: list[Import]) -> list[str]:
    """The rules of the map, as messages (empty: the map holds)."""
    out = []
    for imp in imports:
        at = f"{imp.where}:{imp.line} imports {imp.module}"
        capability = next((c for c in CAPABILITIES if _within(imp.where, f"rooms.{c}")), None)
        crossing = next((c for c in CROSSING if _within(imp.module, f"rooms.{c}")), None)
        if capability and crossing:
            out.append(f"{at}: a capability must not import {crossing}")
        if _within(imp.where, "rooms.evidence") and _within(imp.module, "rooms.lifecycle"):
            out.append(f"{at}: evidence must not import lifecycle (lifecycle calls evidence)")
        if capability and _within(imp.module, "rooms.webhooks") and not imp.typing_only:
            out.append(f"{at}: a capability must not import the webhook router (only for typing)")
        vendor = _within(imp.module, "livekit") or _within(imp.module, "google.protobuf")
        if vendor and not _within(imp.where, "rooms.livekit_gateway"):
            out.append(f"{at}: only rooms.livekit_gateway talks to LiveKit")
        if _within(imp.module, "pynamodb") and not _within(imp.where, "rooms.store"):
            out.append(f"{at}: only rooms.store talks to DynamoDB")
        if (_within(imp.where, "rooms.store") and _within(imp.module, "rooms")
                and not any(_within(imp.module, ok) for ok in STORE_MAY_IMPORT)):
            out.append(f"{at}: the store knows no domain package")
        if _within(imp.where, "functions") and _within(imp.module, "functions"):
            out.append(f"{at}: a function never imports another function")
    return out


def _sources() -> list[Path]:
    return sorted((LAYER / "rooms").rglob("*.py")) + sorted(FUNCTIONS.glob("*/*.py"))


def test_the_layer_and_functions_keep_the_package_map():
    imports = [imp for path in _sources() for imp in imports_of(path.read_text(), _module_name(path))]
    assert len(imports) > 200  # the scan did read the code
    assert violations(imports) == []


def test_the_scan_reports_each_kind_of_violation():
    cases = {
        "rooms.attendance.webhooks": "from rooms.lifecycle.ending import close_room\n",
        "rooms.recordings.service": "def f():\n    from rooms import lifecycle\n",
        "rooms.recordings.storage": "from rooms.evidence.retention import schedule_retention\n",
        "rooms.evidence.export": "from rooms.lifecycle.ending import close_room\n",
        "rooms.room.join": "import rooms.webhooks\n",
        "rooms.phone.service": "from livekit import api\n",
        "rooms.attendance.view": "from google.protobuf.json_format import Parse\n",
        "rooms.room.service": "from pynamodb.exceptions import UpdateError\n",
        "rooms.store.rooms": "from rooms.room.models import RoomView\n",
        "functions.issue_token.handler": "from functions.room_query import handler\n",
    }
    missed = [where for where, src in cases.items() if not violations(imports_of(src, where))]
    assert missed == []
    allowed = {
        "rooms.attendance.webhooks": "if TYPE_CHECKING:\n    from rooms.webhooks import WebhookContext\n",
        "rooms.livekit_gateway.webhook": "from livekit.protocol.webhook import WebhookEvent\n",
        "rooms.store.due": "from pynamodb.exceptions import UpdateError\nfrom rooms.clock import iso\n",
        "rooms.lifecycle.ending": "from rooms.attendance.reconcile import close_room_attendance\n",
        "rooms.lifecycle.sweeper": "from rooms.evidence.retention import retention_due\n",
        "rooms.evidence.export": "from rooms.attendance.view import attendance_view\n"
                                 "from rooms.recordings.service import consent_ledger\n",
    }
    assert [v for where, src in allowed.items() for v in violations(imports_of(src, where))] == []


_EXPRESSION_METHODS = {"set", "remove", "add", "delete", "is_in", "does_not_exist", "exists", "contains",
                       "startswith", "between"}
_MODELS = {"RoomItem", "Member", "JoinTokenRecord", "RecordingItem", "ActiveRecording", "EgressLookup",
           "RecordingConsent", "SegmentItem", "TrackItem", "QualityItem", "TemplateOverride", "SipPinLock",
           "DialOutWindow", "DialOutItem", "WebhookEventItem", "PendingBookingEvent", "BookingEventMarker",
           "AuditEntry", "ConsentLedgerEntry", "RetentionItem", "UserRoomLink", "ErasureProof", "TableItem"}


def expressions_outside_store(source: str, where: str) -> list[str]:
    """``Model.attribute.set(...)``-style DynamoDB expressions built outside ``rooms.store``."""
    if _within(where, "rooms.store"):
        return []
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare) and isinstance(node.left, ast.Attribute):  # ``Member.status == x``
            model = node.left.value
            if (model.attr if isinstance(model, ast.Attribute) else getattr(model, "id", None)) in _MODELS:
                found.append(f"{where}:{node.lineno} {ast.unparse(node)}")
            continue
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in _EXPRESSION_METHODS and isinstance(node.func.value, ast.Attribute)):
            continue
        model = node.func.value.value
        name = model.attr if isinstance(model, ast.Attribute) else getattr(model, "id", None)
        if name in _MODELS:
            found.append(f"{where}:{node.lineno} {ast.unparse(node.func)}")
    return found


def test_the_expression_scan_knows_every_store_model():
    from rooms.store.table import TableItem

    def subclasses(cls):
        return {c for s in cls.__subclasses__() for c in {s, *subclasses(s)}}

    assert {c.__name__ for c in subclasses(TableItem)} <= _MODELS


def test_only_the_store_builds_dynamodb_expressions():
    found = [f for path in _sources() for f in expressions_outside_store(path.read_text(), _module_name(path))]
    assert found == []
    assert expressions_outside_store("x = store.RoomItem.status.set('open')\n", "rooms.room.join")
    assert expressions_outside_store("c = RecordingItem.object_error.does_not_exist()\n", "rooms.recordings.upload")
    assert not expressions_outside_store("c = RoomItem.status.is_in('open')\n", "rooms.store.rooms")
    assert expressions_outside_store("c = store.Member.status == 'active'\n", "rooms.attendance.webhooks")
    assert not expressions_outside_store("ok = member.status == 'active'\n", "rooms.attendance.webhooks")


# The owners of outside systems read the settings for where their client connects; everything else is
# given them (handlers read them once and pass them in).
SETTINGS_READERS = ("rooms.settings", "rooms.store.table", "rooms.notify", "rooms.work_queue",
                    "rooms.livekit_gateway.client", "rooms.recordings.storage")


def settings_read_outside_the_owners(source: str, where: str) -> list[str]:
    """Calls of ``get_settings()`` in the layer outside ``SETTINGS_READERS`` (functions may: they are the
    entry points)."""
    if not _within(where, "rooms") or any(where == ok for ok in SETTINGS_READERS):
        return []
    return [f"{where}:{node.lineno} calls get_settings()" for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Call) and (getattr(node.func, "id", None) == "get_settings"
                                               or getattr(node.func, "attr", None) == "get_settings")]


def test_the_domain_is_given_its_settings():
    found = [f for path in _sources() for f in settings_read_outside_the_owners(path.read_text(), _module_name(path))]
    assert found == []
    assert settings_read_outside_the_owners("def f():\n    return get_settings().x\n", "rooms.room.join")
    assert settings_read_outside_the_owners("s = settings or settings_mod.get_settings()\n", "rooms.audit")
    assert not settings_read_outside_the_owners("s = get_settings()\n", "functions.issue_token.handler")
    assert not settings_read_outside_the_owners("s = get_settings()\n", "rooms.store.table")
