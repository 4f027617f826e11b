"""Cold start, held cheaply: each function's import (what Lambda's init does), in a fresh interpreter,
leaves none of the heavy modules its routes do not need in ``sys.modules``. Not timing: what is imported.

The figures themselves (instructions and wall time against boto3) are ``make bench BENCH=cold_start``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ROOT / "functions"

# No function's init needs these: livekit.api (aiohttp and every service client) and the protocol messages
# are imported by the LiveKit gateway on the first call that needs them; the X-Ray SDK only when tracing
# is turned on (ROOMS_TRACING_SDK); pydantic-settings (and python-dotenv) are no longer shipped at all
# (rooms.settings reads the environment itself).
NEVER_AT_INIT = ("livekit", "aiohttp", "google.protobuf", "aws_xray_sdk", "pydantic_settings", "dotenv",
                 # Powertools' other resolvers and event classes (rooms.lazy_imports)
                 "aws_lambda_powertools.event_handler.appsync", "aws_lambda_powertools.event_handler.bedrock_agent",
                 "aws_lambda_powertools.utilities.data_classes.code_pipeline_job_event")
# Only the queue consumer (webhook_worker) reads its events with Powertools' batch utility, which imports
# asyncio; elsewhere asyncio comes with the first LiveKit call.
ONLY_THE_QUEUE_CONSUMER = ("aws_lambda_powertools.utilities.batch", "asyncio")
# What a function's routes never use, so its init must not import it either (capabilities whose models a
# route's response carries, e.g. attendance's SessionVerdict in RoomView, are imported for those models).
_SERVICES = ("rooms.attendance.service", "rooms.attendance.webhooks", "rooms.attendance.host_controls",
             "rooms.attendance.reconcile", "rooms.recordings.service", "rooms.lifecycle.sweeper")
_NOT_HTTP = ("rooms.http", "aws_lambda_powertools.event_handler")
NOT_FOR = {
    "issue_token": (*_SERVICES, "rooms.lifecycle", "rooms.webhooks", "rooms.attendance.view", "rooms.evidence",
                    "rooms.recordings", "rooms.room.membership", "rooms.room.catalog", "rooms.notify"),
    "room_query": (*_SERVICES, "rooms.lifecycle", "rooms.webhooks", "rooms.recordings", "rooms.evidence",
                   "rooms.room.join", "rooms.room.tokens", "rooms.room.membership", "rooms.audit", "rooms.notify"),
    "create_room": (*_SERVICES, "rooms.webhooks", "rooms.room.join", "rooms.room.tokens", "rooms.evidence",
                    "rooms.lifecycle.ending"),  # (a pending cancel imports it when applied)
    "sip_dial": (*_SERVICES, "rooms.lifecycle", "rooms.webhooks", "rooms.recordings", "rooms.attendance.view",
                 "rooms.evidence", "rooms.room.join", "rooms.room.tokens", "rooms.room.membership",
                 "rooms.room.catalog", "rooms.audit"),  # (notify: a dial-out request is an event)
    "dial_out_worker": (*_NOT_HTTP, "rooms.attendance.service", "rooms.attendance.host_controls",
                        "rooms.attendance.reconcile", "rooms.recordings", "rooms.lifecycle", "rooms.webhooks",
                        "rooms.room.join", "rooms.room.tokens", "rooms.evidence", "rooms.room.catalog"),
    "room_control": ("rooms.attendance.webhooks", "rooms.attendance.reconcile", "rooms.lifecycle", "rooms.webhooks",
                     "rooms.phone.service", "rooms.room.join", "rooms.room.tokens", "rooms.room.membership",
                     "rooms.room.catalog"),
    "recording_control": ("rooms.attendance.service", "rooms.attendance.webhooks", "rooms.attendance.host_controls",
                          "rooms.attendance.reconcile", "rooms.attendance.view", "rooms.lifecycle", "rooms.webhooks",
                          "rooms.phone.service", "rooms.room.join", "rooms.room.tokens", "rooms.evidence",
                          "rooms.room.membership", "rooms.room.catalog"),
    "room_admin": ("rooms.attendance.service", "rooms.attendance.webhooks", "rooms.attendance.host_controls",
                   "rooms.attendance.reconcile", "rooms.lifecycle.sweeper", "rooms.lifecycle.booking_events",
                   "rooms.webhooks", "rooms.room.join", "rooms.room.tokens",
                   "rooms.evidence.erasure", "rooms.evidence.export"),  # (the erasure route imports them)
    "webhook_handler": (*_NOT_HTTP, "rooms.attendance.service", "rooms.attendance.host_controls",
                        "rooms.recordings.service", "rooms.lifecycle.sweeper", "rooms.lifecycle.booking_events",
                        "rooms.room.join", "rooms.room.tokens", "rooms.evidence", "rooms.room.membership",
                        "rooms.room.catalog"),
    "webhook_worker": (*_NOT_HTTP, "rooms.attendance.service", "rooms.attendance.host_controls",
                       "rooms.recordings.service", "rooms.lifecycle.sweeper", "rooms.lifecycle.booking_events",
                       "rooms.room.join", "rooms.room.tokens", "rooms.evidence", "rooms.room.catalog"),
    "booking_events": (*_NOT_HTTP, *_SERVICES, "rooms.webhooks", "rooms.room.join", "rooms.room.tokens",
                       "rooms.evidence"),
    "recording_processor": (*_NOT_HTTP, *_SERVICES, "rooms.lifecycle", "rooms.webhooks", "rooms.attendance.view",
                            "rooms.recordings.egress_sync", "rooms.phone.service", "rooms.room.join",
                            "rooms.room.tokens", "rooms.evidence", "rooms.room.membership", "rooms.room.catalog",
                            "rooms.audit"),
    "room_sweeper": (*_NOT_HTTP, "rooms.attendance.service", "rooms.attendance.webhooks",
                     "rooms.attendance.host_controls", "rooms.attendance.reconcile", "rooms.recordings.service",
                     "rooms.lifecycle.booking_events", "rooms.webhooks", "rooms.room.join", "rooms.room.tokens",
                     "rooms.room.membership", "rooms.room.catalog"),
}

_PROBE = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("handler", sys.argv[1])
module = importlib.util.module_from_spec(spec); sys.modules["handler"] = module; spec.loader.exec_module(module)
print(json.dumps(sorted(sys.modules)))
"""


def modules_after_import(function: str) -> set[str]:
    """The modules a fresh interpreter holds after importing ``function``'s handler."""
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, str(FUNCTIONS / function / "handler.py")],
        capture_output=True, text=True, check=True,
        env={"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "true"},
    )
    return set(json.loads(out.stdout.splitlines()[-1]))


def heavy_in(modules: set[str], packages: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in packages))


def test_every_function_is_covered():
    assert set(NOT_FOR) == {p.parent.name for p in FUNCTIONS.glob("*/handler.py")}


@pytest.mark.parametrize("function", sorted(NOT_FOR))
def test_a_function_imports_only_what_its_routes_use(function):
    modules = modules_after_import(function)
    assert "handler" in modules and "rooms.observability" in modules  # the probe did import the function
    assert heavy_in(modules, NEVER_AT_INIT) == []
    assert heavy_in(modules, NOT_FOR[function]) == []


@pytest.mark.parametrize("function", sorted(set(NOT_FOR) - {"webhook_worker"}))
def test_only_the_queue_consumer_imports_the_batch_utility_and_asyncio(function):
    assert heavy_in(modules_after_import(function), ONLY_THE_QUEUE_CONSUMER) == []


def test_the_check_sees_a_heavy_import():
    assert heavy_in({"rooms.clock", "livekit.api.room_service", "livekit"}, NEVER_AT_INIT) == [
        "livekit", "livekit.api.room_service"]
    assert heavy_in({"rooms.recordings.service"}, NOT_FOR["issue_token"]) == ["rooms.recordings.service"]
    assert heavy_in({"pydantic_settings.sources", "rooms.settings"}, NEVER_AT_INIT) == ["pydantic_settings.sources"]
