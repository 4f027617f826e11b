"""Webhook bodies a sender can get wrong: 4xx naming the problem (LiveKit retries 5xx only), and
id-less events deduplicated by their content."""

from __future__ import annotations

import requests
from livekit.protocol.models import ParticipantInfo

from tests import livekit_webhooks as lw


def test_a_body_that_is_not_utf8_is_400_with_or_without_a_signature(stack):
    url = stack.config.webhook_url
    body = b'{"event": "room_started", "id": "EV_x", "room": {"name": "Jos\xe9"}}'
    for headers in ({}, {"authorization": "garbage"}):
        r = requests.post(url, data=body, headers={"content-type": "application/webhook+json", **headers},
                          timeout=30)
        assert r.status_code == 400, r.text
        assert r.json()["code"] == "invalid_body"


def test_signed_json_that_is_not_an_event_is_400_saying_so(stack):
    url = stack.config.webhook_url
    for body in ("null", '{"event": 5}', "[]", '{"id": "EV_no_type"}'):
        r = lw.post(url, body, lw.sign(body))
        assert r.status_code == 400, (body, r.text)
        assert r.json()["code"] == "invalid_event" and "not a LiveKit webhook event" in r.json()["message"]


def test_signed_events_with_times_out_of_range_are_400(stack, booking_room):
    url = stack.config.webhook_url
    late = lw.event("room_started", room_name=booking_room["livekit_room"], created_at=10**12)
    r = lw.deliver(url, late)
    assert r.status_code == 400 and "createdAt" in r.json()["message"], r.text
    joined = lw.event("participant_joined", room_name=booking_room["livekit_room"],
                      participant=ParticipantInfo(identity="x", sid="PA_x", joined_at=2**62))
    r = lw.deliver(url, joined)
    assert r.status_code == 400 and "joinedAt" in r.json()["message"], r.text


def test_events_without_an_id_are_deduplicated_by_content_not_all_as_one(api, stack, booking_room, ids):
    url = stack.config.webhook_url
    other = api.admin("POST", "/rooms", json={"booking_id": ids["booking"] + "-2", "service_type": "therapy",
                                              "host": {"user_id": ids["host"]}}).json()
    first = lw.event("room_started", room_name=booking_room["livekit_room"], created_at=1_900_000_000)
    second = lw.event("room_started", room_name=other["livekit_room"], created_at=1_900_000_000)
    first.id = second.id = ""
    assert lw.deliver(url, first).json()["outcome"] == "handled"
    assert lw.deliver(url, second).json()["outcome"] == "handled"  # not swallowed as a duplicate of first
    assert lw.deliver(url, first).json()["outcome"] == "duplicate"  # the same body redelivered
    for room in (booking_room, other):
        assert api.admin("GET", f"/rooms/{room['room_id']}").json()["status"] == "open"
