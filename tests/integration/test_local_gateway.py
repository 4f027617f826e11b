"""The local gateway's own behaviour (what API Gateway does in AWS): 500s, 405s, request bodies."""

from __future__ import annotations

import base64
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from rooms_local.lambda_runtime import load_function


@pytest.fixture
def echo_create_room(monkeypatch):
    """create_room answers with the body fields of the event it was given."""
    def echo(event, context):
        return {"statusCode": 200, "headers": {"content-type": "application/json"},
                "body": json.dumps({"body": event["body"], "isBase64Encoded": event["isBase64Encoded"]})}

    monkeypatch.setattr(load_function("create_room"), "handler", echo)


def test_an_unhandled_error_answers_a_generic_500_with_a_request_id_and_logs_the_traceback(api, monkeypatch,
                                                                                           capsys):
    def boom(event, context):
        raise RuntimeError("secret internals: table rooms-prod")

    monkeypatch.setattr(load_function("create_room"), "handler", boom)
    r = api.admin("POST", "/rooms", json={"booking_id": "b-1"})
    assert r.status_code == 500
    body = r.json()
    assert body == {"code": "internal_error", "message": "Internal Server Error",
                    "request_id": r.headers["apigw-requestid"]}
    assert "secret internals" not in r.text
    err = capsys.readouterr().err
    assert "Traceback" in err and "secret internals: table rooms-prod" in err and body["request_id"] in err


def test_a_wrong_method_answers_405_with_allow(api):
    r = api.admin("PATCH", "/rooms")
    assert r.status_code == 405
    assert r.headers["Allow"] == "POST"
    assert r.json()["code"] == "method_not_allowed"
    r = api.admin("PUT", "/rooms/rm-x")
    assert r.status_code == 405
    assert set(r.headers["Allow"].split(", ")) == {"GET", "PATCH", "DELETE"}


@pytest.mark.parametrize(("content_type", "data", "as_text"), [
    ("application/json", '{"booking_id": "café"}'.encode(), True),
    ("application/json; charset=utf-8", b'{"a": 1}', True),
    ("text/plain", "é".encode(), True),
    ("application/json", '{"booking_id": "café"}'.encode("latin-1"), False),  # not UTF-8: cannot be text
    ("application/octet-stream", b"plain ascii", False),
    ("image/png", b"\x89PNG\r\n", False),
    ("multipart/form-data; boundary=x", b"--x--", False),
])
def test_the_request_body_reaches_the_function_as_an_http_api_delivers_it(api, echo_create_room, content_type,
                                                                          data, as_text):
    r = api.admin("POST", "/rooms", data=data, headers={"content-type": content_type})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["isBase64Encoded"] is (not as_text)
    assert (got["body"].encode() if as_text else base64.b64decode(got["body"])) == data


def test_the_request_id_header_is_the_events_request_id(api, monkeypatch):
    monkeypatch.setattr(load_function("create_room"), "handler", lambda event, context: {
        "statusCode": 200, "body": event["requestContext"]["requestId"]})
    r = api.admin("POST", "/rooms", json={})
    assert r.text == r.headers["apigw-requestid"]
    assert requests.get(f"{api.base}/nowhere", timeout=10).json()["code"] == "not_found"


def test_log_lines_carry_their_own_function_and_correlation_id_under_concurrency(api, ids, monkeypatch):
    """Two functions run at once in the one process: each one's lines name it and its request."""
    from rooms.observability import logger

    both_in = threading.Barrier(2, timeout=30)
    lines: list[dict] = []

    def probed(module):
        original = module.require_admin

        def require_admin(caller):
            both_in.wait()  # both invocations have set their logging keys before either logs
            logger.warning("probe")
            return original(caller)

        monkeypatch.setattr(module, "require_admin", require_admin)

    probed(load_function("create_room"))
    probed(load_function("room_admin"))

    class Collect(logging.Handler):
        def emit(self, record):
            if record.getMessage() == "probe":
                lines.append(json.loads(self.format(record)))

    collect = Collect()
    collect.setFormatter(logger.registered_formatter)
    logger.addHandler(collect)
    try:
        with ThreadPoolExecutor(2) as pool:
            created = pool.submit(api.admin, "POST", "/rooms", json={
                "booking_id": ids["booking"], "service_type": "therapy", "host": {"user_id": ids["host"]}})
            listed = pool.submit(api.admin, "GET", "/templates")
            created, listed = created.result(), listed.result()
    finally:
        logger.removeHandler(collect)
    assert created.status_code == 201 and listed.status_code == 200
    got = sorted((line["function_name"], line["correlation_id"]) for line in lines)
    assert got == sorted([("create_room", created.headers["apigw-requestid"]),
                          ("room_admin", listed.headers["apigw-requestid"])])


def test_one_function_serves_one_request_at_a_time_so_callers_never_mix(api, ids, monkeypatch):
    """Powertools keeps the request it resolves on the module's resolver (the event, the route's
    arguments): two requests at once on one function would read each other's caller. As in a warm Lambda
    container, the second waits. Here the member's request is held inside the function until the
    stranger's arrives (or 3 s pass: with one request at a time it cannot)."""
    module = load_function("room_query")
    original = module.current_caller
    member_in, stranger_in = threading.Event(), threading.Event()

    def current_caller(app):
        if not member_in.is_set():
            member_in.set()
            stranger_in.wait(timeout=3)
        else:
            stranger_in.set()
        return original(app)

    room = api.admin("POST", "/rooms", json={"booking_id": ids["booking"], "service_type": "therapy",
                                             "host": {"user_id": ids["host"]},
                                             "members": [{"user_id": ids["client"]}]}).json()
    monkeypatch.setattr(module, "current_caller", current_caller)
    with ThreadPoolExecutor(2) as pool:
        member = pool.submit(api.call, "GET", f"/rooms/{room['room_id']}", as_user=ids["client"])
        assert member_in.wait(timeout=30)
        stranger = pool.submit(api.call, "GET", f"/rooms/{room['room_id']}", as_user=ids["other"])
        member, stranger = member.result(), stranger.result()
    assert member.status_code == 200, member.text
    assert stranger.status_code in (403, 404), stranger.text
