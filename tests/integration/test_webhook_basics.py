"""Webhook route (POST /livekit/webhook, no authorizer): signature checks over the raw body, dedupe by
event id, room lifecycle."""

from __future__ import annotations

from tests import livekit_webhooks as lw


def test_forgeries_are_refused_with_401_and_change_nothing(api, stack, booking_room):
    url = stack.config.webhook_url
    ev = lw.event("room_started", room_name=booking_room["livekit_room"])
    body = lw.body_of(ev)
    assert lw.post(url, body, None).status_code == 401
    assert lw.post(url, body, "garbage").status_code == 401
    assert lw.post(url, body, lw.sign(body, secret="not-the-secret")).status_code == 401
    assert lw.post(url, body, lw.sign(body, key="otherkey")).status_code == 401
    tampered = body.replace("room_started", "room_finished")
    assert lw.post(url, tampered, lw.sign(body)).status_code == 401
    assert lw.post(url, body, "Bearer " + lw.sign(body)).status_code == 401  # LiveKit sends no prefix
    room = api.admin("GET", f"/rooms/{booking_room['room_id']}").json()
    assert room["status"] == "scheduled" and room["opened_at"] is None


def test_room_lifecycle_and_duplicates(api, stack, booking_room):
    url = stack.config.webhook_url
    started = lw.event("room_started", room_name=booking_room["livekit_room"], created_at=1_900_000_000)
    r = lw.deliver(url, started)
    assert r.status_code == 200 and r.json()["outcome"] == "handled"
    assert lw.deliver(url, started).json()["outcome"] == "duplicate"
    room = api.admin("GET", f"/rooms/{booking_room['room_id']}").json()
    assert room["status"] == "open" and room["opened_at"] == "2030-03-17T17:46:40Z"
    finished = lw.event("room_finished", room_name=booking_room["livekit_room"], created_at=1_900_003_600)
    assert lw.deliver(url, finished).json()["outcome"] == "handled"
    late_start = lw.event("room_started", room_name=booking_room["livekit_room"], created_at=1_900_000_001)
    lw.deliver(url, late_start)
    room = api.admin("GET", f"/rooms/{booking_room['room_id']}").json()
    assert room["status"] == "ended" and room["ended_at"] == "2030-03-17T18:46:40Z"


def test_unknown_rooms_and_events_are_acknowledged(stack):
    url = stack.config.webhook_url
    assert lw.deliver(url, lw.event("room_started", room_name="not-ours")).json()["outcome"] == "unknown_room"
    assert lw.deliver(url, lw.event("ingress_started")).json()["outcome"] == "ignored"
    assert lw.deliver(url, lw.event("some_future_event", room_name="x")).json()["outcome"] == "ignored"
