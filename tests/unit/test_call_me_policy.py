"""The "call me" policy (issue #17): who may have the room dial out, to whom, and who may read an attempt
(rooms.access.require_may_dial_out / require_may_see_dial_out); the room option's validation."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from rooms.access import Caller, require_may_dial_out, require_may_see_dial_out
from rooms.errors import Forbidden
from rooms.room.models import DialOutRequest, SipIn
from rooms.store import Member, RoomItem

SIP = {"enabled": True, "region": "UK", "number": "+442079460000", "trunk_id": "ST_x", "pin": "1234"}


def _room(*, call_me: bool | None = True, waiting_room: bool = False, sip: bool = True) -> RoomItem:
    block = ({**SIP, "call_me": call_me} if call_me is not None else dict(SIP)) if sip else None
    return RoomItem(*RoomItem.key("r1"), room_id="r1", status="open", sip=block, waiting_room=waiting_room)


def _member(user_id: str, role: str = "participant", *, status: str = "active", admitted: bool = False) -> Member:
    return Member(*Member.key("r1", user_id), room_id="r1", user_id=user_id, role=role, status=status,
                  granted_at="2026-01-01T00:00:00Z", admitted_at="2026-01-01T00:01:00Z" if admitted else None)


def _refused(code: str, *args, **kwargs) -> None:
    with pytest.raises(Forbidden) as err:
        require_may_dial_out(*args, **kwargs)
    assert err.value.code == code


def test_the_host_dials_anyone_whatever_the_room_option():
    host = _member("dr", "host")
    for room in (_room(call_me=False), _room(call_me=None), _room()):
        assert require_may_dial_out(Caller("dr"), room, host, user_id="cl") == _permit("cl", False)
        assert require_may_dial_out(Caller("dr"), room, host, user_id=None) == _permit(None, False)


def _permit(user_id, call_me):
    from rooms.access import DialOutPermit

    return DialOutPermit(user_id=user_id, call_me=call_me)


def test_a_participant_calls_only_themselves_and_omitting_user_id_means_themselves():
    me = _member("cl")
    assert require_may_dial_out(Caller("cl"), _room(), me, user_id="cl") == _permit("cl", True)
    assert require_may_dial_out(Caller("cl"), _room(), me, user_id=None) == _permit("cl", True)
    _refused("call_me_self_only", Caller("cl"), _room(), me, user_id="someone-else")


def test_a_participant_is_refused_without_the_room_option():
    me = _member("cl")
    _refused("call_me_not_allowed", Caller("cl"), _room(call_me=False), me, user_id=None)
    _refused("call_me_not_allowed", Caller("cl"), _room(call_me=None), me, user_id=None)  # rooms made before it
    _refused("call_me_not_allowed", Caller("cl"), _room(sip=False), me, user_id=None)


def test_a_viewer_may_not_be_called_in_even_where_participants_may():
    _refused("call_me_not_allowed", Caller("v"), _room(), _member("v", "viewer"), user_id=None)


def test_a_participant_still_in_the_waiting_room_may_not_walk_past_it_by_phone():
    room = _room(waiting_room=True)
    _refused("call_me_waiting", Caller("cl"), room, _member("cl"), user_id=None)
    assert require_may_dial_out(Caller("cl"), room, _member("cl", admitted=True), user_id=None).call_me


def test_non_members_and_revoked_members_are_refused_as_for_any_room_route():
    _refused("not_a_member", Caller("x"), _room(), None, user_id=None)
    _refused("membership_revoked", Caller("cl"), _room(), _member("cl", status="revoked"), user_id=None)


def test_a_member_reads_only_the_attempts_they_asked_for_and_the_host_reads_all():
    require_may_see_dial_out(Caller("cl"), _room(), _member("cl"), requested_by="cl")
    require_may_see_dial_out(Caller("dr"), _room(), _member("dr", "host"), requested_by="cl")
    with pytest.raises(Forbidden) as err:
        require_may_see_dial_out(Caller("cl"), _room(), _member("cl"), requested_by="dr")
    assert err.value.code == "dial_out_not_yours"


def test_call_me_needs_phone_enabled_and_defaults_off():
    assert SipIn(enabled=True).call_me is False
    assert SipIn(enabled=True, call_me=True).call_me is True
    with pytest.raises(ValidationError, match=r"sip\.call_me needs sip\.enabled"):
        SipIn(enabled=False, call_me=True)


def test_the_number_must_still_be_e164():
    with pytest.raises(ValidationError, match=r"E\.164"):
        DialOutRequest(phone_number="07700 900123")
