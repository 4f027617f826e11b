"""LiveKit's SIP service: PIN dispatch rules for dial-in, and dial-out (CreateSIPParticipant)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rooms.livekit_gateway.client import AUTH_FAILURE_CODES, run, run_or
from rooms.livekit_gateway.room_service import RoomConfig


class DispatchRuleExists(Exception):
    """LiveKit refused the rule: another one already answers this trunk + PIN (a concurrent opening
    of the same room created it first)."""


class PinClash(Exception):
    """LiveKit refused the rule because another rule on the trunk already answers this PIN for another
    room (livekit-server answers ``invalid_argument``, not ``already_exists``)."""


class SipCallFailed(Exception):
    """The phone call could not be placed: the SIP status LiveKit reported (486 Busy Here, …)."""

    def __init__(self, message: str, *, sip_status_code: int | None, sip_status: str | None, code: str):
        super().__init__(message)
        self.sip_status_code = sip_status_code
        self.sip_status = sip_status
        self.code = code


@dataclass(frozen=True)
class SipParticipant:
    participant_id: str
    participant_identity: str
    room_name: str
    sip_call_id: str


def create_pin_dispatch_rule(
    *, room_name: str, pin: str, trunk_id: str, name: str, attributes: dict[str, str], hide_phone_number: bool,
    room_config: RoomConfig | None = None,
) -> str:
    """A direct dispatch rule: callers of ``trunk_id`` who enter ``pin`` join ``room_name``. Its id.
    ``room_config`` is what LiveKit creates the room with when a caller arrives while it does not exist."""

    async def call(lk: Any, api: Any) -> Any:
        rule = api.SIPDispatchRuleInfo(
            rule=api.SIPDispatchRule(dispatch_rule_direct=api.SIPDispatchRuleDirect(room_name=room_name, pin=pin)),
            trunk_ids=[trunk_id],
            name=name,
            attributes=attributes,
            hide_phone_number=hide_phone_number,
        )
        if room_config is not None:
            rule.room_config.CopyFrom(room_config.message(api))
        try:
            return await lk.sip.create_dispatch_rule(api.CreateSIPDispatchRuleRequest(dispatch_rule=rule))
        except api.ServerError as err:
            if err.code not in ("already_exists", "invalid_argument"):
                raise
            # Whose rule holds this PIN? Ours (a concurrent opening of the same room) or another room's.
            rules = await lk.sip.list_dispatch_rule(api.ListSIPDispatchRuleRequest(trunk_ids=[trunk_id]))
            direct = [r.rule.dispatch_rule_direct for r in rules.items
                      if r.rule.WhichOneof("rule") == "dispatch_rule_direct"]
            holders = {d.room_name for d in direct if d.pin == pin}
            if room_name in holders:
                raise DispatchRuleExists(err.message) from None
            if holders:
                raise PinClash(err.message) from None
            raise

    return run(call).sip_dispatch_rule_id


def dispatch_rules_for_room(*, trunk_id: str, room_name: str) -> list[str]:
    """Ids of the direct dispatch rules on a trunk that send callers to ``room_name``."""

    async def call(lk: Any, api: Any) -> Any:
        return await lk.sip.list_dispatch_rule(api.ListSIPDispatchRuleRequest(trunk_ids=[trunk_id]))

    return [
        rule.sip_dispatch_rule_id
        for rule in run(call).items
        if rule.rule.WhichOneof("rule") == "dispatch_rule_direct"
        and rule.rule.dispatch_rule_direct.room_name == room_name
    ]


def delete_dispatch_rule(rule_id: str) -> bool:
    """Delete a dispatch rule. False when it did not exist (already deleted)."""

    async def call(lk: Any, api: Any) -> Any:
        return await lk.sip.delete_dispatch_rule(api.DeleteSIPDispatchRuleRequest(sip_dispatch_rule_id=rule_id))

    return run_or(call, None) is not None


# Seconds a call placed with wait_until_answered may take beyond its ringing: LiveKit connects the
# participant to the room first and sends the INVITE after (livekit-sip outbound.go).
DIAL_MARGIN_SECONDS = 15


def create_sip_participant(
    *,
    trunk_id: str,
    call_to: str,
    room_name: str,
    identity: str,
    name: str,
    attributes: dict[str, str],
    hide_phone_number: bool,
    ringing_timeout_seconds: int,
    wait_until_answered: bool = False,
) -> SipParticipant:
    """Dial ``call_to`` through the outbound trunk; the callee joins ``room_name`` as ``identity``.

    LiveKit connects the participant to the room *before* it rings (``sip.callStatus`` = ``dialing``,
    then ``ringing``, then ``active`` once answered). Without ``wait_until_answered`` this returns then,
    and a busy or unanswered call only shows as the participant leaving. With it, this returns once the
    callee answered and raises SipCallFailed with what happened: a SIP status (486 Busy Here, 480, 603, …)
    or, when the ringing timed out, LiveKit's ``canceled`` without one. Only an asynchronous worker can
    wait that long (``rooms.phone.dial_out``).
    """

    async def call(lk: Any, api: Any) -> Any:
        from google.protobuf.duration_pb2 import Duration

        request = api.CreateSIPParticipantRequest(
            sip_trunk_id=trunk_id,
            sip_call_to=call_to,
            room_name=room_name,
            participant_identity=identity,
            participant_name=name,
            participant_attributes=attributes,
            hide_phone_number=hide_phone_number,
            ringing_timeout=Duration(seconds=ringing_timeout_seconds),
            wait_until_answered=wait_until_answered,
        )
        try:
            return await lk.sip.create_sip_participant(request)
        except api.SipCallError as err:
            raise SipCallFailed(
                str(err), sip_status_code=err.sip_status_code, sip_status=err.sip_status, code=err.code
            ) from None
        except api.ServerError as err:
            if err.status >= 500 or err.status in (401, 403, 429) or err.code in AUTH_FAILURE_CODES:
                raise  # run() reports LiveKit as unavailable, or our key as refused
            # refused before dialling (room full, unknown trunk, …), or the ringing timed out (canceled)
            raise SipCallFailed(err.message, sip_status_code=None, sip_status=None, code=err.code) from None

    timeout = ringing_timeout_seconds + DIAL_MARGIN_SECONDS if wait_until_answered else None
    info = run(call, timeout=timeout)
    return SipParticipant(
        participant_id=info.participant_id,
        participant_identity=info.participant_identity,
        room_name=info.room_name,
        sip_call_id=info.sip_call_id,
    )
