"""Values a caller can send that used to be 500s: out-of-range times and metadata DynamoDB cannot store.
Each is a 422 naming the field; the sane window's far edge still gives a working first token."""

from __future__ import annotations

import json
import uuid

import pytest


def _create(api, ids, **fields):
    return api.admin("POST", "/rooms", json={"booking_id": f"bk-{uuid.uuid4().hex[:10]}", "service_type": "therapy",
                                             "host": {"user_id": ids["host"]}, **fields})


@pytest.mark.parametrize(("start", "end"), [
    ("0001-01-01T00:00:00Z", None),
    ("0001-01-01T00:00:00+14:00", None),
    ("2030-01-01T00:00:00Z", "9999-12-31T23:59:59-12:00"),
    ("9999-12-31T23:59:59-12:00", None),
    ("2030-01-01T00:00:00Z", "9999-12-31T00:00:00Z"),
])
def test_times_outside_the_window_are_422(api, ids, start, end):
    r = _create(api, ids, scheduled_start=start, **({"scheduled_end": end} if end else {}))
    assert r.status_code == 422, r.text
    assert r.json()["field"] in ("scheduled_start", "scheduled_end") and "2100" in r.json()["message"]


def test_the_far_edge_of_the_window_still_gives_a_first_token(api, ids):
    r = _create(api, ids, scheduled_start="2099-12-31T22:00:00Z", scheduled_end="2099-12-31T23:00:00Z",
                members=[{"user_id": ids["client"]}])
    assert r.status_code == 201, r.text
    token = api.call("POST", f"/rooms/{r.json()['room_id']}/token", as_user=ids["client"])
    assert token.status_code in (200, 409), token.text  # 409 room_not_open is a 4xx; never a 500
    assert token.status_code != 500


def _nested(levels: int):
    value: object = 1
    for _ in range(levels):
        value = {"a": value}
    return value


@pytest.mark.parametrize("raw", [
    '{"blob": "' + "x" * (1024 * 1024) + '"}',
    '{"n": 1e400}',
    '{"n": NaN}',
    json.dumps(_nested(40)),
    '{"n": ' + "1" * 39 + "}",
])
def test_metadata_dynamodb_cannot_store_is_422(api, ids, raw):
    body = ('{"booking_id": "bk-' + uuid.uuid4().hex[:10] + '", "service_type": "therapy", '
            '"host": {"user_id": "' + ids["host"] + '"}, "metadata": ' + raw + "}")
    r = api.admin("POST", "/rooms", data=body.encode(), headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text[:300]
    assert r.json()["field"] == "metadata"


@pytest.mark.parametrize("path", ["/rooms/{long}", "/rooms/{long}/token", "/bookings/{long}/room",
                                  "/recordings/{long}/url", "/rooms/r-1/members/{long}"])
def test_path_parameters_longer_than_a_dynamodb_key_are_422_naming_them(api, path):
    method = "PUT" if "members" in path else ("POST" if path.endswith("token") else "GET")
    r = api.admin(method, path.format(long="x" * 2000), json={"role": "client"} if method == "PUT" else None)
    assert r.status_code == 422, r.text[:300]
    body = r.json()
    assert body["code"] == "validation_error" and ("bytes" in body["message"] or "128" in body["message"]), body
