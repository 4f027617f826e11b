"""Booking lifecycle over HTTP: PATCH /rooms/{id} (reschedule, settings), POST /rooms/{id}/cancel, and the
validation gaps a new user hit (SPEC "Booking lifecycle"). Sweeps run with a frozen clock (the schedule
event's time) on far-future days no other test uses."""

from __future__ import annotations

import itertools
import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from rooms.clock import iso
from rooms_local.config import DEV_SIP_NUMBERS
from rooms_local.livekit_emulator import control
from tests.integration.test_sweeper import EventLog, sweep
from tests.store_support import pins_held

_DAYS = itertools.count(random.randrange(1000) * 7, 7)
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)


@pytest.fixture
def start() -> datetime:
    return datetime(2070, 1, 1, 10, 0, tzinfo=UTC) + timedelta(days=next(_DAYS))


@pytest.fixture(scope="module")
def published(stack) -> EventLog:
    return EventLog(stack.config)


def create(api, ids, start, *, sip=False, session=False, **extra) -> dict:
    body = {("service_session_id" if session else "booking_id"): ids["session" if session else "booking"],
            "service_type": "yoga_class" if session else "therapy",
            "scheduled_start": iso(start), "scheduled_end": iso(start + HOUR),
            "host": {"user_id": ids["host"], "name": "Dr Who"},
            "members": [{"user_id": ids["client"], "name": "Clara"}], **extra}
    if sip:
        body["sip"] = {"enabled": True, "region": "US"}
    r = api.admin("POST", "/rooms", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def get(api, room) -> dict:
    r = api.admin("GET", f"/rooms/{room['room_id']}")
    assert r.status_code == 200, r.text
    return r.json()


def livekit_room(stack, name) -> dict | None:
    return next((r for r in control.state(stack.config.livekit_url)["rooms"] if r["name"] == name), None)


def pins_held_by(room_id: str) -> list[str]:

    return [lock.pin for lock in pins_held(DEV_SIP_NUMBERS["US"]) if lock.room_id == room_id]


# --- reschedule ------------------------------------------------------------------------------------------


def test_reschedule_then_the_sweeper_opens_and_ends_on_the_new_times_and_the_pin_survives(
        api, stack, ids, start, published):
    room = create(api, ids, start, sip=True)
    pin = room["dial_in"]["pin"]
    later = start + DAY + 2 * HOUR
    r = api.admin("PATCH", f"/rooms/{room['room_id']}",
                  json={"scheduled_start": iso(later), "scheduled_end": iso(later + HOUR)})
    assert r.status_code == 200, r.text
    moved = r.json()
    assert (moved["scheduled_start"], moved["scheduled_end"]) == (iso(later), iso(later + HOUR))
    assert moved["dial_in"]["pin"] == pin and pins_held_by(room["room_id"]) == [pin]

    # the old times are no longer due
    assert sweep(stack, start - 15 * MINUTE)["due"] == 0
    assert sweep(stack, start + HOUR + 30 * MINUTE)["due"] == 0
    assert get(api, room)["status"] == "scheduled"

    assert sweep(stack, later - 15 * MINUTE).get("opened") == 1
    assert get(api, room)["status"] == "open" and livekit_room(stack, room["livekit_room"]) is not None
    report = sweep(stack, later + HOUR + 30 * MINUTE)
    assert report.get("ended") == 1
    ended = get(api, room)
    assert ended["status"] == "ended" and ended["ended_at"] == iso(later + HOUR + 30 * MINUTE)

    [event] = published.of(room["room_id"], "Room Rescheduled")
    assert event["detail"]["scheduled_start"] == iso(later)
    assert event["detail"]["previous_scheduled_start"] == iso(start)
    assert event["detail"]["booking_id"] == ids["booking"]


def test_patch_refuses_what_it_cannot_do_naming_the_field(api, stack, ids, start):
    room = create(api, ids, start)
    path = f"/rooms/{room['room_id']}"
    cases = [
        ({"scheduled_end": iso(start - HOUR)}, 422, "scheduled_end"),
        ({"max_participants": 3}, 422, "max_participants"),  # the individual template's ceiling is 2
        ({"scheduled_start": None}, 422, "body"),
        ({}, 422, "body"),
        ({"colour": "blue"}, 422, "colour"),
    ]
    for body, status, field in cases:
        r = api.admin("PATCH", path, json=body)
        assert r.status_code == status, (body, r.text)
        assert r.json()["field"] == field or field in r.json()["message"], (body, r.json())
    assert api.call("PATCH", path, as_user=ids["host"], json={"title": "x"}).status_code == 403
    assert api.admin("PATCH", "/rooms/no-such-room", json={"title": "x"}).json()["code"] == "room_not_found"
    assert get(api, room)["scheduled_end"] == iso(start + HOUR)  # nothing changed


def test_a_live_room_takes_metadata_at_once_and_refuses_what_livekit_fixed_at_creation(api, stack, ids, start):
    room = create(api, ids, start, session=True, max_participants=10)
    token = api.call("POST", f"/rooms/{room['room_id']}/token", as_user=ids["host"])
    assert token.status_code == 200  # the LiveKit room exists from here on
    path = f"/rooms/{room['room_id']}"
    for field, value in (("max_participants", 12), ("waiting_room", False), ("recording", "none")):
        r = api.admin("PATCH", path, json={field: value})
        assert r.status_code == 409, r.text
        assert (r.json()["code"], r.json()["field"]) == ("not_changeable_live", field)

    r = api.admin("PATCH", path, json={"title": "Evening yoga", "metadata": {"level": "beginner"}})
    assert r.status_code == 200, r.text
    assert r.json()["title"] == "Evening yoga" and r.json()["metadata"] == {"level": "beginner"}
    lk = json.loads(livekit_room(stack, room["livekit_room"])["metadata"])
    assert lk["title"] == "Evening yoga" and lk["metadata"] == {"level": "beginner"}
    assert lk["room_id"] == room["room_id"]


# --- cancel ----------------------------------------------------------------------------------------------


def test_cancel_before_start_releases_the_pin_refuses_tokens_and_is_idempotent(api, stack, ids, start, published):
    room = create(api, ids, start, sip=True)
    assert pins_held_by(room["room_id"]) == [room["dial_in"]["pin"]]
    r = api.admin("POST", f"/rooms/{room['room_id']}/cancel", json={"reason": "client cancelled"})
    assert r.status_code == 200, r.text
    assert r.json()["changed"] is True and r.json()["room"]["status"] == "cancelled"
    assert r.json()["room"]["dial_in"] is None and pins_held_by(room["room_id"]) == []

    token = api.call("POST", f"/rooms/{room['room_id']}/token", as_user=ids["client"])
    assert (token.status_code, token.json()["code"]) == (409, "room_cancelled")
    again = api.admin("POST", f"/rooms/{room['room_id']}/cancel")
    assert again.status_code == 200 and again.json()["changed"] is False
    [event] = published.of(room["room_id"], "Room Cancelled")
    assert event["detail"]["reason"] == "client cancelled" and event["detail"]["cancelled_by"] == "platform-backend"

    # a cancelled booking stays cancelled: creating its room again is a clear 409, and so is a PATCH
    recreate = api.admin("POST", "/rooms", json={"booking_id": ids["booking"], "service_type": "therapy",
                                                 "host": {"user_id": ids["host"]}})
    assert (recreate.status_code, recreate.json()["code"]) == (409, "room_cancelled")
    patch = api.admin("PATCH", f"/rooms/{room['room_id']}", json={"title": "x"})
    assert (patch.status_code, patch.json()["code"]) == (409, "room_cancelled")

    # never a no-show, and the sweeper never opens it
    sweep(stack, start - 15 * MINUTE)
    sweep(stack, start + HOUR + 30 * MINUTE)
    after = get(api, room)
    assert after["status"] == "cancelled" and after["no_show"] is None
    assert livekit_room(stack, room["livekit_room"]) is None
    assert published.of(room["room_id"], "Room No-Show") == []


def test_cancel_during_a_live_session_removes_everyone_and_is_never_a_no_show(api, stack, ids, start, published):
    from rooms import store

    room = create(api, ids, start, sip=True)
    sweep(stack, start - 15 * MINUTE)
    host_token = api.call("POST", f"/rooms/{room['room_id']}/token", as_user=ids["host"]).json()["token"]
    control.join(stack.config.livekit_url, host_token)  # the client never comes: would be "client_absent"
    control.drain_webhooks(stack.config.livekit_url)
    assert len(livekit_room(stack, room["livekit_room"])["participants"]) == 1
    assert len(_rules_for(stack, room["livekit_room"])) == 1

    r = api.admin("POST", f"/rooms/{room['room_id']}/cancel", json={"reason": "practitioner ill"})
    assert r.status_code == 200 and r.json()["room"]["status"] == "cancelled"
    assert livekit_room(stack, room["livekit_room"]) is None  # everyone disconnected
    assert _rules_for(stack, room["livekit_room"]) == [] and pins_held_by(room["room_id"]) == []
    host = store.rooms.Member.get(*store.Member.key(room["room_id"], ids["host"]), consistent_read=True)
    record = store.JoinTokenRecord.get(store.rooms.room_pk(room["room_id"]), host.token_sk, consistent_read=True)
    assert record.revoked_at is not None
    control.drain_webhooks(stack.config.livekit_url)

    rejoin = api.call("POST", f"/rooms/{room['room_id']}/token", as_user=ids["host"])
    assert rejoin.json()["code"] == "room_cancelled"
    report = sweep(stack, start + HOUR + 30 * MINUTE)
    assert report.get("no_show") is None
    assert get(api, room)["no_show"] is None
    assert published.of(room["room_id"], "Room No-Show") == []
    assert len(published.of(room["room_id"], "Room Cancelled")) == 1


def test_an_ended_room_cannot_be_cancelled_or_rescheduled(api, ids, start):
    room = create(api, ids, start)
    assert api.admin("DELETE", f"/rooms/{room['room_id']}").status_code == 200
    r = api.admin("POST", f"/rooms/{room['room_id']}/cancel")
    assert (r.status_code, r.json()["code"]) == (409, "room_ended")
    r = api.admin("PATCH", f"/rooms/{room['room_id']}", json={"scheduled_start": iso(start + DAY)})
    assert (r.status_code, r.json()["code"]) == (409, "room_ended")


def _rules_for(stack, name):
    rules = control.state(stack.config.livekit_url)["sip"]["dispatchRules"]
    return [r for r in rules if r["rule"].get("dispatchRuleDirect", {}).get("roomName") == name]


# --- validation gaps -------------------------------------------------------------------------------------


@pytest.mark.parametrize("change, code, field", [
    ({"host": None}, "validation_error", "host"),
    ({"service_type": None}, "room_type_required", "room_type"),
    ({"service_type": None, "template": "webinar", "room_type": "workshop"}, "room_type_mismatch", "room_type"),
    ({"service_type": "therapy", "room_type": "workshop"}, "room_type_mismatch", "room_type"),
    ({"members": [{"user_id": "a"}, {"user_id": "b"}]}, "members_over_max_participants", "members"),
])
def test_create_refuses_what_a_new_user_got_wrong(api, ids, change, code, field):
    body = {"booking_id": ids["booking"], "service_type": "therapy", "host": {"user_id": ids["host"]},
            "members": [{"user_id": ids["client"]}]}
    for key, value in change.items():
        if value is None:
            body.pop(key)
        else:
            body[key] = value
    r = api.admin("POST", "/rooms", json=body)
    assert r.status_code == 422, r.text
    assert (r.json()["code"], r.json()["field"]) == (code, field)
    assert api.admin("GET", f"/bookings/{ids['booking']}/room").status_code == 404  # nothing written


def test_the_service_type_mapping_is_documented_in_the_api(api):
    spec = api.call("GET", "/openapi.json").json()
    described = spec["components"]["schemas"]["CreateRoomRequest"]["properties"]["service_type"]["description"]
    assert "webinar → broadcast (500 participants, recording automatic)" in described
    assert "therapy → individual" in described


def test_put_keeps_a_builtin_description_and_delete_brings_the_builtin_back(api):
    builtin = {t["name"]: t for t in api.admin("GET", "/templates").json()["templates"]}["course"]
    body = {k: v for k, v in builtin.items() if k not in ("name", "source", "description")}
    r = api.admin("PUT", "/templates/course", json={**body, "max_participants": 30})
    assert r.status_code == 200, r.text
    assert r.json()["description"] == builtin["description"] and r.json()["source"] == "override"

    r = api.admin("DELETE", "/templates/course")
    assert r.status_code == 200, r.text
    assert r.json()["removed"] is True and r.json()["template"]["max_participants"] == builtin["max_participants"]
    now = {t["name"]: t for t in api.admin("GET", "/templates").json()["templates"]}["course"]
    assert now == builtin
    assert api.admin("DELETE", "/templates/course").json()["removed"] is False  # idempotent

    custom = api.admin("PUT", "/templates/retreat", json={**body, "room_type": "workshop"})
    assert custom.json()["source"] == "custom"
    gone = api.admin("DELETE", "/templates/retreat")
    assert gone.status_code == 200 and gone.json()["template"] is None
    assert "retreat" not in {t["name"] for t in api.admin("GET", "/templates").json()["templates"]}
    assert api.admin("DELETE", "/templates/retreat").json()["code"] == "template_not_found"
    assert api.call("DELETE", "/templates/course", as_user="someone").status_code == 403


def test_a_quality_sample_from_a_member_who_never_connected_is_refused(api, stack, ids, booking_room):
    room_id = booking_room["room_id"]
    host_token = api.call("POST", f"/rooms/{room_id}/token", as_user=ids["host"]).json()["token"]
    control.join(stack.config.livekit_url, host_token)
    control.drain_webhooks(stack.config.livekit_url)
    sample = {"packet_loss_pct": 1.5, "jitter_ms": 12}
    r = api.call("POST", f"/rooms/{room_id}/quality", as_user=ids["client"], json=sample)
    assert (r.status_code, r.json()["code"]) == (409, "not_connected")
    assert api.call("POST", f"/rooms/{room_id}/quality", as_user=ids["host"], json=sample).status_code == 201
    attendance = api.call("GET", f"/rooms/{room_id}/attendance", as_user=ids["host"]).json()
    identities = {e["identity"] for e in attendance["participants"]}
    assert ids["client"] not in identities and ids["host"] in identities


# --- inside the open window --------------------------------------------------------------------------------


def test_a_room_created_or_rescheduled_inside_its_open_window_opens_at_once(api, stack, ids):
    soon = datetime.now(UTC).replace(microsecond=0) + 5 * MINUTE
    created = create(api, ids, soon)
    assert created["status"] == "open" and created["opened_at"]
    assert livekit_room(stack, created["livekit_room"]) is not None

    later = create(api, {**ids, "booking": ids["booking"] + "-2"}, soon + 30 * DAY)
    assert later["status"] == "scheduled" and livekit_room(stack, later["livekit_room"]) is None
    r = api.admin("PATCH", f"/rooms/{later['room_id']}",
                  json={"scheduled_start": iso(soon + 10 * MINUTE), "scheduled_end": iso(soon + HOUR)})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "open" and livekit_room(stack, later["livekit_room"]) is not None
    token = api.call("POST", f"/rooms/{later['room_id']}/token", as_user=ids["client"])
    assert token.status_code == 200 and token.json()["livekit_room"] == later["livekit_room"]


def test_reschedule_update_and_cancel_are_on_the_audit_trail_with_their_writes(api, ids, start):
    from rooms.store import audit as audit_store

    room = create(api, ids, start)
    rid = room["room_id"]
    moved = api.admin("PATCH", f"/rooms/{rid}", json={"scheduled_start": iso(start + HOUR),
                                                      "scheduled_end": iso(start + 2 * HOUR)})
    assert moved.status_code == 200, moved.text
    assert api.admin("PATCH", f"/rooms/{rid}", json={"title": "Session 2"}).status_code == 200
    assert api.admin("PATCH", f"/rooms/{rid}", json={"title": "Session 2"}).status_code == 200  # no change
    assert api.admin("POST", f"/rooms/{rid}/cancel", json={"reason": "client cancelled"}).status_code == 200
    assert api.admin("POST", f"/rooms/{rid}/cancel").status_code == 200  # already cancelled: nothing new

    entries = api.admin("GET", f"/rooms/{rid}/audit").json()["entries"]
    mine = [e for e in entries if e["action"].startswith("room.")]
    assert [e["action"] for e in mine] == ["room.rescheduled", "room.updated", "room.cancelled"]
    rescheduled, updated, cancelled = mine
    assert rescheduled["actor"] == updated["actor"] == cancelled["actor"] == "platform-backend"
    assert rescheduled["details"]["previous_scheduled_start"] == iso(start)
    assert rescheduled["details"]["scheduled_start"] == iso(start + HOUR)
    assert rescheduled["details"]["scheduled_end"] == iso(start + 2 * HOUR)
    assert updated["details"]["fields"] == ["title"]
    assert cancelled["details"] == {"reason": "client cancelled", "status": "cancelled"}
    assert all(e.ttl is not None for e in audit_store.list_audit(rid))  # written like every other entry


# --- audit of issue 14: what the tests above left unproven ----------------------------------------------


def test_rescheduling_an_open_room_moves_its_end_for_the_sweeper(api, stack, ids, start, published):
    room = create(api, ids, start, sip=True)
    pin = room["dial_in"]["pin"]
    assert sweep(stack, start - 15 * MINUTE).get("opened") == 1
    assert get(api, room)["status"] == "open"
    r = api.admin("PATCH", f"/rooms/{room['room_id']}", json={"scheduled_end": iso(start + 3 * HOUR)})
    assert r.status_code == 200, r.text
    assert r.json()["scheduled_end"] == iso(start + 3 * HOUR) and r.json()["dial_in"]["pin"] == pin

    # the old end is no longer due; the new one ends it
    assert sweep(stack, start + HOUR + 30 * MINUTE).get("ended") is None
    assert get(api, room)["status"] == "open"
    assert sweep(stack, start + 3 * HOUR + 30 * MINUTE).get("ended") == 1
    assert get(api, room)["ended_at"] == iso(start + 3 * HOUR + 30 * MINUTE)
    [event] = published.of(room["room_id"], "Room Rescheduled")
    assert (event["detail"]["scheduled_end"], event["detail"]["previous_scheduled_end"]) == (
        iso(start + 3 * HOUR), iso(start + HOUR))


def test_settings_changed_before_the_room_opens_are_what_livekit_gets_at_open(api, stack, ids, start, published):
    room = create(api, ids, start, session=True, max_participants=10)
    assert room["waiting_room"] is True  # the workshop template's
    r = api.admin("PATCH", f"/rooms/{room['room_id']}",
                  json={"max_participants": 15, "waiting_room": False, "recording": "none"})
    assert r.status_code == 200, r.text
    assert (r.json()["max_participants"], r.json()["waiting_room"], r.json()["recording"]) == (15, False, "none")
    assert published.of(room["room_id"], "Room Rescheduled") == []  # settings only: not a reschedule

    assert sweep(stack, start - 15 * MINUTE).get("opened") == 1
    assert livekit_room(stack, room["livekit_room"])["maxParticipants"] == 15
    token = api.call("POST", f"/rooms/{room['room_id']}/token", as_user=ids["client"])
    assert token.status_code == 200 and token.json()["waiting"] is False


def test_cancel_during_a_live_session_closes_attendance_and_an_old_token_cannot_bring_the_room_back(
        api, stack, ids, start, drain):
    room = create(api, ids, start)
    sweep(stack, start - 15 * MINUTE)
    host_token = api.call("POST", f"/rooms/{room['room_id']}/token", as_user=ids["host"]).json()["token"]
    client_token = api.call("POST", f"/rooms/{room['room_id']}/token", as_user=ids["client"]).json()["token"]
    control.join(stack.config.livekit_url, host_token)
    control.join(stack.config.livekit_url, client_token)
    drain()
    assert get(api, room)["status"] == "active"
    assert len(livekit_room(stack, room["livekit_room"])["participants"]) == 2

    r = api.admin("POST", f"/rooms/{room['room_id']}/cancel", json={"reason": "practitioner ill"})
    assert r.status_code == 200 and r.json()["room"]["status"] == "cancelled"
    assert livekit_room(stack, room["livekit_room"]) is None
    drain()
    attendance = api.call("GET", f"/rooms/{room['room_id']}/attendance", as_user=ids["host"]).json()
    entries = {e["identity"]: e for e in attendance["participants"]}
    assert set(entries) == {ids["host"], ids["client"]}
    assert all(s["left_at"] is not None for e in entries.values() for s in e["segments"])  # nobody still "in"

    # the client's join token has not expired: LiveKit (auto-create) lets it in again, we take the room away
    control.join(stack.config.livekit_url, client_token)
    drain()
    assert livekit_room(stack, room["livekit_room"]) is None
    after = get(api, room)
    assert after["status"] == "cancelled" and after["no_show"] is None


@pytest.mark.parametrize("body, code, field", [
    # a session's host is required too
    ({"service_type": "yoga_class"}, "validation_error", "host"),
    # the host and the members must fit in the max_participants asked for (within the template's ceiling)
    ({"service_type": "yoga_class", "host": {"user_id": "h"}, "max_participants": 3,
      "members": [{"user_id": "a"}, {"user_id": "b"}, {"user_id": "c"}]}, "members_over_max_participants", "members"),
    ({"template": "webinar", "room_type": "individual", "host": {"user_id": "h"}}, "room_type_mismatch", "room_type"),
])
def test_a_session_room_is_refused_for_the_same_gaps(api, ids, body, code, field):
    r = api.admin("POST", "/rooms", json={"service_session_id": ids["session"], **body})
    assert r.status_code == 422, r.text
    assert (r.json()["code"], r.json()["field"]) == (code, field)
    assert api.admin("GET", f"/sessions/{ids['session']}/room").status_code == 404  # nothing written
    ok = api.admin("POST", "/rooms", json={"service_session_id": ids["session"], "service_type": "yoga_class",
                                           "host": {"user_id": "h"}, "max_participants": 3,
                                           "members": [{"user_id": "a"}, {"user_id": "b"}]})
    assert ok.status_code == 201 and ok.json()["max_participants"] == 3, ok.text
