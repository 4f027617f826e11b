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

    def dial(to: str, trunk_id: str = created.sip_trunk_id):
        request = api.CreateSIPParticipantRequest(
            sip_trunk_id=trunk_id, sip_call_to=to, room_name="call-room", participant_name="Client"
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
        dial("+15550000")
    assert err.value.sip_status_code == 486 and err.value.sip_status == "Busy Here"
