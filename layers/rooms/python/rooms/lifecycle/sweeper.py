"""The sweeper: time-driven work, found through the due index and done once per item.

``sweep(now)`` reads what is due by ``now`` (``store.due_items``: a Query per day bucket, so the items
read are the items due, never the rooms stored), claims each item for this sweep (a conditional write;
a concurrent sweep that read the same item gets nothing), does the work and moves the item to its next
due time. ``now`` is the schedule event's own time, so a late or retried invocation does the work of
its own minute, and tests freeze the clock by choosing it.

Rooms (``rooms.schedule`` decides what is due):
- open: the LiveKit room is created the open lead before a scheduled start (the same
  ``open_livekit_room`` as the first join-token request), the room becomes ``open``;
- end: a room still live ``end_grace_minutes`` after its scheduled end is closed like the platform's
  DELETE does (``close_room``: record, LiveKit room deleted, ``release_room_resources`` at that time)
  and ``Room Ended`` is published (with the attendance summary); a room never opened by then becomes ``expired``;
- settle: once a scheduled room has ended (whoever ended it), no-shows are marked on the room and
  ``Room No-Show`` is published;
- converge: a room that still owes LiveKit work (``cleanup_pending``: an ending whose LiveKit room
  deletion or release failed, a revoked member LiveKit did not remove) gets it done first
  (``rooms.lifecycle.ending.converge_room``); while LiveKit still fails, the room comes due again when
  the claim's lease runs out;
- check: an open room with no scheduled end is compared with LiveKit every ``live_check_minutes``:
  gone from LiveKit → closed (its ``room_finished`` was lost), else attendance reconciled.

Events are published before the write that records the work as done: if that write is lost (the
invocation dies), the item comes due again when its lease runs out and the event may be published a
second time (at least once; consumers key on ``room_id``). Two sweeps never both act on one claim.

Retention (``rooms.evidence.retention``): an ended room's data is deleted as its retention periods run
out, unless the room is under a legal hold.

Other entities (recordings to archive, ...) join by giving their items due keys and adding their
handler to ``DUE_HANDLERS`` (item class → handler) at the end of this module.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from rooms import metric_names, notify, store
from rooms.attendance.models import SessionVerdict
from rooms.attendance.view import attendance_view
from rooms.clock import iso
from rooms.evidence.retention import retention_due
from rooms.lifecycle.ending import close_room, converge_room
from rooms.livekit_gateway import room_service
from rooms.observability import logger, metrics
from rooms.phone import service as phone
from rooms.phone.dial_out import dial_out_due
from rooms.room.livekit_room import OPENABLE, open_livekit_room, room_config
from rooms.room.schedule import DueWork, due_work, session_was_due
from rooms.room.status import RoomStatus, is_live
from rooms.room.views import room_event_detail
from rooms.settings import Settings
from rooms.store import Claim, DialOutItem, RetentionItem, RoomItem

SWEEPER = "sweeper"  # the actor recorded on what the sweeper does
ENDED_DETAIL_TYPE = "Room Ended"
NO_SHOW_DETAIL_TYPE = "Room No-Show"

# A due item's handler: ``handler(item, now, settings) -> outcomes`` (names counted in the sweep's report). The
# handler claims the item itself (``store.claim_due``).
DueHandler = Callable[[Any, datetime, Settings], list[str]]


def sweep(now: datetime, settings: Settings) -> dict[str, Any]:
    """Do everything due by ``now``. Returns counts: ``due`` (items read) and one per outcome."""
    # Read first, then act: acting moves items within the buckets being read.
    due = list(store.due_items(now, lookback_days=settings.sweep_lookback_days, limit=settings.sweep_max_items))
    outcomes: Counter[str] = Counter()
    for item in due:
        handler = DUE_HANDLERS.get(type(item))
        if handler is None:
            logger.warning("due item nobody handles", extra={"kind": type(item).__name__, "pk": item.pk})
            outcomes["unhandled"] += 1
            continue
        try:
            outcomes.update(handler(item, now, settings))
        except Exception:
            # One item's failure (LiveKit unreachable, ...) must not stop the others: its claim runs
            # out and the next sweep after that retries it.
            logger.exception("due work failed", extra={"pk": item.pk, "sk": item.sk})
            outcomes["failed"] += 1
    metrics.add_metric(name=metric_names.SWEEP_DUE_ITEMS, unit="Count", value=len(due))
    if outcomes["failed"]:
        metrics.add_metric(name=metric_names.SWEEP_FAILURES, unit="Count", value=outcomes["failed"])
    report = {"now": iso(now), "due": len(due), **dict(sorted(outcomes.items()))}
    logger.info("sweep done", extra={"action": "sweep", "actor": SWEEPER, **report})
    return report


# --- rooms ---------------------------------------------------------------------------------------------


def room_due(seen: RoomItem, now: datetime, settings: Settings) -> list[str]:
    claim = store.claim_due(seen, now=now, lease_seconds=settings.sweep_lease_seconds)
    if claim is None:
        return ["taken"]  # another sweep holds it, or has already moved it on
    room: RoomItem = claim.item
    converged = converge_room(room, now=now,
                              settings=settings) if room.cleanup_pending else []  # raises: retried after the lease
    return converged + _room_work(claim, now, settings)


def _room_work(claim: Claim, now: datetime, settings: Settings) -> list[str]:
    room: RoomItem = claim.item
    work = due_work(room, now, settings)
    if work.action == "open":
        return _open(claim, work, now, settings)
    if work.action in ("end", "expire") or (work.action == "settle" and room.ended_by == SWEEPER):
        # (a settle of a room we ended ourselves is a retry: finish the ending first, it is idempotent)
        return _end_and_settle(claim, work, now, settings=settings)
    if work.action == "settle":
        return _settle(claim, now)
    if work.action == "check":
        return _check(claim, work, now, settings=settings)
    store.finish_due(claim, next_due=work.next_due)
    return ["rescheduled" if work.next_due else "done"]


def _open(claim: Claim, work: DueWork, now: datetime, settings: Settings) -> list[str]:
    room: RoomItem = claim.item
    updates = open_livekit_room(room, now=now, settings=settings, schedule_live_checks=False)
    if store.finish_due(claim, next_due=work.next_due, actions=updates, condition=OPENABLE):
        # callers can dial in from the open on (never raises)
        phone.on_livekit_room_open(room, now=now, settings=settings,
                                   config=room_config(room, now=now, settings=settings))
        metrics.add_metric(name=metric_names.ROOMS_OPENED, unit="Count", value=1)
        logger.info("room opened", extra={"action": "room.open", "actor": SWEEPER, "room_id": room.room_id,
                                          "scheduled_start": room.scheduled_start,
                                          "waiting_room": bool(room.waiting_room)})
        return ["opened"]
    # Ended while we were opening it (its end set its own due key): take the LiveKit room away again.
    fresh = store.get_room(room.room_id, consistent=True)
    if fresh is not None and not is_live(fresh.status):
        room_service.delete_room(room.livekit_room)
    store.release_due(claim)
    return ["raced"]


def _check(claim: Claim, work: DueWork, now: datetime, *, settings: Settings) -> list[str]:
    """An open room with no scheduled end, checked against LiveKit (its webhooks are best-effort)."""
    room: RoomItem = claim.item
    if room.livekit_created_at and not room_service.room_exists(room.livekit_room):
        # LiveKit closed the room and its room_finished never reached us: close it as that event would
        # have (attendance reconciled and closed, recordings reconciled, phone released).
        ended, changed = close_room(room, now=now, actor=SWEEPER, reason="livekit_room_gone", settings=settings)
        if ended is not None:
            store.finish_due(claim, next_due=None)
        logger.info("room closed: its LiveKit room is gone", extra={
            "action": "room.end", "actor": SWEEPER, "room_id": room.room_id, "changed": changed})
        return ["ended_lost_room_finished"] if changed else ["done"]
    from rooms.attendance.reconcile import reconcile_attendance  # lazily, like release_room_resources

    reconcile_attendance(room, now=now)
    store.finish_due(claim, next_due=work.next_due)
    return ["checked"]


def _end_and_settle(claim: Claim, work: DueWork, now: datetime, *, settings: Settings) -> list[str]:
    room: RoomItem = claim.item
    expire = work.action == "expire"
    ended, changed = close_room(room, now=now, actor=SWEEPER,
                                reason="never_opened" if expire else "scheduled_end_passed",
                                status=RoomStatus.EXPIRED if expire else RoomStatus.ENDED, settings=settings)
    if ended is None:  # rooms are never deleted; nothing left to do
        return ["done"]
    outcomes = [("expired" if expire else "ended")] if changed else []
    # close_room moved the due key to "settle now" and left our lease in place: settle in this pass.
    return outcomes + _settle(Claim(item=ended, lease=claim.lease, until=claim.until), now)


def _settle(claim: Claim, now: datetime) -> list[str]:
    room: RoomItem = claim.item
    if room.ended_by == SWEEPER:
        notify.publish(ENDED_DETAIL_TYPE, _room_event(room))
    verdict = _session_verdict(room, now)
    no_show = verdict.no_show if verdict is not None and session_was_due(room) else None
    if no_show is not None:
        notify.publish(NO_SHOW_DETAIL_TYPE, {**_room_event(room), **no_show.model_dump()})
    settled = store.rooms.settled(at=iso(now), no_show=no_show.model_dump() if no_show is not None else None,
                                  verdict=verdict.model_dump(mode="json") if verdict is not None else None)
    if not store.finish_due(claim, next_due=None, actions=settled, condition=store.rooms.NOT_SETTLED):
        return ["raced"]
    if no_show is None:
        return ["settled"]
    metrics.add_metric(name=metric_names.NO_SHOWS, unit="Count", value=1)
    logger.info("no-show marked", extra={"action": "room.no_show", "actor": SWEEPER, "room_id": room.room_id,
                                         **no_show.model_dump()})
    return ["settled", "no_show"]


def _session_verdict(room: RoomItem, now: datetime) -> SessionVerdict | None:
    """The session's verdict from its attendance (the attended rule and the grace period decide
    no-shows; ending before the start is a cancellation, nobody to blame)."""
    view = attendance_view(room, store.get_room_attendance(room.room_id), now=now,
                           members=store.list_members(room.room_id))
    return view.verdict


def _room_event(room: RoomItem) -> dict[str, Any]:
    return {
        **room_event_detail(room),
        "ended_at": room.ended_at,
        "ended_by": room.ended_by,
        "end_reason": room.end_reason,
        "participant_count": _int_or_none(room.participant_count),
        "peak_concurrent": _int_or_none(room.peak_concurrent),
        "duration_seconds": _int_or_none(room.duration_seconds),
    }


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


DUE_HANDLERS: dict[type, DueHandler] = {
    RoomItem: room_due,
    RetentionItem: retention_due,  # retention periods and legal holds (rooms.evidence.retention)
    DialOutItem: dial_out_due,  # dial-outs whose worker never finished (rooms.phone.dial_out)
}
