"""SIP: trunks, a PIN-protected direct dispatch rule, dial-in, and dial-out."""

from __future__ import annotations

import pytest
from livekit import api

from rooms_local.livekit_emulator import control
from rooms_local.livekit_emulator.control import LiveKitEmulatorRefused

from .support import call

NUMBER = "+15550100"


def inbound_trunk(server) -> str:
    trunk = api.SIPInboundTrunkInfo(name="dial-in US", numbers=[NUMBER])
    created = call(
        server, lambda lk: lk.sip.create_inbound_trunk(api.CreateSIPInboundTrunkRequest(trunk=trunk))
    )
    assert created.sip_trunk_id.startswith("ST_")
    return created.sip_trunk_id


def direct_rule(server, trunk_id: str, room: str, pin: str) -> api.SIPDispatchRuleInfo:
    rule = api.SIPDispatchRuleInfo(
        rule=api.SIPDispatchRule(dispatch_rule_direct=api.SIPDispatchRuleDirect(room_name=room, pin=pin)),
        trunk_ids=[trunk_id],
    )
    return call(
        server, lambda lk: lk.sip.create_dispatch_rule(api.CreateSIPDispatchRuleRequest(dispatch_rule=rule))
    )


def test_dial_in_with_the_right_pin_joins_that_room_as_sip(server, sink):
    trunk_id = inbound_trunk(server)
    direct_rule(server, trunk_id, "room-a", "1234")
    direct_rule(server, trunk_id, "room-b", "5678")  # another PIN on the same number picks another room

    caller = control.dial_in(server.url, NUMBER, "5678", "+15557654")
    assert caller["kind"] == "SIP" and caller["identity"] == "sip_+15557654"
    attributes = caller["attributes"]
    assert attributes["sip.phoneNumber"] == "+15557654" and attributes["sip.trunkPhoneNumber"] == NUMBER
    assert attributes["sip.callStatus"] == "active" and attributes["sip.callID"].startswith("SCL_")
    joined = sink.wait_for("participant_joined")
    assert joined.room.name == "room-b" and joined.participant.kind == api.ParticipantInfo.Kind.SIP


def test_a_wrong_or_missing_pin_and_an_unknown_number_are_refused(server, sink):
    trunk_id = inbound_trunk(server)
    direct_rule(server, trunk_id, "room-a", "1234")
    for pin in ("9999", ""):
        with pytest.raises(LiveKitEmulatorRefused) as err:
            control.dial_in(server.url, NUMBER, pin, "+15557654")
        assert err.value.status == 403
    with pytest.raises(LiveKitEmulatorRefused) as err:
        control.dial_in(server.url, "+15550199", "1234", "+15557654")
    assert err.value.status == 404
    assert sink.deliveries == [] and control.state(server.url)["rooms"] == []


def test_rules_and_trunks_are_listed_deleted_and_pins_must_not_clash(server):
    trunk_id = inbound_trunk(server)
    rule = direct_rule(server, trunk_id, "room-a", "1234")
    with pytest.raises(api.ServerError) as err:
        direct_rule(server, trunk_id, "room-z", "1234")
    assert (err.value.code, err.value.status) == ("invalid_argument", 400)  # as livekit-server answers it
    rules = call(
        server, lambda lk: lk.sip.list_dispatch_rule(api.ListSIPDispatchRuleRequest(trunk_ids=[trunk_id]))
    )
    assert [r.sip_dispatch_rule_id for r in rules.items] == [rule.sip_dispatch_rule_id]
    call(
        server,
        lambda lk: lk.sip.delete_dispatch_rule(
            api.DeleteSIPDispatchRuleRequest(sip_dispatch_rule_id=rule.sip_dispatch_rule_id)
        ),
    )
    assert call(server, lambda lk: lk.sip.list_dispatch_rule(api.ListSIPDispatchRuleRequest())).items == []
    deleted = call(server, lambda lk: lk.sip.delete_trunk(api.DeleteSIPTrunkRequest(sip_trunk_id=trunk_id)))
    assert deleted.kind == api.SIPTrunkInfo.TrunkKind.TRUNK_INBOUND
    assert call(server, lambda lk: lk.sip.list_inbound_trunk(api.ListSIPInboundTrunkRequest())).items == []


def test_dial_out_joins_a_sip_participant_or_fails_like_a_busy_line(server, sink):
    trunk = api.SIPOutboundTrunkInfo(name="out", address="sip.example.com", numbers=["+15550111"])
    created = call(
        server, lambda lk: lk.sip.create_outbound_trunk(api.CreateSIPOutboundTrunkRequest(trunk=trunk))
    )
    listed = call(server, lambda lk: lk.sip.list_outbound_trunk(api.ListSIPOutboundTrunkRequest()))
    assert [t.sip_trunk_id for t in listed.items] == [created.sip_trunk_id]

    def dial(to: str, trunk_id: str = created.sip_trunk_id, wait: bool = False):
        request = api.CreateSIPParticipantRequest(
            sip_trunk_id=trunk_id, sip_call_to=to, room_name="call-room", participant_name="Client",
            wait_until_answered=wait,
        )
        return call(server, lambda lk: lk.sip.create_sip_participant(request))

    info = dial("+15559876")
    assert info.participant_identity == "sip_+15559876" and info.room_name == "call-room"
    assert info.participant_id.startswith("PA_") and info.sip_call_id.startswith("SCL_")
    participant = control.state(server.url)["rooms"][0]["participants"][0]
    assert participant["kind"] == "SIP" and participant["attributes"]["sip.trunkPhoneNumber"] == "+15550111"

    with pytest.raises(api.ServerError) as err:
        dial("+15559876", trunk_id="ST_missing")
    assert err.value.status == 404

    control.configure(server.url, fail_sip_numbers=["+15550000"])
    with pytest.raises(api.SipCallError) as err:
        dial("+15550000", wait=True)  # a SIP failure is reported only to a caller that waits for the answer
    assert err.value.sip_status_code == 486 and err.value.sip_status == "Busy Here"


def _outbound_trunk(server) -> str:
    trunk = api.SIPOutboundTrunkInfo(name="out", address="sip.example.com", numbers=["+15550111"])
    return call(server, lambda lk: lk.sip.create_outbound_trunk(api.CreateSIPOutboundTrunkRequest(trunk=trunk))
                ).sip_trunk_id


def _dial(server, trunk_id: str, to: str, *, wait: bool, identity: str = ""):
    request = api.CreateSIPParticipantRequest(sip_trunk_id=trunk_id, sip_call_to=to, room_name="call-room",
                                              participant_identity=identity, wait_until_answered=wait)
    return call(server, lambda lk: lk.sip.create_sip_participant(request))


def test_a_dialled_callee_joins_before_ringing_and_is_active_once_answered(server, sink):
    trunk_id = _outbound_trunk(server)
    info = _dial(server, trunk_id, "+15559870001", wait=True)
    joined = sink.wait_for("participant_joined")
    # livekit-sip connects the participant before it sends the INVITE: the join says dialing
    assert joined.participant.identity == info.participant_identity
    assert joined.participant.attributes["sip.callStatus"] == "dialing"
    assert sink.wait_for("track_published").participant.identity == info.participant_identity
    [participant] = control.state(server.url)["rooms"][0]["participants"]
    assert participant["attributes"]["sip.callStatus"] == "active"


@pytest.mark.parametrize(("number", "status", "reason", "code", "left_reason"), [
    ("+15559870486", 486, "Busy Here", "resource_exhausted", api.DisconnectReason.USER_REJECTED),
    ("+15559870480", 480, "Temporarily Unavailable", "resource_exhausted", api.DisconnectReason.USER_UNAVAILABLE),
    ("+15559870603", 603, "Decline", "permission_denied", api.DisconnectReason.UNKNOWN_REASON),
])
def test_a_failing_callee_joins_rings_and_leaves_and_wait_until_answered_reports_the_sip_status(
        server, sink, number, status, reason, code, left_reason):
    trunk_id = _outbound_trunk(server)
    with pytest.raises(api.SipCallError) as err:
        _dial(server, trunk_id, number, wait=True)
    assert (err.value.sip_status_code, err.value.sip_status, err.value.code) == (status, reason, code)
    assert sink.wait_for("participant_joined").participant.attributes["sip.callStatus"] == "dialing"
    left = sink.wait_for("participant_left")
    assert left.participant.attributes["sip.callStatus"] == "ringing"  # never answered
    assert left.participant.disconnect_reason == left_reason
    assert control.state(server.url)["rooms"][0]["participants"] == []


def test_an_unanswered_call_times_out_canceled_without_a_sip_status(server, sink):
    trunk_id = _outbound_trunk(server)
    with pytest.raises(api.ServerError) as err:
        _dial(server, trunk_id, "+15559870408", wait=True)
    assert err.value.code == "canceled" and "sip_status_code" not in err.value.metadata
    assert sink.wait_for("participant_left").participant.attributes["sip.callStatus"] == "ringing"


def test_without_wait_until_answered_a_busy_call_succeeds_and_only_shows_as_its_leave(server, sink):
    trunk_id = _outbound_trunk(server)
    info = _dial(server, trunk_id, "+15559870486", wait=False)  # LiveKit: success, before ringing
    assert info.participant_id.startswith("PA_")
    left = sink.wait_for("participant_left")
    assert left.participant.identity == info.participant_identity
    assert left.participant.disconnect_reason == api.DisconnectReason.USER_REJECTED


def test_withheld_callers_get_livekits_hashed_identity_and_the_second_kicks_the_first(server, sink):
    import hashlib

    trunk_id = inbound_trunk(server)
    rule = api.SIPDispatchRuleInfo(
        rule=api.SIPDispatchRule(dispatch_rule_direct=api.SIPDispatchRuleDirect(room_name="room-a", pin="1234")),
        trunk_ids=[trunk_id], hide_phone_number=True)
    call(server, lambda lk: lk.sip.create_dispatch_rule(api.CreateSIPDispatchRuleRequest(dispatch_rule=rule)))
    known = control.dial_in(server.url, NUMBER, "1234", "+15557654")
    assert known["identity"] == "sip_" + hashlib.sha256(b"+15557654").digest()[:8].hex()
    assert known["name"] == "Phone 7654" and "sip.phoneNumber" not in known["attributes"]
    first = control.dial_in(server.url, NUMBER, "1234", "anonymous")
    second = control.dial_in(server.url, NUMBER, "1234", "anonymous")
    assert first["identity"] == second["identity"] != known["identity"]  # every withheld caller: one identity
    sink.wait_for("participant_left")
    left = [e for e in sink.events() if e.event == "participant_left"]
    assert [(e.participant.sid, e.participant.disconnect_reason) for e in left] == [
        (first["sid"], api.DisconnectReason.DUPLICATE_IDENTITY)]
