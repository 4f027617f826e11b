"""Phone numbers and PINs: pure helpers (formatting, PIN candidates, dial-in details; masking is
``rooms.phone.masking``, applied by the logger to every record)."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from rooms.phone.masking import mask_phone_number
from rooms.room.models import DialIn, DialInNumber
from rooms.room.status import is_live
from rooms.store import RoomItem

PIN_ATTEMPTS = 20  # random PINs tried per room creation; small PIN spaces are tried exhaustively
# What a failed dial-out was, from its SIP response (livekit-sip returns the far end's final response) or,
# without one, LiveKit's error code: a ringing that timed out is ``canceled`` (livekit-sip sipResponse).
BUSY_SIP_STATUSES = {486, 600, 603}  # Busy Here, Busy Everywhere, Decline
NO_ANSWER_SIP_STATUSES = {408, 480, 487}  # Request Timeout, Temporarily Unavailable, Request Terminated
NO_ANSWER_CODES = {"canceled", "deadline_exceeded"}

# The participant attribute our dial-outs carry (CreateSIPParticipant participant_attributes).
DIAL_OUT_ID_ATTRIBUTE = "rooms.dial_out_id"
# livekit-sip's sip.callStatus before the callee answered (outbound.go: dialing, then ringing on a 18x).
NOT_ANSWERED_CALL_STATUSES = {"dialing", "ringing"}


# --- pure helpers -------------------------------------------------------------------------------------


def format_number(number: str) -> str:
    """E.164 → the way people write it in the three launch regions (other numbers stay as they are)."""
    digits = number.lstrip("+")
    if digits.startswith("1") and len(digits) == 11:
        return f"+1 {digits[1:4]}-{digits[4:7]}-{digits[7:]}"
    if digits.startswith("44") and len(digits) == 12:
        rest = digits[2:]
        if rest.startswith("20"):  # London: 20 xxxx xxxx
            return f"+44 {rest[:2]} {rest[2:6]} {rest[6:]}"
        return f"+44 {rest[:4]} {rest[4:]}"
    if digits.startswith("61") and len(digits) == 11:
        rest = digits[2:]
        return f"+61 {rest[0]} {rest[1:5]} {rest[5:]}"
    return number


def pin_candidates(length: int, attempts: int = PIN_ATTEMPTS) -> list[str]:
    """Distinct random PINs to try, in order; every PIN when the space is no larger than ``attempts``."""
    space = 10**length
    picks = secrets.SystemRandom().sample(range(space), min(space, attempts))
    return [str(p).zfill(length) for p in picks]


def sip_of(room: RoomItem) -> dict[str, Any]:
    """The room's phone settings as a plain dict: enabled, region, and once allocated number, trunk_id,
    pin (and dispatch_rule_id once the LiveKit room opened)."""
    sip = room.sip
    if sip is None:
        return {}
    return sip.as_dict() if hasattr(sip, "as_dict") else dict(sip)


def dial_in_details(room: RoomItem) -> DialIn | None:
    """The dial-in block of a live SIP-enabled room (room view, token response, GET …/dial-in)."""
    sip = sip_of(room)
    if not sip.get("pin") or not is_live(room.status):
        return None
    formatted = format_number(sip["number"])
    return DialIn(
        numbers=[DialInNumber(region=sip["region"], number=sip["number"], formatted=formatted)],
        pin=sip["pin"],
        instructions=f"Call {formatted} and enter PIN {sip['pin']} followed by #.",
        call_me=bool(sip.get("call_me")),
    )


def phone_identity(room_id: str, number: str) -> str:
    """The LiveKit identity of someone dialled out who is not a member: stable per room and number (a
    redial is a reconnect of one attendee) and free of the number itself."""
    return "phone-" + hashlib.sha256(f"{room_id}|{number}".encode()).hexdigest()[:16]


def dial_out_outcome(sip_status_code: int | None, livekit_code: str | None) -> str:
    """busy | no_answer | failed: what a dial-out that did not connect was."""
    if sip_status_code in BUSY_SIP_STATUSES:
        return "busy"
    if sip_status_code in NO_ANSWER_SIP_STATUSES or (sip_status_code is None and livekit_code in NO_ANSWER_CODES):
        return "no_answer"
    return "failed"


def call_not_answered(participant: Any) -> bool:
    """A SIP participant whose call is still dialing or ringing: LiveKit connects a dialled-out callee to
    the room before the phone rings, so its presence is not attendance until it answers."""
    return participant.kind == "sip" and participant.attributes.get("sip.callStatus") in NOT_ANSWERED_CALL_STATUSES


def describe_sip_participant(participant: Any) -> dict[str, str]:
    """Log fields for a SIP participant seen in a webhook: the caller's number masked (the shared logger
    masks numbers too; this keeps the identity readable and adds the call's id)."""
    attributes = dict(participant.attributes)
    identity = participant.identity
    if identity.startswith("sip_+"):  # LiveKit names callers sip_<their number> unless numbers are hidden
        identity = "sip_" + mask_phone_number(identity[4:])
    return {
        "identity": identity,
        "via": "phone",
        "phone_number": mask_phone_number(attributes.get("sip.phoneNumber")),
        "sip_call_id": attributes.get("sip.callID", ""),
    }
