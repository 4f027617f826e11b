"""Retention periods and legal holds.

When a room ends, ``schedule_retention`` gives it a retention item with one deadline per kind of data,
counted from the room's end: quality samples (``QUALITY_RETENTION_DAYS``), recordings
(``RECORDINGS_RETENTION_DAYS``: every S3 version, then the record), attendance
(``ATTENDANCE_RETENTION_DAYS``: segments, tracks, who attended), audit trail and consent ledger
(``AUDIT_RETENTION_DAYS``; the entries' DynamoDB TTL usually takes them first). The item sits in the due
index at its earliest pending deadline, so the sweeper finds exactly the rooms whose data is due (no Scan)
and moves the item on to the next deadline.

A legal hold on a room blocks every deletion: its retention item leaves the due index, the TTL of its
audit entries is stripped (new entries are written without one), recordings cannot be deleted (409
``legal_hold``), and a user erasure skips the room (reported). Releasing the hold puts it all back;
deadlines that passed meanwhile are acted on by the next sweep.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from rooms import audit, metric_names
from rooms.access import Caller, require_admin, require_room
from rooms.clock import iso, parse_iso
from rooms.observability import logger, metrics
from rooms.recordings import storage
from rooms.settings import Settings
from rooms.store import recordings as recordings_store
from rooms.store import retention as retention_store
from rooms.store.retention import RetentionItem

RETENTION_ACTOR = "sweeper"  # what the sweeper does is on record as the sweeper's (lifecycle.sweeper)


class LegalHoldRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)

    reason: str = Field(min_length=1, max_length=500, description="Why (a case or matter reference)")


class LegalHoldView(BaseModel):
    model_config = ConfigDict(defer_build=True)

    room_id: str
    held: bool
    reason: str | None = None
    placed_at: str | None = None
    placed_by: str | None = None
    retention_due: dict[str, str] = Field(default_factory=dict, description="Pending deletions by kind")


def retention_deadlines(ended_at: datetime, settings: Settings) -> dict[str, str]:
    days = {"quality": settings.quality_retention_days, "attendance": settings.attendance_retention_days,
            "recordings": settings.recordings_retention_days, "audit": settings.audit_retention_days}
    return {kind: iso(ended_at + timedelta(days=n)) for kind, n in days.items()}


def schedule_retention(room, *, now: datetime, settings: Settings) -> None:
    """The retention step of ``release_room_resources`` (idempotent: the first end's deadlines stand)."""
    ended_at = parse_iso(room.ended_at) if room.ended_at else now
    retention_store.schedule(room.room_id, ended_at=iso(ended_at), due=retention_deadlines(ended_at, settings),
                             held=bool(room.legal_hold))


def retention_due(seen: RetentionItem, now: datetime, settings: Settings) -> list[str]:
    """The sweeper's handler of a due retention item (``lifecycle.sweeper.DUE_HANDLERS``)."""
    from rooms import store

    claim = store.claim_due(seen, now=now, lease_seconds=settings.sweep_lease_seconds)
    if claim is None:
        return ["taken"]
    item: RetentionItem = claim.item
    room = store.get_room(item.room_id, consistent=True)
    if room is None or room.legal_hold:
        store.finish_due(claim, next_due=None)  # a hold's release puts it back
        return ["held"] if room is not None else ["done"]
    pending = item.pending()
    due_now = sorted(kind for kind, at in pending.items() if parse_iso(at) <= now)
    counts = {kind: _purge(room, kind, now=now, settings=settings) for kind in due_now}
    later = [at for kind, at in pending.items() if kind not in due_now]
    store.finish_due(claim, next_due=parse_iso(min(later)) if later else None,
                     actions=retention_store.done_actions(due_now) if due_now else None)
    if due_now and "audit" not in due_now:
        audit.record(room, at=now, actor=RETENTION_ACTOR, action="retention.deleted", details=counts, settings=settings)
    for kind, count in counts.items():
        metrics.add_metric(name=metric_names.RETENTION_DELETIONS, unit="Count", value=count)
        logger.info("retention: deleted", extra={"action": "retention.delete", "actor": RETENTION_ACTOR,
                                                 "room_id": room.room_id, "kind": kind, "count": count})
    return [f"retention_{kind}" for kind in due_now] or ["rescheduled"]


def _purge(room, kind: str, *, now: datetime, settings: Settings) -> int:
    if kind == "quality":
        return retention_store.purge_quality(room.room_id)
    if kind == "attendance":
        return retention_store.purge_attendance(room.room_id)
    if kind == "audit":
        return retention_store.purge_audit(room.room_id)
    deleted = 0
    for rec in recordings_store.list_recordings(room.room_id):
        if rec.bucket and rec.object_key:
            storage.delete_object(rec.bucket, rec.object_key)
        recordings_store.delete_recording(rec, now=now, audit=[audit.entry(
            room, at=now, actor=RETENTION_ACTOR, action="recording.deleted", target=rec.recording_id,
            details={"reason": "retention"}, settings=settings)])
        deleted += 1
    return deleted


# --- legal hold (admin) ------------------------------------------------------------------------------------


def _hold_view(room, item: RetentionItem | None) -> LegalHoldView:
    hold = room.legal_hold.as_dict() if room.legal_hold else {}
    return LegalHoldView(room_id=room.room_id, held=bool(hold), reason=hold.get("reason"),
                         placed_at=hold.get("placed_at"), placed_by=hold.get("placed_by"),
                         retention_due=item.pending() if item else {})


def place_legal_hold(room_id: str, request: LegalHoldRequest, *, caller: Caller, now: datetime,
                     settings: Settings) -> LegalHoldView:
    """Block every deletion of the room's data until released. Placing it again updates the reason."""
    from rooms import store

    require_admin(caller)
    room = require_room(store.get_room(room_id), room_id)
    hold = {"reason": request.reason, "placed_at": iso(now), "placed_by": caller.user_id}
    room = require_room(retention_store.set_legal_hold(room_id, hold), room_id)
    retention_store.requeue(room_id, None)
    stripped = retention_store.set_ttls(room_id, audit_retention_days=None)
    audit.record(room, at=now, actor=caller.user_id, action="legal_hold.placed", details={"reason": request.reason},
                 required=True, settings=settings)
    logger.info("legal hold placed", extra={"action": "legal_hold.place", "actor": caller.user_id,
                                            "room_id": room_id, "ttl_stripped": stripped})
    return _hold_view(room, retention_store.get(room_id))


def release_legal_hold(room_id: str, *, caller: Caller, now: datetime,
                       settings: Settings) -> LegalHoldView:
    from rooms import store

    require_admin(caller)
    require_room(store.get_room(room_id), room_id)
    room = require_room(retention_store.set_legal_hold(room_id, None), room_id)
    room.legal_hold = None
    retention_store.set_ttls(room_id, audit_retention_days=settings.audit_retention_days)
    item = retention_store.get(room_id)
    if item is not None and item.pending():
        retention_store.requeue(room_id, max(min(item.pending().values()), iso(now)))
    audit.record(room, at=now, actor=caller.user_id, action="legal_hold.released", settings=settings)
    logger.info("legal hold released", extra={"action": "legal_hold.release", "actor": caller.user_id,
                                              "room_id": room_id})
    return _hold_view(room, item)


def read_legal_hold(room_id: str, *, caller: Caller) -> LegalHoldView:
    from rooms import store

    require_admin(caller)
    room = require_room(store.get_room(room_id), room_id)
    return _hold_view(room, retention_store.get(room_id))
