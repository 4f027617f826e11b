"""The sweeper's pure rules with a frozen clock: what is due when, and who did not show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rooms.attendance.verdict import classify_no_show
from rooms.clock import iso
from rooms.room.schedule import due_work, session_was_due, settle_due_actions
from rooms.settings import Settings
from rooms.store import RoomItem

START = datetime(2031, 5, 6, 10, 0, tzinfo=UTC)
END = START + timedelta(hours=1)
SETTINGS = Settings(open_lead_minutes=15, end_grace_minutes=30)


def room(**fields) -> RoomItem:
    base = {"room_id": "r1", "status": "scheduled", "scheduled_start": iso(START), "scheduled_end": iso(END)}
    base.update(fields)
    return RoomItem("ROOM#r1", "ROOM", **base)


def at(delta: timedelta) -> datetime:
    return START + delta


@pytest.mark.parametrize("now, action, next_due", [
    (at(-timedelta(minutes=15, seconds=1)), "wait", at(-timedelta(minutes=15))),
    (at(-timedelta(minutes=15)), "open", END + timedelta(minutes=30)),
    (at(timedelta(minutes=20)), "open", END + timedelta(minutes=30)),  # a late sweep still opens it
    (END + timedelta(minutes=30), "expire", None),  # never opened by the end check: nobody could join
])
def test_scheduled_room_opens_in_the_window(now, action, next_due):
    work = due_work(room(), now, SETTINGS)
    assert (work.action, work.next_due) == (action, next_due)


@pytest.mark.parametrize("status", ["open", "active"])
def test_open_room_ends_exactly_at_end_plus_grace(status):
    opened = room(status=status, livekit_created_at=iso(at(-timedelta(minutes=15))))
    assert due_work(opened, END + timedelta(minutes=29, seconds=59), SETTINGS).action == "wait"
    assert due_work(opened, END + timedelta(minutes=29, seconds=59), SETTINGS).next_due == END + timedelta(minutes=30)
    assert due_work(opened, END + timedelta(minutes=30), SETTINGS).action == "end"


def test_room_opened_early_by_a_token_waits_for_its_end():
    early = room(status="open", livekit_created_at=iso(at(-timedelta(hours=1))))
    work = due_work(early, at(-timedelta(minutes=15)), SETTINGS)
    assert (work.action, work.next_due) == ("wait", END + timedelta(minutes=30))


def test_room_without_an_end_is_opened_then_checked_against_livekit_periodically():
    opened_at = at(-timedelta(minutes=15))
    work = due_work(room(scheduled_end=None), opened_at, SETTINGS)
    assert (work.action, work.next_due) == ("open", opened_at + timedelta(minutes=SETTINGS.live_check_minutes))
    later = at(timedelta(days=3))
    work = due_work(room(scheduled_end=None, status="open"), later, SETTINGS)
    assert (work.action, work.next_due) == ("check", later + timedelta(minutes=SETTINGS.live_check_minutes))


@pytest.mark.parametrize("fields, action", [
    ({"status": "ended", "ended_at": iso(END)}, "settle"),
    ({"status": "expired", "ended_at": iso(END)}, "settle"),
    ({"status": "ended", "ended_at": iso(END), "settled_at": iso(END)}, "done"),
    ({"status": "ended", "scheduled_start": None, "scheduled_end": None}, "done"),
])
def test_ended_rooms_settle_once(fields, action):
    assert due_work(room(**fields), END, SETTINGS).action == action


def test_session_was_due_only_when_it_ended_after_its_start():
    assert session_was_due(room(status="ended", ended_at=iso(at(timedelta(minutes=1)))))
    assert not session_was_due(room(status="ended", ended_at=iso(at(-timedelta(days=2)))))  # a cancellation
    assert not session_was_due(room(status="ended", scheduled_start=None, ended_at=iso(END)))


def test_ending_a_scheduled_room_makes_it_due_to_settle_and_other_rooms_leave_the_index():
    def kinds(actions):
        return [type(a).__name__ for a in actions]

    assert kinds(settle_due_actions(room(status="active"), END)) == ["SetAction", "SetAction"]
    assert settle_due_actions(room(status="ended"), END) == []  # whoever ended it set its key then
    unscheduled = room(status="open", scheduled_start=None, scheduled_end=None)
    assert kinds(settle_due_actions(unscheduled, END)) == ["RemoveAction", "RemoveAction"]
    settled = room(status="open", settled_at=iso(END))
    assert kinds(settle_due_actions(settled, END)) == ["RemoveAction", "RemoveAction"]


@pytest.mark.parametrize("attendees, kind, host_absent, absent", [
    ([], "nobody", True, ["client", "host"]),
    (["client"], "host_absent", True, ["host"]),
    (["host"], "client_absent", False, ["client"]),
    (["host", "client"], None, False, []),
])
def test_one_on_one_no_shows(attendees, kind, host_absent, absent):
    result = classify_no_show(host="host", members=["host", "client"], attendees=attendees, is_booking=True)
    if kind is None:
        assert result is None
    else:
        assert (result.kind, result.host_absent, result.absent, result.attendees) == (
            kind, host_absent, absent, sorted(attendees))


def test_group_no_shows():
    members = ["host", "a", "b", "c"]
    only_host = classify_no_show(host="host", members=members, attendees=["host"], is_booking=False)
    assert only_host.kind == "attendees_absent" and only_host.absent == ["a", "b", "c"]
    # the host and one attendee: the session took place, whoever stayed away
    assert classify_no_show(host="host", members=members, attendees=["host", "b"], is_booking=False) is None
    # a group with nobody booked, the host there: nobody to miss
    assert classify_no_show(host="host", members=["host"], attendees=["host"], is_booking=False) is None
    # no host on record and nobody came
    assert classify_no_show(host=None, members=["a"], attendees=[], is_booking=False).kind == "nobody"
