"""The pieces that must agree: routes.json ↔ each function's resolver ↔ committed OpenAPI ↔ events/."""

from __future__ import annotations

import json

import pytest

from rooms_local import openapi
from rooms_local.config import EVENTS_DIR
from rooms_local.gateway import WEBHOOK_PATH, Route, load_routes
from rooms_local.lambda_runtime import load_function, routes_manifest


@pytest.mark.parametrize("function", sorted(routes_manifest()))
def test_each_function_serves_exactly_its_manifest_routes(function):
    app = load_function(function).app
    doc = json.loads(app.get_openapi_json_schema())
    served = {f"{method.upper()} {path}" for path, ops in doc["paths"].items() for method in ops}
    assert served == set(routes_manifest()[function])


def test_committed_openapi_document_is_current():
    assert openapi.is_current(), "docs/openapi.json is stale: run `make openapi`"


def test_every_route_has_a_sample_event_and_every_event_names_a_route():
    route_keys = {r.route_key for r in load_routes()}
    event_keys = set()
    for path in EVENTS_DIR.glob("*.json"):
        event = json.loads(path.read_text())
        if event.get("routeKey") == f"POST {WEBHOOK_PATH}":  # LiveKit's route: no authorizer, signed
            assert "authorizer" not in event["requestContext"], path.name
            assert event["headers"]["authorization"], path.name
        elif event.get("version") == "2.0" and event.get("routeKey") is not None:
            assert event["routeKey"] in route_keys, path.name
            assert event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"]
            event_keys.add(event["routeKey"])
    assert route_keys <= event_keys, f"routes without a sample event: {route_keys - event_keys}"


def test_route_matching_prefers_literal_segments():
    routes = [Route.parse("GET /rooms/{room_id}", "a"), Route.parse("GET /rooms/templates", "b")]
    ordered = sorted(routes, key=lambda r: -r.static_segments)
    match = next(r for r in ordered if r.pattern.match("/rooms/templates"))
    assert match.function == "b"
    assert Route.parse("GET /rooms/{room_id}", "a").pattern.match("/rooms/x/y") is None


def test_the_web_app_listens_on_the_topics_the_api_sends_on():
    """The host's message and ask to unmute are data messages on our topics: the reference app's
    listener (webapp/src/lib/hostData.ts) and the API (rooms.attendance) name the same ones."""
    import re
    from pathlib import Path

    from rooms.attendance.host_controls import HOST_REQUEST_TOPIC
    from rooms.attendance.models import HOST_MESSAGE_TOPIC

    source = (Path(__file__).resolve().parents[2] / "webapp/src/lib/hostData.ts").read_text()
    topics = dict(re.findall(r"export const (HOST_\w+_TOPIC) = '([^']+)';", source))
    assert topics == {"HOST_MESSAGE_TOPIC": HOST_MESSAGE_TOPIC, "HOST_REQUEST_TOPIC": HOST_REQUEST_TOPIC}
