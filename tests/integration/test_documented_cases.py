"""Each route's documented cases, sent to the running stack, every answer validated against the document.

For each operation of the served OpenAPI document and each documented status a request can produce
here (2xx, 400, 401, 403, 404, 409, 410, 415, 422), the tables below hold a request that produces it;
the test sends it, checks the status, and validates the body against the schema the document gives for
that status (jsonschema, Draft 2020-12: OpenAPI 3.1's dialect). schemathesis (test_schemathesis.py) fuzzes
the same document; this is the explicit list. Statuses not produced here: 503 (LiveKit or DynamoDB down:
tests/unit/test_livekit_faults.py, test_store_unavailable.py, test_converge.py) and 429 (dial-out's rate
limit: test_phone.py). Dial-out (its answer is changing to 202) is left to its own tests.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field

import jsonschema
import pytest
import requests

from rooms_local.livekit_emulator import control

_METHODS = ("get", "put", "post", "delete", "patch")
LONG = "x" * 300  # past what a DynamoDB key holds: 422 naming the path parameter


@dataclass
class Case:
    method: str
    path: str  # the document's template, e.g. /rooms/{room_id}
    status: int
    values: dict = field(default_factory=dict)  # path parameters beyond the room's (see _params)
    as_user: str | None = "admin"  # "admin", a role of the room ("host", "client", "other"), or None
    json: object = None
    data: bytes | None = None
    content_type: str | None = None
    code: str | None = None  # the error code expected


@pytest.fixture(scope="module")
def document(stack):
    return requests.get(f"{stack.config.api_url}/openapi.json", timeout=30).json()


@pytest.fixture(scope="module")
def world(api, stack):
    """A room with a host and a client, its LiveKit room open with both connected, and a second room that
    has ended; ids for things that do not exist."""
    s = uuid.uuid4().hex[:10]
    w = {"host": f"dr-{s}", "client": f"cl-{s}", "other": f"ot-{s}", "booking": f"bk-{s}",
         "ended_booking": f"bke-{s}", "s": s}
    for booking in (w["booking"], w["ended_booking"]):
        r = api.admin("POST", "/rooms", json={"booking_id": booking, "service_type": "therapy",
                                             "host": {"user_id": w["host"], "name": "Dr Who"},
                                             "members": [{"user_id": w["client"], "name": "Clara"}]})
        assert r.status_code == 201, r.text
        w["room" if booking == w["booking"] else "ended_room"] = r.json()["room_id"]
    for user in (w["host"], w["client"]):
        token = api.call("POST", f"/rooms/{w['room']}/token", as_user=user).json()["token"]
        control.join(stack.config.livekit_url, token, publish=["audio"])
    control.drain_webhooks(stack.config.livekit_url)
    assert api.admin("DELETE", f"/rooms/{w['ended_room']}").status_code == 200
    return w


def _params(w: dict, values: dict) -> dict:
    base = {"room_id": w["room"], "user_id": w["client"], "identity": w["client"], "booking_id": w["booking"],
            "recording_id": f"{w['room']}.{'0' * 12}", "service_session_id": f"ss-none-{w['s']}",
            "name": "individual"}
    return {**base, **{k: (w[v[1:]] if isinstance(v, str) and v.startswith("@") else v) for k, v in values.items()}}


# Cases that need the room's state (success and state conflicts); "@key" takes a value of the world.
CASES: list[Case] = [
    # rooms
    Case("post", "/rooms", 201, json={"booking_id": "@new", "service_type": "therapy",
                                      "host": {"user_id": "dr-x"}, "members": []}),
    Case("post", "/rooms", 200, json={"booking_id": "@booking", "service_type": "therapy",
                                      "host": {"user_id": "@host"}, "members": []}),
    Case("post", "/rooms", 422, json={"service_type": "therapy", "host": {"user_id": "dr-x"}}),
    Case("get", "/rooms/{room_id}", 200),
    Case("get", "/rooms/{room_id}", 200, as_user="client"),
    Case("get", "/rooms/{room_id}", 404, values={"room_id": "no-such-room"}, code="room_not_found"),
    Case("get", "/bookings/{booking_id}/room", 200, as_user="host"),
    Case("get", "/bookings/{booking_id}/room", 404, values={"booking_id": "no-such-booking"}),
    Case("get", "/sessions/{service_session_id}/room", 404),
    Case("patch", "/rooms/{room_id}", 200, json={"title": "Renamed"}),
    Case("patch", "/rooms/{room_id}", 409, values={"room_id": "@ended_room"}, json={"title": "Late"}),
    Case("patch", "/rooms/{room_id}", 422, json={"max_participants": 1}),
    Case("delete", "/rooms/{room_id}", 200, values={"room_id": "@ended_room"}),
    Case("post", "/rooms/{room_id}/cancel", 409, values={"room_id": "@ended_room"}, json={"reason": "x"}),
    # members
    Case("put", "/rooms/{room_id}/members/{user_id}", 201, values={"user_id": "@new"}, json={"name": "New"}),
    Case("put", "/rooms/{room_id}/members/{user_id}", 200, values={"user_id": "@client"}, json={"name": "Clara"}),
    Case("put", "/rooms/{room_id}/members/{user_id}", 409, values={"room_id": "@ended_room"}, json={},
         code="room_not_live"),
    Case("delete", "/rooms/{room_id}/members/{user_id}", 404, values={"user_id": "nobody"}, code="member_not_found"),
    # tokens
    Case("post", "/rooms/{room_id}/token", 200, as_user="client"),
    Case("post", "/rooms/{room_id}/token", 200, as_user="host", json={"name": "Dr W"}),
    Case("post", "/rooms/{room_id}/token", 403, as_user="other", code="not_a_member"),
    Case("post", "/rooms/{room_id}/token", 409, values={"room_id": "@ended_room"}, as_user="client",
         code="room_ended"),
    Case("post", "/bookings/{booking_id}/room/token", 200, as_user="client"),
    Case("post", "/bookings/{booking_id}/room/token", 404, values={"booking_id": "no-such-booking"},
         as_user="client"),
    Case("post", "/sessions/{service_session_id}/room/token", 404, as_user="client"),
    # the host's view and controls
    Case("get", "/rooms/{room_id}/participants", 200, as_user="host"),
    Case("get", "/rooms/{room_id}/participants", 403, as_user="client", code="host_only"),
    Case("post", "/rooms/{room_id}/participants/{identity}/mute", 200, as_user="host", json={"track": "audio"}),
    Case("post", "/rooms/{room_id}/participants/{identity}/mute", 404, as_user="host",
         values={"identity": "nobody"}, json={"track": "audio"}),
    Case("post", "/rooms/{room_id}/participants/{identity}/mute", 422, as_user="host", json={}),
    Case("post", "/rooms/{room_id}/participants/{identity}/message", 200, as_user="host", json={"text": "hello"}),
    Case("post", "/rooms/{room_id}/participants/{identity}/admit", 404, as_user="host",
         values={"identity": "nobody"}),
    Case("delete", "/rooms/{room_id}/participants/{identity}", 422, as_user="host", values={"identity": "@host"},
         code="cannot_remove_self"),
    # attendance, audit, evidence
    Case("get", "/rooms/{room_id}/attendance", 200, as_user="host"),
    Case("get", "/rooms/{room_id}/attendance", 200),
    Case("get", "/rooms/{room_id}/attendance/export", 200),
    Case("get", "/rooms/{room_id}/audit", 200),
    Case("post", "/rooms/{room_id}/quality", 201, as_user="client", json={"rtt_ms": 40}),
    Case("post", "/rooms/{room_id}/quality", 422, as_user="client", json={}),
    Case("get", "/rooms/{room_id}/legal-hold", 200),
    Case("put", "/rooms/{room_id}/legal-hold", 200, values={"room_id": "@ended_room"}, json={"reason": "dispute"}),
    Case("put", "/rooms/{room_id}/legal-hold", 422, json={}),
    Case("delete", "/rooms/{room_id}/legal-hold", 200, values={"room_id": "@ended_room"}),
    # recordings
    Case("get", "/rooms/{room_id}/recordings", 200, as_user="host"),
    Case("post", "/rooms/{room_id}/recording-consent", 200, as_user="client"),
    Case("delete", "/rooms/{room_id}/recording-consent", 200, as_user="client"),
    Case("get", "/recordings/{recording_id}/url", 404, as_user="host", code="recording_not_found"),
    Case("delete", "/recordings/{recording_id}", 404, code="recording_not_found"),
    Case("post", "/rooms/{room_id}/recordings/{recording_id}/stop", 404, as_user="host"),
    Case("post", "/rooms/{room_id}/recordings", 409, values={"room_id": "@ended_room"}, as_user="host"),
    # phone
    Case("get", "/rooms/{room_id}/dial-in", 404, as_user="client", code="dial_in_not_enabled"),
    # templates
    Case("get", "/templates", 200),
    Case("put", "/templates/{name}", 422, json={"room_type": "nonsense"}),
    Case("delete", "/templates/{name}", 404, values={"name": "@new_template"}, code="template_not_found"),
]


# A valid body of each route whose body is required: a 403 is answered after the body is validated.
VALID_BODIES = {
    "/rooms": {"booking_id": "@new", "service_type": "therapy", "host": {"user_id": "dr-x"}, "members": []},
    "/rooms/{room_id}": {"title": "Renamed"},
    "/rooms/{room_id}/legal-hold": {"reason": "dispute"},
    "/rooms/{room_id}/members/{user_id}": {"name": "New"},
    "/rooms/{room_id}/participants/{identity}/ask-unmute": {"track": "audio"},
    "/rooms/{room_id}/participants/{identity}/message": {"text": "hello"},
    "/rooms/{room_id}/participants/{identity}/mute": {"track": "audio"},
    "/rooms/{room_id}/quality": {"rtt_ms": 40},
    "/templates/{name}": {"room_type": "workshop", "max_participants": 10, "max_participants_limit": 20},
}


def _generic_cases(document: dict) -> list[Case]:
    """Cases every operation of a kind has: 401 without a token; 422 for a path parameter too long for
    any key; 400 (not UTF-8) and 415 (not JSON) for a body; 403 for a caller who is not a member (member
    routes) or not an admin (admin routes)."""
    cases = []
    for path, item in document["paths"].items():
        for method, op in item.items():
            if method not in _METHODS or "dial-out" in path:
                continue
            cases.append(Case(method, path, 401, as_user=None))
            params = [p["name"] for p in op.get("parameters", []) if p.get("in") == "path"]
            if params:
                cases.append(Case(method, path, 422, values={params[-1]: LONG}, code="validation_error"))
            if "requestBody" in op:
                cases.append(Case(method, path, 400, data=b"{\"a\": \"\xff\"}", content_type="application/json",
                                  code="invalid_body"))
                cases.append(Case(method, path, 415, data=b"hello", content_type="text/plain",
                                  code="unsupported_media_type"))
            # (a recording is looked up before its room's members; no session has a room here)
            if not path.startswith(("/recordings/", "/sessions/")):
                cases.append(Case(method, path, 403, as_user="other", json=VALID_BODIES.get(path)))
    return cases


def _send(api, world: dict, case: Case) -> requests.Response:
    w = dict(world)
    w["new"] = f"new-{uuid.uuid4().hex[:10]}"
    w["new_template"] = f"t{uuid.uuid4().hex[:10]}"
    params = _params(w, case.values)
    path = case.path.format(**params)
    body = case.json
    if isinstance(body, dict):
        body = {k: (w[v[1:]] if isinstance(v, str) and v.startswith("@") else v) for k, v in body.items()}
        if isinstance(body.get("host"), dict):
            body["host"] = {k: (w[v[1:]] if isinstance(v, str) and v.startswith("@") else v)
                            for k, v in body["host"].items()}
    headers = {"content-type": case.content_type} if case.content_type else None
    if case.as_user is None:
        return api.call(case.method.upper(), path, json=body, data=case.data, headers=headers)
    if case.as_user == "admin":
        return api.admin(case.method.upper(), path, json=body, data=case.data, headers=headers)
    return api.call(case.method.upper(), path, as_user=w[case.as_user], json=body, data=case.data, headers=headers)


def _check(document: dict, case: Case, response: requests.Response) -> None:
    what = f"{case.method.upper()} {case.path} ({case.values or ''} as {case.as_user})"
    assert response.status_code == case.status, f"{what}: {response.status_code} {response.text[:300]}"
    op = document["paths"][case.path][case.method]
    documented = op["responses"].get(str(case.status))
    assert documented is not None, f"{what}: {case.status} is not documented"
    schema = documented["content"]["application/json"]["schema"]
    jsonschema.Draft202012Validator({**schema, "components": document["components"]},
                                    format_checker=jsonschema.FormatChecker()).validate(response.json())
    if case.code is not None:
        assert response.json()["code"] == case.code, what


def test_every_documented_case_answers_as_documented(api, world, document):
    cases = CASES + _generic_cases(document)
    problems = []
    covered: Counter[str] = Counter()
    for case in cases:
        response = _send(api, world, case)
        try:
            _check(document, case, response)
        except (AssertionError, jsonschema.ValidationError) as err:
            problems.append(str(err).splitlines()[0][:400])
            continue
        covered[f"{case.method} {case.path}"] += 1
    operations = {f"{m} {p}" for p, item in document["paths"].items() for m in item
                  if m in _METHODS and "dial-out" not in p}
    documented = {(f"{m} {p}", status) for p, item in document["paths"].items() for m, op in item.items()
                  if m in _METHODS and "dial-out" not in p
                  for status in op["responses"] if status not in ("429", "503")}
    sent = {(f"{c.method} {c.path}", str(c.status)) for c in cases}
    print(f"{len(cases)} cases, {len(covered)}/{len(operations)} operations covered, "
          f"{len(sent & documented)}/{len(documented)} documented (operation, status) pairs other than 429/503 sent")
    for problem in problems:
        print("PROBLEM:", problem)
    assert problems == []
    assert operations - set(covered) == set()  # every operation has cases (dial-out left to test_phone.py)
    # every status the tables produce is one the document lists for that operation (checked per case above)
    assert len(cases) > 180 and sent <= documented
