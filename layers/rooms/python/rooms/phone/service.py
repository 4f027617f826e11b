"""Phone: the dial-in PIN at room creation, the dispatch rule while the LiveKit room lives, dial-out."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from rooms import metric_names, store
from rooms.access import Caller, require_member_or_admin, require_room
from rooms.clock import iso
from rooms.errors import Conflict, InvalidInput, NotFound
from rooms.livekit_gateway import sip_service as livekit_sip
from rooms.livekit_gateway.room_service import RoomConfig
from rooms.observability import logger, metrics
from rooms.phone.numbers import (
    dial_in_details,
    pin_candidates,
    sip_of,
)
from rooms.room.models import DialIn, SipIn
from rooms.room.status import is_live
from rooms.settings import Settings, SipNumber
from rooms.store import RoomItem

# --- room creation: the PIN ---------------------------------------------------------------------------


def number_for_region(region: str, settings: Settings) -> SipNumber:
    number = settings.sip_numbers.get(region)
    if number is None:
        raise InvalidInput(f"no dial-in number is configured for region {region}", code="sip_region_unavailable",
                           field="sip.region")
    return number


def create_room_with_dial_in(
    item: RoomItem, members: Iterable[store.Member], *, sip: SipIn | None, actor: str | None, settings: Settings
) -> tuple[RoomItem, bool]:
    """``store.create_room_with_members``, plus for SIP-enabled rooms a PIN unique among the live rooms
    on the region's number, allocated in the same transaction (retried with another PIN on a clash)."""
    members = list(members)
    if not sip or not sip.enabled:
        return store.create_room_with_members(item, members)
    number = number_for_region(sip.region, settings)
    for attempt, pin in enumerate(pin_candidates(settings.sip_pin_length), start=1):
        item.sip = {"enabled": True, "region": sip.region, "number": number.number, "trunk_id": number.trunk_id,
                    "pin": pin, "call_me": sip.call_me}
        lock = store.new_pin_lock(number.number, pin, room_id=item.room_id, now=item.created_at)
        try:
            room, created = store.create_room_with_members(item, members, pin_lock=lock)
        except store.PinTaken:
            continue
        if created:
            metrics.add_metric(name=metric_names.PHONE_PINS_ALLOCATED, unit="Count", value=1)
            logger.info("dial-in PIN allocated", extra={
                "action": "phone.pin.allocate", "actor": actor, "room_id": item.room_id, "region": sip.region,
                "number": number.number, "attempts": attempt})
        return room, created
    metrics.add_metric(name=metric_names.PHONE_PINS_EXHAUSTED, unit="Count", value=1)
    raise Conflict(f"no free dial-in PIN on the {sip.region} number right now; retry, or raise the PIN length",
                   code="pin_unavailable", field="sip")


# --- LiveKit room opened / room ended: the dispatch rule ----------------------------------------------


def on_livekit_room_open(room: RoomItem, *, now: datetime, settings: Settings, config: RoomConfig) -> None:
    """Create the room's PIN dispatch rule once its LiveKit room exists (no-op when there is one, or no
    SIP). Never fails the caller: video must work when SIP does not; a failure is retried next time.
    The rule carries the room's ``config``: a caller into a room LiveKit closed recreates it with it."""
    sip = sip_of(room)
    if not sip.get("pin") or sip.get("dispatch_rule_id") or not is_live(room.status):
        return
    log = {"action": "phone.dispatch_rule.create", "room_id": room.room_id, "number": sip["number"]}
    pin = sip["pin"]
    candidates = iter(pin_candidates(settings.sip_pin_length))
    for _ in range(_PIN_CLASH_ATTEMPTS):
        try:
            rule_id = livekit_sip.create_pin_dispatch_rule(
                room_name=room.livekit_room,
                pin=pin,
                trunk_id=sip["trunk_id"],
                name=f"rooms:{room.room_id}",
                attributes={"rooms.room_id": room.room_id, "rooms.via": "phone"},
                hide_phone_number=settings.sip_hide_phone_numbers,
                room_config=config,
            )
            break
        except livekit_sip.DispatchRuleExists:
            logger.info("dispatch rule already created by a concurrent opening", extra=log)
            return
        except livekit_sip.PinClash:
            # LiveKit holds a rule for this PIN that our locks do not know (left behind, or an operator's):
            # the room takes another free PIN; its dial-in details (room view, token, GET dial-in) follow.
            pin = _move_to_another_pin(room, sip, pin, candidates, now=now)
            if pin is None:
                return
        except Exception:
            logger.exception("dispatch rule not created; retried at the next token request", extra=log)
            metrics.add_metric(name=metric_names.PHONE_DISPATCH_RULE_FAILURES, unit="Count", value=1)
            return
    else:
        logger.warning("dispatch rule not created: every PIN tried clashes in LiveKit", extra=log)
        metrics.add_metric(name=metric_names.PHONE_DISPATCH_RULE_FAILURES, unit="Count", value=1)
        return
    if store.record_dispatch_rule(room.room_id, rule_id, now=iso(now)):
        logger.info("dispatch rule created", extra={**log, "dispatch_rule_id": rule_id})
        return
    # The room ended while we created it: take the rule back.
    livekit_sip.delete_dispatch_rule(rule_id)
    logger.info("dispatch rule created for an ended room, deleted", extra={**log, "dispatch_rule_id": rule_id})


_PIN_CLASH_ATTEMPTS = 5


def _move_to_another_pin(room: RoomItem, sip: dict, clashing: str, candidates, *, now: datetime) -> str | None:
    """Move the room to the next PIN free in our locks. None when the room moved on meanwhile."""
    for candidate in candidates:
        if candidate == clashing:
            continue
        try:
            moved = store.move_pin(room.room_id, sip["number"], clashing, candidate, now=iso(now))
        except store.PinTaken:
            continue
        if not moved:
            return None
        metrics.add_metric(name=metric_names.PHONE_PINS_REASSIGNED, unit="Count", value=1)
        logger.warning("dial-in PIN clashed with a rule in LiveKit: the room has a new PIN", extra={
            "action": "phone.pin.reassign", "room_id": room.room_id, "number": sip["number"]})
        room.sip = {**sip, "pin": candidate}
        return candidate
    return None


def release_room_phone(room: RoomItem, *, now: datetime) -> None:
    """Delete the dispatch rule, then give the PIN back. Idempotent. If LiveKit cannot be reached the PIN
    stays held (reusing it while the old rule lives would break the next room's dial-in) and running
    this again finishes the job."""
    sip = sip_of(room)
    if not sip.get("pin"):
        return
    log = {"action": "phone.release", "room_id": room.room_id, "number": sip["number"], "at": iso(now)}
    try:
        if sip.get("dispatch_rule_id"):
            rule_ids = [sip["dispatch_rule_id"]]
        elif room.livekit_created_at:  # a rule created but not yet recorded when the room ended
            rule_ids = livekit_sip.dispatch_rules_for_room(trunk_id=sip["trunk_id"], room_name=room.livekit_room)
        else:
            rule_ids = []
        for rule_id in rule_ids:
            livekit_sip.delete_dispatch_rule(rule_id)
    except Exception:
        logger.exception("dispatch rule not deleted; PIN kept until this step runs again", extra=log)
        metrics.add_metric(name=metric_names.PHONE_RELEASE_FAILURES, unit="Count", value=1)
        return
    released = store.release_pin(sip["number"], sip["pin"], room_id=room.room_id)
    logger.info("phone released", extra={**log, "dispatch_rules_deleted": rule_ids, "pin_released": released})


# --- routes ---------------------------------------------------------------------------------------------


def get_dial_in(room_id: str, *, caller: Caller) -> DialIn:
    room, member = store.get_room_and_member(room_id, caller.user_id)
    room = require_room(room, room_id)
    require_member_or_admin(caller, room, member)
    if not sip_of(room).get("pin"):
        raise NotFound(f"room {room_id} has no phone dial-in", code="dial_in_not_enabled")
    details = dial_in_details(room)
    if details is None:
        raise Conflict(f"room {room_id} is {room.status}", code="room_ended")
    return details
