"""The room sweeper against the local stack, with a frozen clock (the schedule event's ``time``).

Each test schedules its rooms on its own far-future day, so the sweeps of one test never see another
test's rooms (a sweep reads today's bucket and ``sweep_lookback_days`` before it).
"""

from __future__ import annotations

import itertools
import json
import random
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from rooms.clock import iso
from rooms_local.livekit_emulator import control
from rooms_local.schedules import schedule_event
from tests import livekit_webhooks as lw

_DAYS = itertools.count(random.randrange(2000) * 5, 5)
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
SECOND = timedelta(seconds=1)


@pytest.fixture
def start() -> datetime:
    """A scheduled start on a day no other test uses."""
    return datetime(2045, 1, 1, 10, 0, tzinfo=UTC) + timedelta(days=next(_DAYS))


def sweep(stack, now: datetime) -> dict:
    return stack.runner.invoke("room_sweeper", schedule_event(now))


def mark_attended(room_id: str, *user_ids: str) -> None:
    """What the participant webhook handlers record (RoomItem.attendee_ids and one 50-minute connection
    from the scheduled start), written directly so these tests do not depend on the attendance handlers."""
    from rooms import store

    store.bind()
    room = store.get_room(room_id, consistent=True)
    joined = int(datetime.fromisoformat(room.scheduled_start).timestamp())
    for user_id in user_ids:
        store.SegmentItem(*store.SegmentItem.key(room_id, user_id, f"PA_{user_id}"), room_id=room_id,
                          identity=user_id, user_id=user_id, participant_sid=f"PA_{user_id}", joined_at=joined,
                          left_at=joined + 3000, role="host" if user_id == room.host_user_id else "participant").save()
    store.RoomItem(*store.RoomItem.key(room_id)).update(actions=[store.RoomItem.attendee_ids.add(set(user_ids))])


def finished_event(room: dict, at: datetime):
    """LiveKit's room_finished for the room's current LiveKit room (its SID)."""
    from rooms import store

    ev = lw.event("room_finished", room_name=room["livekit_room"], created_at=int(at.timestamp()))
    ev.room.sid = store.get_room(room["room_id"], consistent=True).livekit_sid
    return ev


class EventLog:
    """The service's EventBridge events, delivered by a rule on the bus to an SQS queue in moto."""

    def __init__(self, config) -> None:
        self.sqs = boto3.client("sqs", endpoint_url=config.moto_url, region_name=config.region)
        events = boto3.client("events", endpoint_url=config.moto_url, region_name=config.region)
        name = f"rooms-events-{uuid.uuid4().hex[:8]}"
        self.url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name=name, EventBusName=config.event_bus_name, EventPattern=json.dumps({"source": ["rooms"]}))
        events.put_targets(Rule=name, EventBusName=config.event_bus_name, Targets=[{"Id": "queue", "Arn": arn}])
        self.seen: list[dict] = []

    def of(self, room_id: str, detail_type: str | None = None) -> list[dict]:
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                break
            for message in batch:
                self.seen.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return [e for e in self.seen if e["detail"].get("room_id") == room_id
                and (detail_type is None or e["detail-type"] == detail_type)]


@pytest.fixture(scope="module")
def published(stack) -> EventLog:
    return EventLog(stack.config)


def livekit_rooms(stack) -> dict[str, dict]:
    return {r["name"]: r for r in control.state(stack.config.livekit_url)["rooms"]}


def create(api, ids, start, *, session=False, end=True, **extra) -> dict:
    body = {("service_session_id" if session else "booking_id"): ids["session" if session else "booking"],
            "service_type": "yoga_class" if session else "therapy",
            "scheduled_start": iso(start), "host": {"user_id": ids["host"], "name": "Dr Who"},
            "members": [{"user_id": ids["client"], "name": "Clara"}], **extra}
    if end:
        body["scheduled_end"] = iso(start + HOUR)
    r = api.admin("POST", "/rooms", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def get(api, room) -> dict:
    r = api.admin("GET", f"/rooms/{room['room_id']}")
    assert r.status_code == 200, r.text
    return r.json()


# --- open -----------------------------------------------------------------------------------------------


def test_group_room_opens_exactly_at_the_lead_time_with_its_waiting_room(api, stack, ids, start):
    room = create(api, ids, start, session=True)
    assert room["waiting_room"] is True  # the group template's

    early = sweep(stack, start - 15 * MINUTE - SECOND)
    assert early["due"] == 0
    assert get(api, room)["status"] == "scheduled" and room["livekit_room"] not in livekit_rooms(stack)

    report = sweep(stack, start - 15 * MINUTE)
    assert (report["due"], report.get("opened")) == (1, 1)
    opened = get(api, room)
    assert opened["status"] == "open" and opened["opened_at"] == iso(start - 15 * MINUTE)
    lk = livekit_rooms(stack)[room["livekit_room"]]
    # LiveKit's empty timeout counts from the start, so the room is still there when the session begins
    assert int(lk["emptyTimeout"]) == 600 + 15 * 60

    # the attendee's token puts them in the waiting room; the host's does not
    token = api.call("POST", f"/rooms/{room['room_id']}/token", as_user=ids["client"]).json()
    assert token["waiting"] is True
    assert api.call("POST", f"/rooms/{room['room_id']}/token", as_user=ids["host"]).json()["waiting"] is False

    # opened once: the same minute again, and the minutes after, find nothing due until the end check
    assert sweep(stack, start - 15 * MINUTE)["due"] == 0
    assert sweep(stack, start + HOUR + 29 * MINUTE)["due"] == 0


def test_scheduled_booking_room_is_opened_too_and_tokens_share_the_livekit_room(api, stack, ids, start):
    room = create(api, ids, start)
    assert sweep(stack, start - 10 * MINUTE).get("opened") == 1  # a late sweep still opens it
    sid = get(api, room)
    assert sid["status"] == "open"
    token = api.call("POST", f"/bookings/{ids['booking']}/room/token", as_user=ids["client"])
    assert token.status_code == 200 and token.json()["waiting"] is False
    joined = control.join(stack.config.livekit_url, token.json()["token"])
    assert joined["identity"] == ids["client"]


# --- end and no-shows -------------------------------------------------------------------------------------


def test_room_still_open_is_ended_at_end_plus_grace(api, stack, ids, start, published):
    room = create(api, ids, start)
    sweep(stack, start - 15 * MINUTE)
    for user in (ids["host"], ids["client"]):
        token = api.call("POST", f"/rooms/{room['room_id']}/token", as_user=user).json()["token"]
        control.join(stack.config.livekit_url, token)
    control.drain_webhooks(stack.config.livekit_url)  # participant_joined → attendance, attendee_ids
    assert len(livekit_rooms(stack)[room["livekit_room"]]["participants"]) == 2
    # they stay 10 minutes by LiveKit's clock (a session of a few seconds would not be attendance)
    control.advance_clock(stack.config.livekit_url, 600)

    assert sweep(stack, start + HOUR + 30 * MINUTE - SECOND)["due"] == 0
    assert get(api, room)["status"] == "active"

    report = sweep(stack, start + HOUR + 30 * MINUTE)
    assert (report.get("ended"), report.get("settled"), report.get("no_show")) == (1, 1, None)
    ended = get(api, room)
    assert ended["status"] == "ended" and ended["ended_at"] == iso(start + HOUR + 30 * MINUTE)
    assert ended["no_show"] is None
    assert room["livekit_room"] not in livekit_rooms(stack)  # participants removed with the room
    [event] = published.of(room["room_id"], "Room Ended")
    assert event["source"] == "rooms"
    assert event["detail"]["end_reason"] == "scheduled_end_passed" and event["detail"]["ended_by"] == "sweeper"
    assert published.of(room["room_id"], "Room No-Show") == []
    # a token for the ended room is refused
    assert api.call("POST", f"/rooms/{room['room_id']}/token", as_user=ids["host"]).status_code == 409
    assert sweep(stack, start + 2 * HOUR)["due"] == 0  # settled: out of the index


@pytest.mark.parametrize("came, kind, host_absent, absent", [
    ((), "nobody", True, ("client", "host")),
    (("client",), "host_absent", True, ("host",)),
    (("host",), "client_absent", False, ("client",)),
])
def test_no_shows_are_marked_and_published(api, stack, ids, start, published, came, kind, host_absent, absent):
    room = create(api, ids, start)
    sweep(stack, start - 15 * MINUTE)
    if came:
        mark_attended(room["room_id"], *(ids[who] for who in came))
    report = sweep(stack, start + HOUR + 30 * MINUTE)
    assert (report.get("ended"), report.get("no_show")) == (1, 1)
    expected = {"kind": kind, "host_absent": host_absent, "absent": sorted(ids[w] for w in absent),
                "attendees": sorted(ids[w] for w in came)}
    assert get(api, room)["no_show"] == expected
    [event] = published.of(room["room_id"], "Room No-Show")
    assert {k: event["detail"][k] for k in expected} == expected
    assert event["detail"]["booking_id"] == ids["booking"] and event["detail"]["host_user_id"] == ids["host"]


def test_group_session_with_only_the_host_is_an_attendees_no_show(api, stack, ids, start, published):
    room = create(api, ids, start, session=True)
    sweep(stack, start - 15 * MINUTE)
    mark_attended(room["room_id"], ids["host"])
    sweep(stack, start + HOUR + 30 * MINUTE)
    no_show = get(api, room)["no_show"]
    assert no_show["kind"] == "attendees_absent" and no_show["absent"] == [ids["client"]]
    assert len(published.of(room["room_id"], "Room No-Show")) == 1


def test_room_finished_by_livekit_after_its_end_is_settled_by_the_next_sweep(api, stack, ids, start, published):
    room = create(api, ids, start)
    sweep(stack, start - 15 * MINUTE)
    mark_attended(room["room_id"], ids["host"])
    finished_at = start + HOUR + 5 * MINUTE  # the host waited, left after the end, LiveKit closed the room
    ev = finished_event(room, finished_at)
    assert lw.deliver(stack.config.webhook_url, ev).json()["outcome"] == "handled"
    assert get(api, room)["status"] == "ended"

    report = sweep(stack, finished_at + MINUTE)
    assert (report["due"], report.get("ended"), report.get("no_show")) == (1, None, 1)
    assert get(api, room)["no_show"]["kind"] == "client_absent"
    assert published.of(room["room_id"], "Room Ended") == []  # the sweeper did not end it
    assert len(published.of(room["room_id"], "Room No-Show")) == 1
    assert sweep(stack, start + 2 * HOUR)["due"] == 0  # nothing left at the old end check


def test_room_finished_by_livekit_before_its_end_stays_joinable_then_is_ended(api, stack, ids, start, published):
    room = create(api, ids, start)
    sweep(stack, start - 15 * MINUTE)
    mark_attended(room["room_id"], ids["host"])
    finished_at = start + 20 * MINUTE  # everyone dropped for a while: LiveKit closed its room
    ev = finished_event(room, finished_at)
    assert lw.deliver(stack.config.webhook_url, ev).json()["outcome"] == "handled"
    assert get(api, room)["status"] in ("open", "active")

    report = sweep(stack, start + HOUR + 30 * MINUTE)
    assert (report.get("ended"), report.get("no_show")) == (1, 1)
    assert get(api, room)["status"] == "ended" and get(api, room)["no_show"]["kind"] == "client_absent"
    assert len(published.of(room["room_id"], "Room Ended")) == 1


def test_room_ended_by_the_platform_before_its_start_is_not_a_no_show(api, stack, ids, start, published):
    room = create(api, ids, start)
    r = api.admin("DELETE", f"/rooms/{room['room_id']}")  # the booking was cancelled (real clock: now)
    assert r.status_code == 200 and r.json()["changed"] is True
    report = sweep(stack, datetime.now(UTC) + MINUTE)
    assert report.get("settled", 0) >= 1
    assert get(api, room)["no_show"] is None and published.of(room["room_id"]) == []
    assert sweep(stack, start - 15 * MINUTE)["due"] == 0  # and it is not opened later


def test_room_never_opened_by_its_end_check_expires_as_nobody_showed(api, stack, ids, start, published):
    room = create(api, ids, start)
    # the sweeper was down from before the open until after the end check
    report = sweep(stack, start + HOUR + 45 * MINUTE)
    assert (report.get("expired"), report.get("no_show")) == (1, 1)
    expired = get(api, room)
    assert expired["status"] == "expired" and expired["no_show"]["kind"] == "nobody"
    assert room["livekit_room"] not in livekit_rooms(stack)
    r = api.call("POST", f"/rooms/{room['room_id']}/token", as_user=ids["client"])
    assert r.status_code == 410 and r.json()["code"] == "room_expired"
    assert [e["detail"]["status"] for e in published.of(room["room_id"], "Room Ended")] == ["expired"]


def test_room_without_a_schedule_enters_the_index_only_once_open(api, stack, ids, booking_room):
    from rooms import store

    item = store.get_room(booking_room["room_id"], consistent=True)
    assert item.gsi1pk is None and item.gsi1sk is None
    api.call("POST", f"/rooms/{booking_room['room_id']}/token", as_user=ids["host"])
    item = store.get_room(booking_room["room_id"], consistent=True)
    due_at = datetime.fromisoformat(item.gsi1sk.partition("#")[0].replace("Z", "+00:00"))
    opened = datetime.fromisoformat(item.opened_at.replace("Z", "+00:00"))
    assert due_at - opened == 5 * MINUTE  # live_check_minutes


# --- live checks of rooms with no scheduled end -----------------------------------------------------------


def _due_at(room_id: str):
    from rooms import store

    item = store.get_room(room_id, consistent=True)
    return item, datetime.fromisoformat(item.gsi1sk.partition("#")[0].replace("Z", "+00:00"))


def _check_time(stack, due_at: datetime) -> datetime:
    """When to run the check: when it is due, but after the emulator's clock (which other tests may
    have moved forward), so that LiveKit's timestamps come before it as they would."""
    livekit_now = datetime.fromtimestamp(control.advance_clock(stack.config.livekit_url, 0)["now"], UTC)
    return max(due_at, livekit_now.replace(microsecond=0) + MINUTE)


def _webhooks(stack, on: bool) -> None:
    """LiveKit's webhooks delivered or lost (best-effort delivery, LIVEKIT.md)."""
    control.configure(stack.config.livekit_url, webhook_urls=[stack.config.webhook_url] if on else [])


def test_live_check_reconciles_a_lost_participant_left(api, stack, ids, booking_room):
    from rooms.lifecycle.sweeper import room_due
    from rooms.settings import get_settings

    room_id, url = booking_room["room_id"], stack.config.livekit_url
    for user in (ids["host"], ids["client"]):
        control.join(url, api.call("POST", f"/rooms/{room_id}/token", as_user=user).json()["token"])
    _webhooks(stack, False)
    try:
        control.leave(url, booking_room["livekit_room"], ids["client"])  # its participant_left is lost
    finally:
        _webhooks(stack, True)
    item, due_at = _due_at(room_id)
    check_at = _check_time(stack, due_at)
    assert room_due(item, check_at, get_settings()) == ["checked"]
    attendance = api.call("GET", f"/rooms/{room_id}/attendance", as_user=ids["host"]).json()
    by_user = {p["identity"]: p for p in attendance["participants"]}
    assert by_user[ids["client"]]["last_left_at"] == iso(check_at)  # closed by the check, not left open
    assert by_user[ids["host"]]["connected"] is True
    assert get(api, booking_room)["status"] == "active"
    assert _due_at(room_id)[1] == check_at + 5 * MINUTE  # and checked again later


def test_live_check_closes_a_room_whose_room_finished_was_lost(api, stack, ids, booking_room):
    import asyncio

    from livekit import api as lk

    from rooms.lifecycle.sweeper import room_due
    from rooms.settings import get_settings

    room_id = booking_room["room_id"]
    token = api.call("POST", f"/rooms/{room_id}/token", as_user=ids["host"]).json()["token"]
    control.join(stack.config.livekit_url, token)

    async def delete_in_livekit():
        client = lk.LiveKitAPI(stack.config.livekit_url, stack.config.livekit_api_key, stack.config.livekit_api_secret)
        try:
            await client.room.delete_room(lk.DeleteRoomRequest(room=booking_room["livekit_room"]))
        finally:
            await client.aclose()

    _webhooks(stack, False)
    try:
        asyncio.run(delete_in_livekit())  # LiveKit closes the room; participant_left and room_finished lost
        control.drain_webhooks(stack.config.livekit_url)
    finally:
        _webhooks(stack, True)
    assert get(api, booking_room)["status"] == "active"  # we never heard
    item, due_at = _due_at(room_id)
    check_at = _check_time(stack, due_at)
    assert room_due(item, check_at, get_settings()) == ["ended_lost_room_finished"]
    room = get(api, booking_room)
    assert room["status"] == "ended" and room["ended_at"] == iso(check_at)
    attendance = api.call("GET", f"/rooms/{room_id}/attendance", as_user=ids["host"]).json()
    (host,) = [p for p in attendance["participants"] if p["identity"] == ids["host"]]
    assert host["connected"] is False and host["last_left_at"] == iso(check_at)
    from rooms import store

    assert store.get_room(room_id, consistent=True).gsi1sk is None  # out of the index


# --- concurrency ---------------------------------------------------------------------------------------------


def test_two_overlapping_sweeps_act_once_on_each_room(api, stack, start, published, monkeypatch):
    from rooms import store
    from rooms.livekit_gateway import room_service as gateway

    def fresh_ids():
        suffix = uuid.uuid4().hex[:10]
        return {"booking": f"bk-{suffix}", "session": f"ss-{suffix}", "host": f"dr-{suffix}",
                "client": f"cl-{suffix}"}

    to_open = [create(api, fresh_ids(), start + 2 * HOUR) for _ in range(4)]
    to_end = [create(api, fresh_ids(), start - 2 * HOUR) for _ in range(3)]
    sweep(stack, start - 2 * HOUR - 15 * MINUTE)  # opens the early ones
    now = start + 2 * HOUR - 15 * MINUTE  # the early ones' end check (+1h +30m) and the late ones' open

    calls: Counter[tuple[str, str]] = Counter()
    lock = threading.Lock()
    real_ensure, real_delete, real_due_items = gateway.ensure_room, gateway.delete_room, store.due_items

    def ensure_room(config, **kw):
        with lock:
            calls[("create", config.name)] += 1
        return real_ensure(config, **kw)

    def delete_room(name):
        with lock:
            calls[("delete", name)] += 1
        return real_delete(name)

    both_read = threading.Barrier(2, timeout=20)

    def due_items(*args, **kw):
        items = list(real_due_items(*args, **kw))
        both_read.wait()  # both sweeps have read the same due rooms before either acts
        return iter(items)

    monkeypatch.setattr(gateway, "ensure_room", ensure_room)
    monkeypatch.setattr(gateway, "delete_room", delete_room)
    monkeypatch.setattr(store, "due_items", due_items)
    with ThreadPoolExecutor(2) as pool:
        reports = list(pool.map(lambda _: sweep(stack, now), range(2)))

    assert [r["due"] for r in reports] == [7, 7]
    total = Counter()
    for r in reports:
        total.update({k: v for k, v in r.items() if k not in ("now", "due")})
    assert total["opened"] == 4 and total["ended"] == 3 and total["taken"] == 7, json.dumps(reports)
    assert total["no_show"] == 3 and total.get("failed", 0) == 0
    assert calls == Counter({("create", r["livekit_room"]): 1 for r in to_open}
                            | {("delete", r["livekit_room"]): 1 for r in to_end})
    for room in to_end:
        assert len(published.of(room["room_id"], "Room Ended")) == 1
        assert len(published.of(room["room_id"], "Room No-Show")) == 1
    for room in to_open:
        assert get(api, room)["status"] == "open" and published.of(room["room_id"]) == []


def test_a_crashed_claim_is_retried_after_its_lease(api, stack, ids, start, monkeypatch):
    from rooms.errors import UpstreamUnavailable
    from rooms.livekit_gateway import room_service as gateway

    room = create(api, ids, start)

    def down(*args, **kw):
        raise UpstreamUnavailable("LiveKit is unreachable", code="livekit_unavailable")

    monkeypatch.setattr(gateway, "ensure_room", down)
    report = sweep(stack, start - 15 * MINUTE)
    assert report.get("failed") == 1 and get(api, room)["status"] == "scheduled"
    monkeypatch.undo()
    assert sweep(stack, start - 14 * MINUTE)["due"] == 0  # held by the failed sweep's claim
    retried = sweep(stack, start - 10 * MINUTE)  # the 5-minute lease ran out
    assert retried.get("opened") == 1 and get(api, room)["status"] == "open"



def _dial_out_attempt(room_id: str, *, at: datetime, status: str, window_start: str, identity: str = "phone-lost"):
    """An attempt as sip_dial records it (and, for ``dialing``, as the worker claims it), whose worker then
    never finished: nothing but the store, so nothing else settles it."""
    from rooms import store
    from rooms.phone.dial_out import STALE_AFTER

    item = store.DialOutItem(*store.DialOutItem.key(room_id, uuid.uuid4().hex), room_id=room_id, status="requested",
                             requested_by="dr-lost", requested_at=iso(at), window_start=window_start, identity=identity,
                             phone_number="+12025550100", phone_number_masked="+1202*****00", name="Phone")
    item.dial_out_id = item.sk.removeprefix("DIALCALL#")
    store.create_dial_out(item, stale_at=at + STALE_AFTER)
    if status == "dialing":
        assert store.claim_dial_out(room_id, item.dial_out_id, now=iso(at), stale_at=at + STALE_AFTER)
    return item


def test_a_dial_out_whose_worker_never_finished_fails_and_gives_its_slot_back(stack, start):
    from rooms import store
    from rooms.phone.dial_out import STALE_AFTER, WORKER_LOST

    room_id, window = str(uuid.uuid4()), iso(start)
    for _ in range(2):
        assert store.take_dial_out_slot(room_id, window_start=window, limit=5, expires_at=start + HOUR)
    lost = [_dial_out_attempt(room_id, at=start, status=s, window_start=window) for s in ("requested", "dialing")]
    assert "dial_out_failed_stale" not in sweep(stack, start + STALE_AFTER - SECOND)  # its worker may still run
    report = sweep(stack, start + STALE_AFTER + SECOND)
    assert report["dial_out_failed_stale"] == 2, report
    for attempt in lost:
        item = store.get_dial_out(room_id, attempt.dial_out_id)
        assert (item.status, item.error, item.phone_number, item.gsi1pk) == ("failed", WORKER_LOST, None, None)
    window_item = store.DialOutWindow.get(*store.DialOutWindow.key(room_id, window), consistent_read=True)
    assert int(window_item.count) == 0  # both slots back
    assert "dial_out_failed_stale" not in sweep(stack, start + 2 * STALE_AFTER)  # settled once


def test_a_dial_out_answered_after_its_worker_died_is_answered_with_attendance(api, stack, ids, start):
    """The worker placed the call and died before it recorded the answer: LiveKit shows the callee
    connected (its dial-out id in the attributes), so the sweeper records it answered, with attendance."""
    from rooms import store
    from rooms.livekit_gateway import sip_service
    from rooms.phone.dial_out import STALE_AFTER
    from rooms.phone.numbers import DIAL_OUT_ID_ATTRIBUTE
    from rooms.settings import get_settings

    room = api.admin("POST", "/rooms", json={"booking_id": ids["booking"], "room_type": "individual",
                                             "host": {"user_id": ids["host"]}, "members": [{"user_id": ids["client"]}],
                                             "waiting_room": False, "sip": {"enabled": True, "region": "US"}}).json()
    assert api.call("POST", f"/rooms/{room['room_id']}/token", as_user=ids["host"]).status_code == 200  # opens it
    attempt = _dial_out_attempt(room["room_id"], at=start, status="dialing", window_start=iso(start),
                                identity="phone-answered")
    placed = sip_service.create_sip_participant(
        trunk_id=get_settings().sip_outbound_trunk_id, call_to="+12025550100", room_name=room["livekit_room"],
        identity="phone-answered", name="Phone", attributes={DIAL_OUT_ID_ATTRIBUTE: attempt.dial_out_id},
        hide_phone_number=True, ringing_timeout_seconds=30, wait_until_answered=True)
    control.drain_webhooks(stack.config.livekit_url)
    report = sweep(stack, start + STALE_AFTER + SECOND)
    assert report["dial_out_answered_late"] == 1, report
    item = store.get_dial_out(room["room_id"], attempt.dial_out_id)
    assert item.status == "answered" and item.participant_id == placed.participant_id and item.gsi1pk is None
    attendance = api.admin("GET", f"/rooms/{room['room_id']}/attendance").json()
    phone = next(p for p in attendance["participants"] if p["identity"] == "phone-answered")
    assert phone["via"] == "phone" and phone["segments"][0]["participant_sid"] == placed.participant_id
