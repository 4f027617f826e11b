"""SIP: trunks, dispatch rules, simulated dial-in, and dial-out with callees that answer, are busy or never
answer, as livekit-sip reports them.

A dial-in follows LiveKit's SIP service: the called number picks the inbound trunk, the trunk picks the
dispatch rules, the one PIN the caller enters picks the rule (and so the room). A wrong PIN ends the
call; nobody joins. The caller's identity is LiveKit's (protocol ``sip.EvaluateDispatchRule``):
``sip_<from>``, or with ``hide_phone_number`` ``sip_<hex of sha256(from)[:8]>`` named ``Phone <last 4>`` —
so every withheld caller (From ``anonymous``) gets the same identity, and the second kicks the first
(duplicate identity), as on the real server.

A dial-out follows livekit-sip (``pkg/sip/outbound.go``): the participant joins the room *before* the
phone rings (``sip.callStatus`` = ``dialing``; its audio track is published at once), turns ``ringing``,
then ``active`` when answered. A call that fails leaves the room (``participant_left``, reason
``USER_REJECTED`` for 486, ``USER_UNAVAILABLE`` for 480) with its status still ``ringing``. Without
``wait_until_answered`` CreateSIPParticipant answers as soon as the participant joined, whatever happens
next; with it, it answers once answered, or fails with the SIP status (``sip_status_code`` /
``sip_status`` in the Twirp error's meta) or, when the ringing timed out, ``canceled`` without one.

Callees, by the dialled number (tests pick the outcome; ``/dev/config`` ``fail_sip_numbers`` overrides):
- ends in ``0486``: busy (486 Busy Here); ``0480``: 480 Temporarily Unavailable; ``0603``: 603 Decline;
  ``0404``: 404 Not Found;
- ends in ``0408``: rings and never answers (the ringing timeout: ``canceled``, no SIP status);
- any other number answers.
"""

from __future__ import annotations

import hashlib
import secrets
import threading

from google.protobuf.timestamp_pb2 import Timestamp
from livekit.protocol import room as proto_room
from livekit.protocol import sip as proto_sip
from livekit.protocol.models import DisconnectReason, ParticipantInfo, ParticipantPermission
from livekit.protocol.sip import SIPDispatchRuleInfo, SIPInboundTrunkInfo, SIPOutboundTrunkInfo

from .ids import new_id
from .rooms import Rooms, copy_message, to_dict
from .twirp import Method, TwirpError, sip_admin, sip_call

# SIP responses a failing dial-out can carry, and the Twirp code LiveKit maps each to.
SIP_FAILURES = {
    486: ("Busy Here", "resource_exhausted"),
    480: ("Temporarily Unavailable", "resource_exhausted"),
    404: ("Not Found", "not_found"),
    408: ("Request Timeout", "deadline_exceeded"),
    603: ("Decline", "permission_denied"),
}
DEFAULT_SIP_FAILURE = 486
NO_ANSWER = 0  # a callee that rings until the ringing timeout
# The callee's behaviour by the last four digits of the dialled number (see the module's docstring).
CALLEE_SUFFIXES = {"0486": 486, "0480": 480, "0603": 603, "0404": 404, "0408": NO_ANSWER}
# How livekit-sip leaves the room after a failed INVITE (outbound.go connectSIP: busy, unavailable, dropped).
_LEAVE_REASONS = {486: DisconnectReason.USER_REJECTED, 480: DisconnectReason.USER_UNAVAILABLE}


class Sip:
    def __init__(self, lock: threading.RLock, rooms: Rooms) -> None:
        self.lock = lock
        self.rooms = rooms
        self.inbound: dict[str, SIPInboundTrunkInfo] = {}
        self.outbound: dict[str, SIPOutboundTrunkInfo] = {}
        self.rules: dict[str, SIPDispatchRuleInfo] = {}
        self.fail_numbers: dict[str, int] = {}  # /dev/config: dialled number -> SIP status it fails with

    def twirp_methods(self) -> dict[str, Method]:
        ps = proto_sip
        return {
            "CreateSIPInboundTrunk": Method(ps.CreateSIPInboundTrunkRequest, sip_admin, self.create_inbound),
            "CreateSIPOutboundTrunk": Method(
                ps.CreateSIPOutboundTrunkRequest, sip_admin, self.create_outbound
            ),
            "ListSIPInboundTrunk": Method(ps.ListSIPInboundTrunkRequest, sip_admin, self.list_inbound),
            "ListSIPOutboundTrunk": Method(ps.ListSIPOutboundTrunkRequest, sip_admin, self.list_outbound),
            "DeleteSIPTrunk": Method(ps.DeleteSIPTrunkRequest, sip_admin, self.delete_trunk),
            "CreateSIPDispatchRule": Method(ps.CreateSIPDispatchRuleRequest, sip_admin, self.create_rule),
            "ListSIPDispatchRule": Method(ps.ListSIPDispatchRuleRequest, sip_admin, self.list_rules),
            "DeleteSIPDispatchRule": Method(ps.DeleteSIPDispatchRuleRequest, sip_admin, self.delete_rule),
            "CreateSIPParticipant": Method(ps.CreateSIPParticipantRequest, sip_call, self.dial_out),
        }

    # --- trunks ------------------------------------------------------------------------------------

    def create_inbound(self, request: proto_sip.CreateSIPInboundTrunkRequest) -> SIPInboundTrunkInfo:
        trunk = _stamped(request.trunk, "sip_trunk_id", "ST_")
        with self.lock:
            self.inbound[trunk.sip_trunk_id] = trunk
        return copy_message(trunk)

    def create_outbound(self, request: proto_sip.CreateSIPOutboundTrunkRequest) -> SIPOutboundTrunkInfo:
        trunk = _stamped(request.trunk, "sip_trunk_id", "ST_")
        with self.lock:
            self.outbound[trunk.sip_trunk_id] = trunk
        return copy_message(trunk)

    def list_inbound(self, request: proto_sip.ListSIPInboundTrunkRequest):
        with self.lock:
            items = _filter_trunks(self.inbound.values(), request)
        return proto_sip.ListSIPInboundTrunkResponse(items=items)

    def list_outbound(self, request: proto_sip.ListSIPOutboundTrunkRequest):
        with self.lock:
            items = _filter_trunks(self.outbound.values(), request)
        return proto_sip.ListSIPOutboundTrunkResponse(items=items)

    def delete_trunk(self, request: proto_sip.DeleteSIPTrunkRequest) -> proto_sip.SIPTrunkInfo:
        with self.lock:
            for kind, trunks in (
                (proto_sip.SIPTrunkInfo.TRUNK_INBOUND, self.inbound),
                (proto_sip.SIPTrunkInfo.TRUNK_OUTBOUND, self.outbound),
            ):
                trunk = trunks.pop(request.sip_trunk_id, None)
                if trunk is not None:
                    return proto_sip.SIPTrunkInfo(
                        sip_trunk_id=trunk.sip_trunk_id, kind=kind, name=trunk.name, metadata=trunk.metadata
                    )
        raise TwirpError("not_found", f"sip trunk {request.sip_trunk_id} not found")

    # --- dispatch rules ----------------------------------------------------------------------------

    def create_rule(self, request: proto_sip.CreateSIPDispatchRuleRequest) -> SIPDispatchRuleInfo:
        if request.HasField("dispatch_rule"):
            rule = copy_message(request.dispatch_rule)
        else:  # the deprecated flat form of the same request
            rule = SIPDispatchRuleInfo(
                rule=request.rule,
                trunk_ids=request.trunk_ids,
                hide_phone_number=request.hide_phone_number,
                inbound_numbers=request.inbound_numbers,
                name=request.name,
                metadata=request.metadata,
                attributes=request.attributes,
                room_preset=request.room_preset,
                room_config=request.room_config if request.HasField("room_config") else None,
            )
        if not rule.rule.WhichOneof("rule"):
            raise TwirpError("invalid_argument", "dispatch rule is required")
        rule = _stamped(rule, "sip_dispatch_rule_id", "SDR_")
        with self.lock:
            for other in self.rules.values():
                if _collide(rule, other):
                    raise TwirpError(  # livekit-server's code for it: invalid_argument, not already_exists
                        "invalid_argument",
                        "Conflicting SIP Dispatch Rules: same Trunk+Number+PIN combination for "
                        f"{rule.sip_dispatch_rule_id!r} and {other.sip_dispatch_rule_id!r}",
                    )
            self.rules[rule.sip_dispatch_rule_id] = rule
        return copy_message(rule)

    def list_rules(self, request: proto_sip.ListSIPDispatchRuleRequest):
        ids, trunk_ids = set(request.dispatch_rule_ids), set(request.trunk_ids)
        with self.lock:
            items = [
                copy_message(r)
                for r in self.rules.values()
                if (not ids or r.sip_dispatch_rule_id in ids)
                and (not trunk_ids or trunk_ids & set(r.trunk_ids))
            ]
        return proto_sip.ListSIPDispatchRuleResponse(items=items)

    def delete_rule(self, request: proto_sip.DeleteSIPDispatchRuleRequest) -> SIPDispatchRuleInfo:
        with self.lock:
            rule = self.rules.pop(request.sip_dispatch_rule_id, None)
        if rule is None:
            raise TwirpError("not_found", f"sip dispatch rule {request.sip_dispatch_rule_id} not found")
        return rule

    # --- calls -------------------------------------------------------------------------------------

    def dial_in(self, number: str, pin: str, from_number: str) -> ParticipantInfo:
        with self.lock:
            trunk = self._inbound_trunk(number, from_number)
            rule = self._select_rule(trunk, number, from_number, pin)
            room_name = _room_for(rule, number, from_number)
            call_id = new_id("SCL_")
            attributes = {
                "sip.callID": call_id,
                "sip.callStatus": "active",
                "sip.trunkID": trunk.sip_trunk_id,
                "sip.ruleID": rule.sip_dispatch_rule_id,
                **rule.attributes,
            }
            if rule.hide_phone_number:
                # LiveKit hashes the caller's number: equal numbers (every "anonymous") give equal identities
                identity = "sip_" + hashlib.sha256(from_number.encode()).digest()[:8].hex()
                name = "Phone " + from_number[-(4 if len(from_number) > 4 else 1):]
            else:
                identity, name = f"sip_{from_number}", f"Phone {from_number}"
                attributes |= {"sip.phoneNumber": from_number, "sip.trunkPhoneNumber": number}
            caller = _sip_participant(identity, name, rule.metadata, attributes)
            return self.rooms.join_as(room_name, caller, publish=["audio"])

    def dial_out(self, request: proto_sip.CreateSIPParticipantRequest) -> proto_sip.SIPParticipantInfo:
        """Join the callee (dialing), ring, then answer or fail as the dialled number says."""
        if not request.sip_call_to:
            raise TwirpError("invalid_argument", "sip_call_to is required")
        if not request.room_name:
            raise TwirpError("invalid_argument", "room_name is required")
        with self.lock:
            trunk_number = request.sip_number
            if request.sip_trunk_id:
                trunk = self.outbound.get(request.sip_trunk_id)
                if trunk is None:
                    raise TwirpError(
                        "not_found", f"requested sip trunk {request.sip_trunk_id} does not exist"
                    )
                trunk_number = trunk_number or (trunk.numbers[0] if trunk.numbers else "")
            elif not request.HasField("trunk"):
                raise TwirpError("invalid_argument", "sip_trunk_id or trunk is required")
            call_id = new_id("SCL_")
            attributes = {
                **request.participant_attributes,
                "sip.callID": call_id,
                "sip.callStatus": "dialing",
            }
            if not request.hide_phone_number:
                attributes |= {"sip.phoneNumber": request.sip_call_to, "sip.trunkPhoneNumber": trunk_number}
            if request.sip_trunk_id:
                attributes["sip.trunkID"] = request.sip_trunk_id
            identity = request.participant_identity or f"sip_{request.sip_call_to}"
            name = request.participant_name or f"Phone {request.sip_call_to}"
            callee = _sip_participant(identity, name, request.participant_metadata, attributes)
            # in the room before it rings, its track published at once (livekit-sip connectToRoom)
            joined = self.rooms.join_as(request.room_name, callee, publish=["audio"])
            self._set_call_status(request.room_name, identity, "ringing")
            outcome = self._callee(request.sip_call_to)
            if outcome is None:
                self._set_call_status(request.room_name, identity, "active")
            else:
                self.rooms.hang_up(request.room_name, identity,
                                   _LEAVE_REASONS.get(outcome, DisconnectReason.UNKNOWN_REASON))
        if outcome is not None and request.wait_until_answered:
            if outcome == NO_ANSWER:
                raise TwirpError("canceled", "canceled")  # the ringing timeout cancels the INVITE
            reason, code = SIP_FAILURES.get(outcome, (f"SIP {outcome}", "unavailable"))
            raise TwirpError(
                code,
                f"INVITE failed: sip status: {outcome}: {reason}",
                meta={"sip_status_code": str(outcome), "sip_status": reason},
            )
        return proto_sip.SIPParticipantInfo(
            participant_id=joined.sid,
            participant_identity=joined.identity,
            room_name=request.room_name,
            sip_call_id=call_id,
        )

    def _callee(self, number: str) -> int | None:
        """None when the callee answers; else the SIP status it fails with, or NO_ANSWER."""
        if number in self.fail_numbers:
            return self.fail_numbers[number]
        return CALLEE_SUFFIXES.get(number[-4:])

    def _set_call_status(self, room: str, identity: str, status: str) -> None:
        # livekit-sip's LocalParticipant.SetAttributes: no webhook (LiveKit has no attributes webhook)
        self.rooms.update_participant(proto_room.UpdateParticipantRequest(
            room=room, identity=identity, attributes={"sip.callStatus": status}))

    def state(self) -> dict:
        with self.lock:
            return {
                "inboundTrunks": [to_dict(t) for t in self.inbound.values()],
                "outboundTrunks": [to_dict(t) for t in self.outbound.values()],
                "dispatchRules": [to_dict(r) for r in self.rules.values()],
            }

    # --- internals ---------------------------------------------------------------------------------

    def _inbound_trunk(self, number: str, from_number: str) -> SIPInboundTrunkInfo:
        # A trunk listing the number wins; a trunk with no numbers accepts calls to any number.
        trunks = [t for t in self.inbound.values() if number in t.numbers]
        trunks = trunks or [t for t in self.inbound.values() if not t.numbers]
        if not trunks:
            raise TwirpError("not_found", f"no inbound trunk for number {number}")
        allowed = [t for t in trunks if not t.allowed_numbers or from_number in t.allowed_numbers]
        if not allowed:
            raise TwirpError("permission_denied", f"caller {from_number} is not allowed on this trunk")
        return allowed[0]

    def _select_rule(self, trunk, number: str, from_number: str, pin: str) -> SIPDispatchRuleInfo:
        rules = [
            r
            for r in self.rules.values()
            if (not r.trunk_ids or trunk.sip_trunk_id in r.trunk_ids)
            and (not r.inbound_numbers or from_number in r.inbound_numbers)
            and (not r.numbers or number in r.numbers)
        ]
        # Rules naming the trunk take priority over catch-all ones (LiveKit sorts them first).
        rules = [r for r in rules if r.trunk_ids] or rules
        if not rules:
            raise TwirpError("not_found", f"no dispatch rule for calls to {number}")
        for rule in rules:
            if _pin(rule) and _pin(rule) == pin:
                return rule
        open_rules = [r for r in rules if not _pin(r)]
        if open_rules and not pin:
            return open_rules[0]
        if any(_pin(r) for r in rules):
            # One attempt: LiveKit plays "wrong PIN" and hangs up.
            raise TwirpError("permission_denied", "wrong or missing PIN; call ended")
        return open_rules[0]


def _stamped(message, id_field: str, prefix: str):
    stamped = copy_message(message)
    setattr(stamped, id_field, new_id(prefix))
    now = Timestamp()
    now.GetCurrentTime()
    stamped.created_at.CopyFrom(now)
    stamped.updated_at.CopyFrom(now)
    return stamped


def _filter_trunks(trunks, request) -> list:
    ids, numbers = set(request.trunk_ids), set(request.numbers)
    return [
        copy_message(t)
        for t in trunks
        if (not ids or t.sip_trunk_id in ids) and (not numbers or numbers & set(t.numbers))
    ]


def _pin(rule: SIPDispatchRuleInfo) -> str:
    kind = rule.rule.WhichOneof("rule")
    return getattr(rule.rule, kind).pin if kind else ""


def _collide(a: SIPDispatchRuleInfo, b: SIPDispatchRuleInfo) -> bool:
    """LiveKit refuses two rules answering the same trunk + number with the same PIN."""
    if _pin(a) != _pin(b):
        return False
    trunks_a, trunks_b = set(a.trunk_ids) or {""}, set(b.trunk_ids) or {""}
    numbers_a, numbers_b = set(a.inbound_numbers) or {""}, set(b.inbound_numbers) or {""}
    return bool(trunks_a & trunks_b) and bool(numbers_a & numbers_b)


def _room_for(rule: SIPDispatchRuleInfo, number: str, from_number: str) -> str:
    kind = rule.rule.WhichOneof("rule")
    if kind == "dispatch_rule_direct":
        return rule.rule.dispatch_rule_direct.room_name
    if kind == "dispatch_rule_individual":  # a room per caller
        individual = rule.rule.dispatch_rule_individual
        suffix = "" if individual.no_randomness else "_" + secrets.token_hex(4)
        return f"{individual.room_prefix}_{from_number}{suffix}"
    callee = rule.rule.dispatch_rule_callee  # a room per called number
    suffix = "_" + secrets.token_hex(4) if callee.randomize else ""
    return f"{callee.room_prefix}{number}{suffix}"


def _sip_participant(identity: str, name: str, metadata: str, attributes: dict) -> ParticipantInfo:
    return ParticipantInfo(
        identity=identity,
        name=name,
        metadata=metadata,
        attributes=attributes,
        kind=ParticipantInfo.SIP,
        permission=ParticipantPermission(can_publish=True, can_subscribe=True, can_publish_data=True),
    )
