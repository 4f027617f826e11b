"""The booking platform's events end to end: ``put_events`` on the stack's bus in moto → the rule (the CDK
rule's pattern) → ``booking_events`` as Lambda's asynchronous invocation runs it → the same domain
functions as the API. Duplicated, out of order, before the room exists, malformed (→ failure queue).
"""

from __future__ import annotations

import itertools
import json
import random
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from rooms.clock import iso
from rooms_local import cli
from tests.integration.test_sweeper import EventLog, sweep
from tests.store_support import pins_held

_DAYS = itertools.count(random.randrange(1000) * 7 + 3, 7)
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
SECOND = timedelta(seconds=1)
SOURCE = "booking-platform"


@pytest.fixture
def start() -> datetime:
    # 2075 + at most ~19 years of random offset + one week per test stays inside the 2000..2100 window
    return datetime(2075, 1, 1, 10, 0, tzinfo=UTC) + timedelta(days=next(_DAYS))


@pytest.fixture(scope="module")
def published(stack) -> EventLog:
    return EventLog(stack.config)


@pytest.fixture(scope="module")
def bus(stack):
    return boto3.client("events", endpoint_url=stack.config.moto_url, region_name=stack.config.region)


@pytest.fixture
def emit(stack, bus):
    """Put one event on the bus as the platform would, wait for its delivery, return (event id, result)."""

    def put(detail_type: str, detail: dict, *, at: datetime, source: str = SOURCE) -> tuple[str, dict]:
        response = bus.put_events(Entries=[{
            "Source": source, "DetailType": detail_type, "Detail": json.dumps(detail),
            "EventBusName": stack.config.event_bus_name, "Time": at}])
        assert response["FailedEntryCount"] == 0, response
        event_id = response["Entries"][0]["EventId"]
        return event_id, stack.booking_events.wait(event_id)

    return put


def confirmed(ids, start, **extra) -> dict:
    return {"booking_id": ids["booking"], "service_type": "therapy", "scheduled_start": iso(start),
            "scheduled_end": iso(start + HOUR), "host": {"user_id": ids["host"], "name": "Dr Who"},
            "members": [{"user_id": ids["client"], "name": "Clara"}], **extra}


def booking_room(api, ids):
    return api.admin("GET", f"/bookings/{ids['booking']}/room")


def test_booking_confirmed_creates_the_room_and_a_redelivery_changes_nothing(api, stack, ids, start, emit):
    event_id, result = emit("Booking Confirmed", confirmed(ids, start), at=start - 48 * HOUR)
    assert result == {"outcome": "created"}
    room = booking_room(api, ids).json()
    assert (room["status"], room["scheduled_start"], room["host_user_id"]) == ("scheduled", iso(start), ids["host"])
    envelope = stack.booking_events.envelopes[event_id]
    assert set(envelope) == {"version", "id", "detail-type", "source", "account", "time", "region", "resources",
                             "detail"}  # what EventBridge hands to a Lambda target
    assert stack.booking_events.deliver(envelope) == {"outcome": "duplicate"}
    token = api.call("POST", f"/bookings/{ids['booking']}/room/token", as_user=ids["client"])
    assert token.status_code == 200, token.text


def test_reschedule_before_confirmation_is_kept_then_the_sweeper_opens_and_ends_on_the_new_times(
        api, stack, ids, start, emit, published):
    later = start + 3 * HOUR
    _, kept = emit("Booking Rescheduled", {"booking_id": ids["booking"], "scheduled_start": iso(later),
                                           "scheduled_end": iso(later + HOUR)}, at=start - 47 * HOUR)
    assert kept == {"outcome": "kept_until_room_exists"}
    assert booking_room(api, ids).status_code == 404  # nothing but the kept event
    # the older confirmation arrives last
    _, created = emit("Booking Confirmed", confirmed(ids, start), at=start - 48 * HOUR)
    assert created == {"outcome": "created"}
    room = booking_room(api, ids).json()
    assert (room["scheduled_start"], room["scheduled_end"]) == (iso(later), iso(later + HOUR))
    [event] = published.of(room["room_id"], "Room Rescheduled")
    assert event["detail"]["scheduled_start"] == iso(later)

    assert sweep(stack, start - 15 * MINUTE)["due"] == 0  # the confirmed time is not the room's
    assert sweep(stack, later - 15 * MINUTE).get("opened") == 1
    assert sweep(stack, later + HOUR + 30 * MINUTE).get("ended") == 1
    assert booking_room(api, ids).json()["status"] == "ended"


def test_reschedules_out_of_order_and_duplicated_end_on_the_newest(api, stack, ids, start, emit):
    emit("Booking Confirmed", confirmed(ids, start), at=start - 48 * HOUR)
    newest = {"booking_id": ids["booking"], "scheduled_start": iso(start + 5 * HOUR),
              "scheduled_end": iso(start + 6 * HOUR)}
    older = {"booking_id": ids["booking"], "scheduled_start": iso(start + 2 * HOUR),
             "scheduled_end": iso(start + 3 * HOUR)}
    newest_id, applied = emit("Booking Rescheduled", newest, at=start - 10 * HOUR)
    assert applied == {"outcome": "rescheduled"}
    _, late = emit("Booking Rescheduled", older, at=start - 20 * HOUR)
    assert late == {"outcome": "unchanged"}
    envelope = stack.booking_events.envelopes[newest_id]
    assert stack.booking_events.deliver(envelope) == {"outcome": "duplicate"}
    # a delivery that died after its change but before its marker: redone, its version is already the
    # room's, so nothing changes
    from rooms import store

    store.booking.BookingEventMarker(*store.booking.BookingEventMarker.key(newest_id)).delete()
    assert stack.booking_events.deliver(envelope) == {"outcome": "unchanged"}
    # a confirmation of the same times is the latest word too: an older change arriving after it loses
    _, same = emit("Booking Rescheduled", newest, at=start - 8 * HOUR)
    assert same == {"outcome": "unchanged"}
    _, between = emit("Booking Rescheduled", older, at=start - 9 * HOUR)
    assert between == {"outcome": "unchanged"}
    room = booking_room(api, ids).json()
    assert (room["scheduled_start"], room["scheduled_end"]) == (newest["scheduled_start"], newest["scheduled_end"])
    # the open moved with it
    assert sweep(stack, start + 5 * HOUR - 15 * MINUTE).get("opened") == 1


def test_cancel_before_confirmation_and_a_late_confirmation_leave_the_booking_cancelled(
        api, stack, ids, start, emit, published):
    cancel_id, kept = emit("Booking Cancelled", {"booking_id": ids["booking"], "reason": "changed my mind"},
                   at=start - 40 * HOUR)
    assert kept == {"outcome": "kept_until_room_exists"}
    _, created = emit("Booking Confirmed", confirmed(ids, start, sip={"enabled": True, "region": "US"}),
                      at=start - 48 * HOUR)
    assert created == {"outcome": "created"}
    room = booking_room(api, ids).json()
    assert room["status"] == "cancelled" and room["dial_in"] is None
    [event] = published.of(room["room_id"], "Room Cancelled")
    assert event["detail"]["reason"] == "changed my mind"
    assert event["detail"]["cancelled_by"] == f"{SOURCE}:{cancel_id}"  # the platform, by that event

    assert [lock for lock in pins_held("+12025550100") if lock.room_id == room["room_id"]] == []

    # the platform re-sends its confirmation: the cancelled booking stays cancelled
    _, resent = emit("Booking Confirmed", confirmed(ids, start), at=start - 30 * HOUR)
    assert resent == {"outcome": "room_cancelled"}
    _, twice = emit("Booking Cancelled", {"booking_id": ids["booking"]}, at=start - 20 * HOUR)
    assert twice == {"outcome": "already_cancelled"}
    assert booking_room(api, ids).json()["status"] == "cancelled"
    assert len(published.of(room["room_id"], "Room Cancelled")) == 1
    token = api.call("POST", f"/bookings/{ids['booking']}/room/token", as_user=ids["client"])
    assert token.json()["code"] == "room_cancelled"


def test_attendees_in_any_order_and_before_their_session(api, stack, ids, start, emit):
    session = ids["session"]
    attendee, other = ids["client"], ids["other"]
    # an attendee confirmed before the session exists is kept; one cancelled after confirming, with the
    # events swapped, ends revoked
    _, kept = emit("Attendee Confirmed", {"service_session_id": session, "user_id": attendee, "name": "Clara"},
                   at=start - 30 * HOUR)
    assert kept == {"outcome": "kept_until_room_exists"}
    _, created = emit("Session Scheduled", {
        "service_session_id": session, "service_type": "yoga_class", "scheduled_start": iso(start),
        "scheduled_end": iso(start + HOUR), "host": {"user_id": ids["host"]}}, at=start - 48 * HOUR)
    assert created == {"outcome": "created"}
    token = api.call("POST", f"/sessions/{session}/room/token", as_user=attendee)
    assert token.status_code == 200, token.text

    _, revoked = emit("Attendee Cancelled", {"service_session_id": session, "user_id": other},
                      at=start - 10 * HOUR)
    assert revoked == {"outcome": "revoked"}
    _, stale = emit("Attendee Confirmed", {"service_session_id": session, "user_id": other}, at=start - 20 * HOUR)
    assert stale == {"outcome": "stale"}
    refused = api.call("POST", f"/sessions/{session}/room/token", as_user=other)
    assert (refused.status_code, refused.json()["code"]) == (403, "membership_revoked")

    _, gone = emit("Attendee Cancelled", {"service_session_id": session, "user_id": attendee}, at=start - 5 * HOUR)
    assert gone == {"outcome": "revoked"}
    assert api.call("POST", f"/sessions/{session}/room/token", as_user=attendee).status_code == 403

    _, moved = emit("Session Rescheduled", {"service_session_id": session, "scheduled_start": iso(start + HOUR),
                                            "scheduled_end": iso(start + 2 * HOUR)}, at=start - 4 * HOUR)
    assert moved == {"outcome": "rescheduled"}
    _, cancelled = emit("Session Cancelled", {"service_session_id": session}, at=start - 3 * HOUR)
    assert cancelled == {"outcome": "cancelled"}


@pytest.mark.parametrize("detail_type, detail, reason", [
    ("Booking Rescheduled", {"booking_id": "{booking}"}, "detail.scheduled_start: Field required"),
    ("Booking Confirmed", {"booking_id": "{booking}", "template": "nope", "host": {"user_id": "h"}},
     "detail.template: unknown template 'nope'"),
    ("Booking Confirmed", {"booking_id": "{booking}", "host": {"user_id": "h"}}, "detail.room_type: give"),
    ("Attendee Confirmed", {"service_session_id": "s", "user_id": "u", "role": "boss"}, "detail.role"),
    ("Booking Cancelled", {"booking_id": "{booking}", "because": "x"}, "detail.because: Extra inputs"),
])
def test_a_malformed_event_lands_in_the_failure_queue_with_its_reason(api, stack, ids, start, emit,
                                                                      detail_type, detail, reason):
    detail = json.loads(json.dumps(detail).replace("{booking}", ids["booking"]))
    event_id, result = emit(detail_type, detail, at=start)
    assert result["error_type"] == "MalformedEvent" and result["error"].startswith(reason), result
    [record] = [r for r in stack.booking_events.failures() if r["requestPayload"]["id"] == event_id]
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["responsePayload"]["errorMessage"].startswith(reason)
    assert booking_room(api, ids).status_code == 404  # never half-applied: no room, nothing kept
    from rooms import store
    from rooms.room.ids import room_id_for_booking

    assert store.booking.pending_events(room_id_for_booking(ids["booking"])) == []


def test_other_sources_and_detail_types_are_not_delivered(api, stack, bus, ids, start, emit):
    put = []
    for source, detail_type in ((SOURCE, "Booking Paid"), ("someone-else", "Booking Confirmed")):
        response = bus.put_events(Entries=[{"Source": source, "DetailType": detail_type,
                                            "Detail": json.dumps(confirmed(ids, start)),
                                            "EventBusName": stack.config.event_bus_name}])
        put.append(response["Entries"][0]["EventId"])
    # one the rule matches, put after them, has been delivered: the others never will be
    emit("Booking Cancelled", {"booking_id": ids["other"]}, at=start)
    assert not set(put) & set(stack.booking_events.results)
    assert booking_room(api, ids).status_code == 404


def test_booking_cancelled_during_the_live_session_removes_everyone_frees_the_pin_and_is_no_no_show(
        api, stack, ids, start, emit, published):
    from rooms_local.livekit_emulator import control

    emit("Booking Confirmed", confirmed(ids, start, sip={"enabled": True, "region": "US"}), at=start - 48 * HOUR)
    room = booking_room(api, ids).json()
    assert sweep(stack, start - 15 * MINUTE).get("opened") == 1
    token = api.call("POST", f"/bookings/{ids['booking']}/room/token", as_user=ids["host"]).json()["token"]
    control.join(stack.config.livekit_url, token)  # the client never comes: this would be a no-show
    control.drain_webhooks(stack.config.livekit_url)

    _, result = emit("Booking Cancelled", {"booking_id": ids["booking"], "reason": "practitioner ill"},
                     at=start + 5 * MINUTE)
    assert result == {"outcome": "cancelled"}
    names = {r["name"] for r in control.state(stack.config.livekit_url)["rooms"]}
    assert room["livekit_room"] not in names  # everyone disconnected
    assert [lock for lock in pins_held("+12025550100") if lock.room_id == room["room_id"]] == []
    control.drain_webhooks(stack.config.livekit_url)  # the room_finished that follows changes nothing
    assert booking_room(api, ids).json()["status"] == "cancelled"

    report = sweep(stack, start + HOUR + 30 * MINUTE)
    assert report.get("no_show") is None
    assert booking_room(api, ids).json()["no_show"] is None
    assert published.of(room["room_id"], "Room No-Show") == []
    assert len(published.of(room["room_id"], "Room Cancelled")) == 1


# --- audit of issue 14: what the tests above left unproven ----------------------------------------------


def _envelope(event_id: str, detail_type: str, detail: dict, at: datetime) -> dict:
    return {"version": "0", "id": event_id, "detail-type": detail_type, "source": SOURCE,
            "account": "123456789012", "time": iso(at), "region": "us-east-1", "resources": [], "detail": detail}


@pytest.mark.parametrize("kept_first", [True, False])
def test_a_reschedule_in_the_same_second_as_its_confirmation_is_applied(api, stack, ids, start, kept_first):
    # EventBridge times are whole seconds: a confirmation and its reschedule can share one. A reschedule
    # always comes after its booking's confirmation, whatever the event ids say ("z..." sorts after "a...").
    at = start - 48 * HOUR
    later = {"booking_id": ids["booking"], "scheduled_start": iso(start + 4 * HOUR),
             "scheduled_end": iso(start + 5 * HOUR)}
    confirm = _envelope(f"z-{ids['booking']}", "Booking Confirmed", confirmed(ids, start), at)
    move = _envelope(f"a-{ids['booking']}", "Booking Rescheduled", later, at)
    first, second = (move, confirm) if kept_first else (confirm, move)
    outcomes = [stack.booking_events.deliver(first)["outcome"], stack.booking_events.deliver(second)["outcome"]]
    assert outcomes == (["kept_until_room_exists", "created"] if kept_first else ["created", "rescheduled"])
    room = booking_room(api, ids).json()
    assert (room["scheduled_start"], room["scheduled_end"]) == (later["scheduled_start"], later["scheduled_end"])


def test_events_kept_before_the_room_are_applied_when_post_rooms_creates_it(api, stack, ids, start, emit):
    # the platform's backend creates the room by API, late (a retried call with the body it had at
    # confirmation time), after the booking was rescheduled and an attendee confirmed by events
    now = datetime.now(UTC).replace(microsecond=0)
    later = {"booking_id": ids["booking"], "scheduled_start": iso(start + 2 * HOUR),
             "scheduled_end": iso(start + 3 * HOUR)}
    _, kept = emit("Booking Rescheduled", later, at=now - 10 * MINUTE)
    assert kept == {"outcome": "kept_until_room_exists"}
    _, kept = emit("Attendee Confirmed", {"service_session_id": ids["session"], "user_id": ids["other"],
                                          "name": "Olga"}, at=now - 10 * MINUTE)
    assert kept == {"outcome": "kept_until_room_exists"}

    r = api.admin("POST", "/rooms", json=confirmed(ids, start))
    assert r.status_code == 201, r.text
    assert (r.json()["scheduled_start"], r.json()["scheduled_end"]) == (later["scheduled_start"],
                                                                        later["scheduled_end"])
    session = api.admin("POST", "/rooms", json={
        "service_session_id": ids["session"], "service_type": "yoga_class", "scheduled_start": iso(start),
        "scheduled_end": iso(start + HOUR), "host": {"user_id": ids["host"]}})
    assert session.status_code == 201, session.text
    token = api.call("POST", f"/sessions/{ids['session']}/room/token", as_user=ids["other"])
    assert token.status_code == 200, token.text
    from rooms import store

    for room_id in (r.json()["room_id"], session.json()["room_id"]):
        assert store.booking.pending_events(room_id) == []  # applied once, then gone
    # the kept events' redeliveries are duplicates: nothing applied twice
    again = api.admin("POST", "/rooms", json=confirmed(ids, start))
    assert again.status_code == 200 and again.json()["scheduled_start"] == later["scheduled_start"]


def test_rooms_emit_delivers_every_sample_in_events(api, stack, capsys, monkeypatch):
    """Every SPEC detail-type has a sample in events/, and ``rooms emit FILE`` puts each on the bus for the
    rule to deliver, in the order a platform would send them (a second apart: the order is their time)."""
    import time

    from rooms.lifecycle.booking_models import INBOUND_DETAIL_TYPES

    monkeypatch.setenv("MOTO_PORT", str(stack.config.moto_port))
    order = ["booking_confirmed", "booking_rescheduled", "booking_cancelled", "session_scheduled",
             "attendee_confirmed", "attendee_cancelled", "session_rescheduled", "session_cancelled"]
    samples = {name: json.loads((cli.EVENTS_DIR / f"{name}.json").read_text()) for name in order}
    assert {s["detail-type"] for s in samples.values()} == set(INBOUND_DETAIL_TYPES)
    assert all(s["source"] == SOURCE for s in samples.values())
    outcomes = {}
    for name in order:
        time.sleep(1.0 - time.time() % 1 + 0.01)  # the next second
        assert cli.main(["emit", f"{name}.json"]) == 0
        out = capsys.readouterr().out  # (the in-process stack may have printed a log or metric line too)
        printed = json.loads(out[out.index('{\n  "entries"'):])
        assert printed["failed"] == 0, printed
        outcomes[name] = stack.booking_events.wait(printed["entries"][0]["EventId"]).get("outcome")
        if name == "booking_confirmed":
            room = api.admin("GET", f"/bookings/{samples[name]['detail']['booking_id']}/room").json()
            assert room["scheduled_start"] == samples[name]["detail"]["scheduled_start"]
    assert outcomes == {"booking_confirmed": "created", "booking_rescheduled": "rescheduled",
                        "booking_cancelled": "cancelled",
                        "session_scheduled": "created", "attendee_confirmed": "granted",
                        "attendee_cancelled": "revoked", "session_rescheduled": "rescheduled",
                        "session_cancelled": "cancelled"}, outcomes
    booking = api.admin("GET", f"/bookings/{samples['booking_confirmed']['detail']['booking_id']}/room").json()
    assert booking["status"] == "cancelled"
    assert booking["scheduled_start"] == samples["booking_rescheduled"]["detail"]["scheduled_start"]
    session = api.admin("GET", f"/sessions/{samples['session_scheduled']['detail']['service_session_id']}/room")
    assert session.json()["status"] == "cancelled"
    assert session.json()["scheduled_start"] == samples["session_rescheduled"]["detail"]["scheduled_start"]
