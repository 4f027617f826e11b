"""The room_full decision of the join-token route (rooms.room.join): the room item's connected hint
decides whether LiveKit is asked at all, and only LiveKit's own count, without the caller's connection
and without dependent participants (egress, agents), refuses."""

from __future__ import annotations

import pytest

from rooms.errors import Conflict
from rooms.livekit_gateway import room_service
from rooms.livekit_gateway.room_service import LiveParticipantInfo, counts_toward_max
from rooms.room import join
from rooms.store import RoomItem


def _room(max_participants: int = 2, hint: int | None = None) -> RoomItem:
    return RoomItem("ROOM#r1", "ROOM", room_id="r1", livekit_room="lk-r1", max_participants=max_participants,
                    connected_hint=hint)


def _p(identity: str, kind: str = "standard") -> LiveParticipantInfo:
    return LiveParticipantInfo(sid=f"PA_{identity}", identity=identity, name="", kind=kind, joined_at=1,
                               can_publish=True, can_subscribe=True, can_publish_data=True)


@pytest.mark.parametrize(("hint", "max_participants", "asks"), [
    (None, 2, False),  # rooms from before the hint, or nobody joined yet
    (0, 2, False),
    (1, 2, False),
    (2, 2, True),
    (3, 2, True),  # drifted over: asks, never refuses by itself
    (-1, 2, False),  # a leave applied before its join
    (99, 100, False),
    (100, 100, True),
])
def test_livekit_is_asked_only_when_the_hint_says_every_seat_may_be_taken(hint, max_participants, asks):
    assert join.may_be_full(_room(max_participants, hint)) is asks


def test_dependent_participants_do_not_take_seats_phone_callers_and_hidden_ones_do():
    assert [counts_toward_max(_p("x", kind)) for kind in ("standard", "sip", "ingress", "egress", "agent")] == [
        True, True, True, False, False]
    hidden = LiveParticipantInfo(sid="PA_h", identity="h", name="", kind="standard", joined_at=1, can_publish=False,
                                 can_subscribe=True, can_publish_data=False, hidden=True)
    assert counts_toward_max(hidden)
    recorder = LiveParticipantInfo(sid="PA_r", identity="r", name="", kind="standard", joined_at=1,
                                   can_publish=False, can_subscribe=True, can_publish_data=False, recorder=True)
    agent = LiveParticipantInfo(sid="PA_a", identity="a", name="", kind="standard", joined_at=1, can_publish=True,
                                can_subscribe=True, can_publish_data=True, agent=True)
    assert not counts_toward_max(recorder) and not counts_toward_max(agent)  # the permissions make them dependent


def test_the_callers_own_connection_is_not_a_taken_seat():
    people = [_p("host"), _p("client"), _p("EG_1", "egress"), _p("agent-1", "agent"), _p("caller", "sip")]
    assert join.seats_taken(people, "third") == 3
    assert join.seats_taken(people, "client") == 2  # a reload replaces their connection in LiveKit
    assert join.seats_taken([], "third") == 0


def _listing(monkeypatch, participants) -> list[str]:
    asked = []

    def fake(room: str):
        asked.append(room)
        return participants

    monkeypatch.setattr(room_service, "list_live_participants", fake)
    return asked


def test_a_full_room_refuses_with_room_full(monkeypatch):
    asked = _listing(monkeypatch, [_p("host"), _p("client")])
    with pytest.raises(Conflict) as refused:
        join._require_seat(_room(2, 2), "third")
    assert refused.value.code == "room_full" and refused.value.status == 409
    assert refused.value.details == {"max_participants": 2}
    assert "full" in refused.value.message and asked == ["lk-r1"]


def test_a_connected_member_asking_again_is_not_refused(monkeypatch):
    _listing(monkeypatch, [_p("host"), _p("client")])
    join._require_seat(_room(2, 2), "client")  # no exception
    join._require_seat(_room(2, 2), "host")


def test_a_drifted_hint_costs_one_listing_and_no_refusal(monkeypatch):
    asked = _listing(monkeypatch, [_p("host"), _p("EG_1", "egress")])
    join._require_seat(_room(2, 5), "third")  # the hint says 5 connected; LiveKit counts one seat taken
    assert asked == ["lk-r1"]


def test_livekit_without_the_room_refuses_nobody(monkeypatch):
    _listing(monkeypatch, [])  # ListParticipants of a missing room: empty (list_live_participants)
    join._require_seat(_room(2, 2), "third")
