"""The SIP Twirp API of the real livekit-server (with Redis): a SIP-enabled room's PIN dispatch rule,
its removal when the room ends, and the server's answer to a PIN clash. No call is placed: livekit-sip
cannot be built here, see the skipped tests at the end."""

from __future__ import annotations

import pytest

from tests.livekit_real.support import fresh_ids, real_handles, wait_until  # noqa: F401 - the `real` fixture

NO_LIVEKIT_SIP = ("livekit-sip cannot be built on this machine: the Go module proxy answers 403 'not available' "
                  "for every version of github.com/livekit/sip, so no real SIP call can be placed")


def _trunk_of(real, number: str) -> str:
    trunks = real.livekit(lambda lk, api: lk.sip.list_inbound_trunk(api.ListSIPInboundTrunkRequest())).items
    (trunk,) = [t for t in trunks if number in t.numbers]
    return trunk.sip_trunk_id


def _direct_rules(real, trunk_id: str) -> list:
    rules = real.livekit(lambda lk, api: lk.sip.list_dispatch_rule(
        api.ListSIPDispatchRuleRequest(trunk_ids=[trunk_id]))).items
    return [r for r in rules if r.rule.WhichOneof("rule") == "dispatch_rule_direct"]


def _phone_room(real, ids) -> dict:
    room = real.create_room(booking_id=ids["booking"], service_type="therapy", recording="none",
                            sip={"enabled": True, "region": "US"}, host={"user_id": ids["host"]},
                            members=[{"user_id": ids["client"]}])
    r = real.call("GET", f"/rooms/{room['room_id']}/dial-in", as_user=ids["client"])
    assert r.status_code == 200, r.text
    return {**room, "dial_in": r.json()}


def _pin_and_number(dial_in: dict) -> tuple[str, str]:
    (number,) = [n["number"] for n in dial_in["numbers"] if n["region"] == "US"]
    return dial_in["pin"], number


def test_a_sip_room_gets_its_dispatch_rule_and_loses_it_when_it_ends(real):
    ids = fresh_ids()
    room = _phone_room(real, ids)
    pin, number = _pin_and_number(room["dial_in"])
    trunk = _trunk_of(real, number)
    assert not [r for r in _direct_rules(real, trunk) if r.rule.dispatch_rule_direct.room_name == room["livekit_room"]]
    real.token(room["room_id"], ids["host"])  # the LiveKit room opens: its dispatch rule is created
    (rule,) = [r for r in _direct_rules(real, trunk) if r.rule.dispatch_rule_direct.room_name == room["livekit_room"]]
    assert rule.rule.dispatch_rule_direct.pin == pin and list(rule.trunk_ids) == [trunk]

    assert real.admin("DELETE", f"/rooms/{room['room_id']}").status_code == 200
    assert not [r for r in _direct_rules(real, trunk) if r.sip_dispatch_rule_id == rule.sip_dispatch_rule_id]


def test_the_server_refuses_a_second_rule_with_the_same_pin_on_a_trunk(real):
    from livekit import api

    ids = fresh_ids()
    room = _phone_room(real, ids)
    pin, number = _pin_and_number(room["dial_in"])
    trunk = _trunk_of(real, number)
    real.token(room["room_id"], ids["host"])

    def clash(lk, a):
        return lk.sip.create_dispatch_rule(a.CreateSIPDispatchRuleRequest(dispatch_rule=a.SIPDispatchRuleInfo(
            rule=a.SIPDispatchRule(dispatch_rule_direct=a.SIPDispatchRuleDirect(room_name="another-room", pin=pin)),
            trunk_ids=[trunk])))

    with pytest.raises(api.TwirpError) as err:
        real.livekit(clash)
    assert err.value.code == "invalid_argument", err.value  # not already_exists
    assert real.admin("DELETE", f"/rooms/{room['room_id']}").status_code == 200


def test_a_pin_clash_in_livekit_still_gives_the_room_a_working_dispatch_rule(real):
    ids = fresh_ids()
    room = _phone_room(real, ids)
    pin, number = _pin_and_number(room["dial_in"])
    trunk = _trunk_of(real, number)
    # a rule LiveKit still holds for that PIN (left behind, or made by an operator) before our room opens
    stale = real.livekit(lambda lk, a: lk.sip.create_dispatch_rule(a.CreateSIPDispatchRuleRequest(
        dispatch_rule=a.SIPDispatchRuleInfo(rule=a.SIPDispatchRule(dispatch_rule_direct=a.SIPDispatchRuleDirect(
            room_name="left-behind", pin=pin)), trunk_ids=[trunk]))))
    try:
        real.token(room["room_id"], ids["host"])
        r = real.call("GET", f"/rooms/{room['room_id']}/dial-in", as_user=ids["client"])
        new_pin = r.json()["pin"]
        rules = [x for x in _direct_rules(real, trunk) if x.rule.dispatch_rule_direct.room_name == room["livekit_room"]]
        assert [x.rule.dispatch_rule_direct.pin for x in rules] == [new_pin] and new_pin != pin
    finally:
        real.livekit(lambda lk, a: lk.sip.delete_dispatch_rule(
            a.DeleteSIPDispatchRuleRequest(sip_dispatch_rule_id=stale.sip_dispatch_rule_id)))
        real.admin("DELETE", f"/rooms/{room['room_id']}")


@pytest.mark.skip(reason=NO_LIVEKIT_SIP)
def test_dial_in_with_the_right_pin_joins_audio_only_as_phone():
    """Would prove: a sipp caller dials the US number, sends the PIN as RFC 4733 DTMF (per-digit
    packets with fresh timestamps), joins the room audio-only, and shows in attendance as via=phone;
    a wrong PIN is hung up. Needs livekit-sip, which cannot be built here (see NO_LIVEKIT_SIP); the
    emulator tier (tests/integration/test_phone.py) covers our side of it."""


@pytest.mark.skip(reason=NO_LIVEKIT_SIP)
def test_dial_out_answer_busy_and_no_answer():
    """Would prove: CreateSIPParticipant through our dial-out reaches a sipp callee behind the outbound
    trunk, and records what really happens when it answers, answers 486 busy, or never answers.
    Needs livekit-sip (see NO_LIVEKIT_SIP)."""
