"""Dial-out, asynchronously and honestly.

``POST /rooms/{room_id}/dial-out`` (the host; or, in a room with ``sip.call_me``, a participant asking to be
called themselves: ``rooms.access.require_may_dial_out``) opens the LiveKit room if it is not open yet (as a
join-token request does), records the attempt (``requested``), takes a slot of the room's rate limit (and, for
a member's own call, of theirs) and publishes ``Dial-Out Requested``; it answers 202 at once. The
``dial_out_worker`` function (an EventBridge rule on that event, asynchronous with retries and a failure
queue) places the call with ``CreateSIPParticipant(wait_until_answered=True)``, which returns only once the
callee answered or the call failed (an HTTP request could not outlast the ringing). The outcome (answered,
busy, no_answer, failed, with the SIP status) is recorded on the attempt (``GET …/dial-outs/{dial_out_id}``)
and published as ``Dial-Out Answered`` / ``Dial-Out Failed``.

Honest attendance: LiveKit connects the SIP participant to the room *before* it rings (``sip.callStatus``
``dialing`` → ``ringing`` → ``active``), so its ``participant_joined`` is not attendance
(``rooms.phone.numbers.call_not_answered``); the segment starts when the callee answered, written here by
the worker. A call that did not connect gives its rate-limit slot back.

No attempt stays ``requested`` or ``dialing``: until it has an outcome it is in the due index at
``STALE_AFTER`` past its last step, and the sweeper settles one whose worker never finished (the event lost,
a crash, the function's timeout): answered if LiveKit shows its callee connected, otherwise failed with
its slot given back (``dial_out_due``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from rooms import metric_names, notify, store
from rooms.access import (
    Caller,
    require_host,
    require_may_dial_out,
    require_may_see_dial_out,
    require_member,
    require_room,
)
from rooms.clock import iso, parse_iso
from rooms.errors import Conflict, InvalidInput, NotFound, TooManyRequests, UpstreamUnavailable
from rooms.livekit_gateway import sip_service as livekit_sip
from rooms.livekit_gateway.room_service import get_participant
from rooms.observability import logger, metrics
from rooms.phone.masking import mask_phone_number
from rooms.phone.numbers import DIAL_OUT_ID_ATTRIBUTE, call_not_answered, dial_out_outcome, phone_identity, sip_of
from rooms.room.models import DialOutList, DialOutRequest, DialOutResponse
from rooms.room.status import MemberStatus, is_live
from rooms.settings import Settings
from rooms.store import DialOutItem

REQUESTED_DETAIL_TYPE = "Dial-Out Requested"
ANSWERED_DETAIL_TYPE = "Dial-Out Answered"
FAILED_DETAIL_TYPE = "Dial-Out Failed"

# Past the longest a worker can take over one attempt: the dial_out_worker function's timeout (120 s,
# infra/constructs/functions.py; tests/infra hold it below this) covers the ringing (at most 80 s) and
# LiveKit's connect time. An attempt still without an outcome then is settled by the sweeper.
STALE_AFTER = timedelta(minutes=5)
WORKER_LOST = "the dial-out worker did not finish (its request lost, a crash or a timeout)"


def view(item: DialOutItem) -> DialOutResponse:
    return DialOutResponse(
        dial_out_id=item.dial_out_id, status=item.status, room_id=item.room_id,
        participant_identity=item.identity, participant_id=item.participant_id, sip_call_id=item.sip_call_id,
        user_id=item.user_id, phone_number=item.phone_number_masked, requested_by=item.requested_by,
        requested_at=item.requested_at, answered_at=item.answered_at, finished_at=item.finished_at,
        ended_at=item.ended_at, sip_status_code=int(item.sip_status_code) if item.sip_status_code else None,
        sip_status=item.sip_status, livekit_code=item.livekit_code,
    )


# --- the request (HTTP) ---------------------------------------------------------------------------------


def request_dial_out(room_id: str, request: DialOutRequest, *, caller: Caller, now: datetime,
                     settings: Settings) -> DialOutResponse:
    """The host asks for a phone to be called into the room, or (``sip.call_me``) a participant asks to be
    called themselves: the attempt is recorded and queued."""
    wanted = [caller.user_id] + ([request.user_id] if request.user_id else [])
    room, members = store.get_room_and_members(room_id, *wanted)
    room = require_room(room, room_id)
    permit = require_may_dial_out(caller, room, members.get(caller.user_id), user_id=request.user_id)
    if not is_live(room.status):
        raise Conflict(f"room {room_id} is {room.status}", code="room_ended")
    if not sip_of(room).get("enabled"):
        raise Conflict(f"phone is not enabled for room {room_id}", code="phone_not_enabled")
    if not settings.sip_outbound_trunk_id:
        raise UpstreamUnavailable("dial-out is not configured in this deployment", code="dial_out_not_configured")
    if not room.livekit_created_at:
        room = _open_just_in_time(room, caller=caller, now=now, settings=settings)

    if permit.user_id:
        target = members.get(permit.user_id)
        if target is None or target.status != MemberStatus.ACTIVE:
            raise InvalidInput(f"{permit.user_id} is not a member of room {room_id}", code="not_a_member",
                               field="user_id")
        identity, name = target.user_id, request.participant_name or target.name or target.user_id
    else:
        identity, name = phone_identity(room_id, request.phone_number), request.participant_name or "Phone"

    window = settings.sip_dial_out_window_seconds
    start = int(now.timestamp()) // window * window
    window_start = iso(datetime.fromtimestamp(start, now.tzinfo))
    expires_at = parse_iso(window_start) + timedelta(seconds=window, days=1)
    retry_after = start + window - int(now.timestamp())
    if permit.call_me:  # the member's own slot too (toll-fraud guard), both or neither
        count = None
        reached = store.take_member_dial_out_slots(
            room_id, caller.user_id, window_start=window_start, limit=settings.sip_dial_out_limit,
            member_limit=settings.sip_call_me_limit, expires_at=expires_at)
        if reached == "member":
            raise TooManyRequests(f"you asked for {settings.sip_call_me_limit} calls in {window} s",
                                  code="dial_out_member_rate_limited", retry_after_seconds=retry_after)
    else:
        count = store.take_dial_out_slot(room_id, window_start=window_start, limit=settings.sip_dial_out_limit,
                                         expires_at=expires_at)
        reached = "room" if count is None else None
    if reached == "room":
        raise TooManyRequests(f"room {room_id} reached {settings.sip_dial_out_limit} dial-outs per {window} s",
                              code="dial_out_rate_limited", retry_after_seconds=retry_after)

    masked = mask_phone_number(request.phone_number)
    item = DialOutItem(
        *DialOutItem.key(room_id, uuid.uuid4().hex), room_id=room_id, status="requested",
        requested_by=caller.user_id, requested_at=iso(now), window_start=window_start, identity=identity,
        name=name, user_id=permit.user_id, phone_number=request.phone_number, phone_number_masked=masked,
        slot_user_id=caller.user_id if permit.call_me else None,
    )
    item.dial_out_id = item.sk.removeprefix("DIALCALL#")
    item.ttl = now + timedelta(days=settings.attendance_retention_days)
    store.create_dial_out(item, stale_at=now + STALE_AFTER)
    log = {"action": "phone.dial_out.request", "actor": caller.user_id, "room_id": room_id, "target": identity,
           "phone_number": masked, "dial_out_id": item.dial_out_id, "dial_outs_in_window": count,
           "call_me": permit.call_me}
    try:
        notify.publish(REQUESTED_DETAIL_TYPE, {"room_id": room_id, "dial_out_id": item.dial_out_id})
    except Exception:
        logger.exception("dial-out not queued", extra=log)
        _fail(item, status="failed", at=now, error="not queued", publish=False)
        raise UpstreamUnavailable("the call could not be queued; retry", code="dial_out_unavailable") from None
    logger.info("dial-out requested", extra=log)
    return view(item)


def _open_just_in_time(room, *, caller: Caller, now: datetime, settings: Settings):
    """A dial-out into a room whose LiveKit room is not open yet opens it, as a join-token request does
    (README, "Dial-out"): the callee must have a room to be connected to."""
    from rooms.room.livekit_room import open_now  # only this rare path pays for the room-opening imports

    open_now(room, now=now, actor=caller.user_id, why="dial-out", settings=settings)
    fresh = store.get_room(room.room_id, consistent=True)  # opened by us, or by someone else meanwhile
    if fresh is None or not is_live(fresh.status) or not fresh.livekit_created_at:
        raise Conflict(f"room {room.room_id} is {fresh.status if fresh else 'gone'}", code="room_ended")
    return fresh


def get_dial_out(room_id: str, dial_out_id: str, *, caller: Caller) -> DialOutResponse:
    """The host reads any attempt; a member ("call me") only their own."""
    room, members = store.get_room_and_members(room_id, caller.user_id)
    room = require_room(room, room_id)
    member = members.get(caller.user_id)
    require_member(caller, room, member)  # (before the item: a stranger learns nothing of its ids)
    item = store.get_dial_out(room_id, dial_out_id)
    if item is None:
        raise NotFound(f"no dial-out {dial_out_id} in room {room_id}", code="dial_out_not_found")
    require_may_see_dial_out(caller, room, member, requested_by=item.requested_by)
    return view(item)


def list_dial_outs(room_id: str, *, caller: Caller) -> DialOutList:
    room, members = store.get_room_and_members(room_id, caller.user_id)
    room = require_room(room, room_id)
    require_host(caller, room, members.get(caller.user_id))
    items = sorted(store.list_dial_outs(room_id), key=lambda i: (i.requested_at, i.dial_out_id))
    return DialOutList(dial_outs=[view(i) for i in items])


# --- placing the call (the asynchronous worker) -----------------------------------------------------------


def place_dial_out(room_id: str, dial_out_id: str, *, clock: Callable[[], datetime], settings: Settings) -> str:
    """Place a requested call and record what became of it. Returns the outcome (or ``duplicate`` for a
    request already placed: the phone never rings twice)."""
    item = store.get_dial_out(room_id, dial_out_id)
    if item is None or item.status != "requested":
        return "duplicate"
    room = store.get_room(room_id, consistent=True)
    if room is None or not is_live(room.status):
        _fail(item, status="failed", at=clock(), error="room ended before the call was placed")
        return "failed"
    started = clock()
    if store.claim_dial_out(room_id, dial_out_id, now=iso(started), stale_at=started + STALE_AFTER) is None:
        return "duplicate"
    log = {"action": "phone.dial_out", "actor": item.requested_by, "room_id": room_id, "target": item.identity,
           "phone_number": item.phone_number_masked, "dial_out_id": dial_out_id}
    attributes = {"rooms.room_id": room_id, "rooms.via": "phone", "rooms.dialed_by": item.requested_by,
                  DIAL_OUT_ID_ATTRIBUTE: dial_out_id}
    if item.user_id:
        attributes["rooms.user_id"] = item.user_id
    try:
        placed = livekit_sip.create_sip_participant(
            trunk_id=settings.sip_outbound_trunk_id or "", call_to=item.phone_number or "",
            room_name=room.livekit_room, identity=item.identity, name=item.name or "Phone", attributes=attributes,
            hide_phone_number=settings.sip_hide_phone_numbers,
            ringing_timeout_seconds=settings.sip_ringing_timeout_seconds, wait_until_answered=True,
        )
    except livekit_sip.SipCallFailed as err:
        status = dial_out_outcome(err.sip_status_code, err.code)
        logger.info("dial-out did not connect", extra={**log, "outcome": status, "sip_status_code": err.sip_status_code,
                                                       "livekit_code": err.code})
        _fail(item, status=status, at=clock(), sip_status_code=err.sip_status_code, sip_status=err.sip_status,
              livekit_code=err.code)
        return status
    except UpstreamUnavailable as err:
        logger.warning("dial-out: LiveKit unavailable", extra={**log, "error": str(err)})
        _fail(item, status="failed", at=clock(), livekit_code=err.code, error=str(err))
        return "failed"
    except Exception as err:
        _fail(item, status="failed", at=clock(), error=type(err).__name__)
        raise
    _answered(item, room, identity=placed.participant_identity, participant_id=placed.participant_id,
              sip_call_id=placed.sip_call_id, at=clock(), settings=settings)
    logger.info("dial-out answered", extra={**log, "sip_call_id": placed.sip_call_id})
    return "answered"


def _answered(item: DialOutItem, room, *, identity: str, participant_id: str, sip_call_id: str | None,
              at: datetime, settings: Settings) -> None:
    """The callee answered: the outcome, their attendance from ``at``, and the event (each once)."""
    store.record_dial_out_answered(item.room_id, item.dial_out_id, at=iso(at),
                                   participant_id=participant_id, sip_call_id=sip_call_id)
    # (imported here: the worker's answer opens attendance; sip_dial's routes do not load attendance)
    from rooms.attendance.webhooks import record_phone_answered

    record_phone_answered(room, identity=identity, participant_sid=participant_id, user_id=item.user_id,
                          name=item.name, answered_at=at, event_id=f"dialout-{item.dial_out_id}", settings=settings)
    metrics.add_metric(name=metric_names.PHONE_DIAL_OUTS, unit="Count", value=1)
    notify.publish(ANSWERED_DETAIL_TYPE, _event_detail(store.get_dial_out(item.room_id, item.dial_out_id) or item,
                                                       room))


def dial_out_due(seen: DialOutItem, now: datetime, settings: Settings) -> list[str]:
    """The sweeper's handler of an attempt still without an outcome ``STALE_AFTER`` past its last step
    (``lifecycle.sweeper.DUE_HANDLERS``): its worker is gone. If LiveKit shows the callee connected (the
    call was answered and the worker died before it said so), it is answered, with attendance from this
    sweep (when the answer became known: never more time than the callee was there); otherwise it
    failed, and its slots are given back."""
    claim = store.claim_due(seen, now=now, lease_seconds=settings.sweep_lease_seconds)
    if claim is None:
        return ["taken"]
    item: DialOutItem = claim.item
    if item.status not in ("requested", "dialing"):
        store.finish_due(claim, next_due=None)
        return ["dial_out_done"]
    room = store.get_room(item.room_id, consistent=True)
    live = None
    if room is not None and is_live(room.status) and item.status == "dialing":
        live = get_participant(room.livekit_room, item.identity)
    log = {"action": "phone.dial_out.stale", "actor": "sweeper", "room_id": item.room_id, "target": item.identity,
           "dial_out_id": item.dial_out_id, "status": item.status}
    if (live is not None and live.attributes.get(DIAL_OUT_ID_ATTRIBUTE) == item.dial_out_id
            and not call_not_answered(live)):
        _answered(item, room, identity=live.identity, participant_id=live.sid, sip_call_id=None, at=now,
                  settings=settings)
        logger.warning("dial-out answered, its worker lost", extra=log)
        return ["dial_out_answered_late"]
    _fail(item, status="failed", at=now, error=WORKER_LOST)
    logger.warning("dial-out settled as failed: its worker never finished", extra=log)
    return ["dial_out_failed_stale"]


def _fail(item: DialOutItem, *, status: str, at: datetime, sip_status_code: int | None = None,
          sip_status: str | None = None, livekit_code: str | None = None, error: str | None = None,
          publish: bool = True) -> None:
    """Record a call that did not connect, give its rate-limit slot back, and say so."""
    if not store.record_dial_out_failure(item, status=status, at=iso(at), sip_status_code=sip_status_code,
                                         sip_status=sip_status, livekit_code=livekit_code, error=error):
        return  # already recorded (a redelivery)
    metrics.add_metric(name=metric_names.PHONE_DIAL_OUT_FAILURES, unit="Count", value=1)
    if not publish:
        return
    fresh = store.get_dial_out(item.room_id, item.dial_out_id) or item
    notify.publish(FAILED_DETAIL_TYPE, _event_detail(fresh, None))


def _event_detail(item: DialOutItem, room) -> dict:
    detail = view(item).model_dump(mode="json")
    if room is not None:
        detail["livekit_room"] = room.livekit_room
    return detail
