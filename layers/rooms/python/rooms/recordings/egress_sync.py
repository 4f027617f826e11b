"""Egress state onto the record: LiveKit's egress webhooks, ListEgress reconciliation, the room's end."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from rooms import metric_names, store
from rooms.clock import iso
from rooms.errors import UpstreamUnavailable
from rooms.livekit_gateway import egress_service as lk_egress
from rooms.observability import logger, metrics
from rooms.recordings import storage
from rooms.recordings.record import processing_status, recording_id_for_egress, room_id_of, trigger_for
from rooms.recordings.upload import process_uploaded_object
from rooms.settings import Settings
from rooms.store import RoomItem

if TYPE_CHECKING:
    from rooms.livekit_gateway.webhook import WebhookEvent
    from rooms.webhooks import WebhookContext


# --- egress state: webhooks and reconciliation ------------------------------------------------------


def recording_id_for(room: RoomItem, state: lk_egress.EgressState, *, settings: Settings) -> str:
    """Which recording an egress writes: our file path names it; else the egress lookup; else a new id."""
    for path in [f.filename for f in state.files] + list(state.filepaths):
        parsed = storage.parse_object_key(path, settings=settings)
        if parsed and parsed[0] == room.room_id and room_id_of(parsed[1]) == room.room_id:
            return parsed[1]
    lookup = store.recordings.get_egress_lookup(state.egress_id)
    if lookup is not None and lookup.room_id == room.room_id:
        return lookup.recording_id
    return recording_id_for_egress(room.room_id, state.egress_id)


def _ns_iso(ns: int) -> str:
    return iso(datetime.fromtimestamp(ns / 1e9, UTC))


def egress_facts(room: RoomItem, recording_id: str, state: lk_egress.EgressState, *,
                 upload_missing_at: str | None = None, settings: Settings) -> store.recordings.EgressFacts:
    """What an egress state tells the recording's record (its file where the egress says, else ours)."""
    key = next((f.filename for f in state.files if f.filename), None) or next(iter(state.filepaths), None)
    duration_ns = size = location = None
    if state.files:
        f = state.files[0]
        duration_ns = f.duration_ns or max(0, f.ended_at_ns - f.started_at_ns)
        size, location = f.size, f.location or None
    elif state.started_at_ns and state.ended_at_ns:
        duration_ns = state.ended_at_ns - state.started_at_ns
    return store.recordings.EgressFacts(
        egress_id=state.egress_id,
        status=state.status,
        trigger=trigger_for(room, manual=False),
        bucket=storage.bucket(settings),
        object_key=key or storage.object_key(room.room_id, recording_id, settings),
        endpoint=settings.recordings_s3_endpoint or None,
        started_at=_ns_iso(state.started_at_ns) if state.started_at_ns else None,
        ended_at=_ns_iso(state.ended_at_ns) if state.ended_at_ns else None,
        duration_seconds=None if duration_ns is None else duration_ns // 1_000_000_000,
        size_bytes=size,
        location=location,
        error=(f"nothing was published: {state.error or 'the egress never started'}" if state.status == "aborted"
               else state.error or None),
        upload_missing_at=upload_missing_at,
    )


def _upload_missing(room: RoomItem, recording_id: str, state: lk_egress.EgressState, *, settings: Settings) -> bool:
    """An egress that says complete must have left its file where we expect it."""
    if state.status not in ("complete", "limit_reached"):
        return False
    if not state.files:
        return True
    key = state.files[0].filename or storage.object_key(room.room_id, recording_id, settings=settings)
    return not storage.object_exists(storage.bucket(settings=settings), key)


def _failed(state: lk_egress.EgressState, upload_missing: bool) -> bool:
    """``aborted`` is not a failure: LiveKit's room composite aborts an egress that never got its start
    signal (nobody published a track), and there was nothing to record."""
    return upload_missing or state.status == "failed"


def _report_egress(room: RoomItem, recording_id: str, state: lk_egress.EgressState, upload_missing: bool,
                   source: str) -> None:
    extra = {"action": f"recording.egress_{state.status}", "actor": source, "room_id": room.room_id,
             "target": recording_id, "egress_id": state.egress_id}
    if _failed(state, upload_missing):
        metrics.add_metric(name=metric_names.RECORDING_FAILURES, unit="Count", value=1)
        logger.warning("recording failed", extra={**extra, "error": state.error or "upload missing"})
    elif state.status == "aborted":
        logger.info("recording empty: nothing was published", extra={**extra, "error": state.error})
    else:
        logger.info("recording egress state", extra=extra)


def apply_egress_webhook(state: lk_egress.EgressState, ctx: WebhookContext) -> None:
    """An ``egress_*`` webhook (all three carry the whole EgressInfo): one transaction with the event
    marker; a state behind the record's makes the event stale (nothing written). Whether a completed
    egress left its file (S3) is the webhook worker's follow-up (``check_egress_upload``)."""
    room = ctx.room
    recording_id = recording_id_for(room, state, settings=ctx.settings)
    now = iso(ctx.received_at)
    facts = egress_facts(room, recording_id, state, settings=ctx.settings)
    checks_upload = state.status in ("complete", "limit_reached")
    if checks_upload:
        ctx.defer("check_egress_upload")
    with ctx.transaction() as tx:
        store.recordings.apply_egress_writes(tx, room_id=room.room_id, recording_id=recording_id, facts=facts,
                                             rank=state.rank, now=now)
    if not checks_upload:
        _report_egress(room, recording_id, state, False, source="livekit")


def check_egress_upload(event: WebhookEvent, room: RoomItem, received_at: datetime, arguments: dict,
                        *, settings: Settings) -> None:
    """The worker's follow-up of a completed egress: its file must be where it says (else the record notes
    the upload missing, and it is a recording failure, reported once)."""
    state = event.egress
    recording_id = recording_id_for(room, state, settings=settings)
    if not _upload_missing(room, recording_id, state, settings=settings):
        _report_egress(room, recording_id, state, False, source="livekit")
    elif store.recordings.mark_upload_missing(room.room_id, recording_id, state.egress_id, iso(received_at)):
        _report_egress(room, recording_id, state, True, source="livekit")  # once, however often it runs


def reconcile_egress(room: RoomItem, states: list[lk_egress.EgressState], *, now: datetime,
                     settings: Settings) -> list[str]:
    """Apply LiveKit's current view of egresses (ListEgress) as a webhook would. Returns recording ids."""
    at = iso(now)
    ids = []
    for state in states:
        recording_id = recording_id_for(room, state, settings=settings)
        missing = _upload_missing(room, recording_id, state, settings=settings)
        changed = store.recordings.apply_egress_state(
            room_id=room.room_id, recording_id=recording_id,
            facts=egress_facts(room, recording_id, state, upload_missing_at=at if missing else None,
                               settings=settings),
            rank=state.rank, now=at,
        )
        if changed and state.rank == 4:
            _report_egress(room, recording_id, state, missing, source="reconcile")
        ids.append(recording_id)
    return ids


def release_room_recordings(room: RoomItem, *, now: datetime, settings: Settings) -> None:
    """Room ended: stop its egresses, reconcile every recording with ListEgress (a dropped
    ``egress_ended`` must not leave one stuck), and verify uploads whose S3 event has not come."""
    recordings = store.recordings.list_recordings(room.room_id)
    # A host start writes its record before calling LiveKit, so only automatic and compliance rooms can
    # have an egress we hold no record of (its egress_started dropped).
    if not recordings and (room.recording in ("none", "optional") or not room.livekit_created_at):
        return
    try:
        states = lk_egress.list_egress(room.livekit_room)
        if any(s.status in ("starting", "active") for s in states):
            for s in states:
                if s.status in ("starting", "active"):
                    with contextlib.suppress(lk_egress.EgressNotRunning):  # it ended meanwhile
                        lk_egress.stop_egress(s.egress_id)
            states = lk_egress.list_egress(room.livekit_room)
    except UpstreamUnavailable as err:
        logger.warning("recordings not reconciled: LiveKit unavailable",
                       extra={"room_id": room.room_id, "error": err.message})
        return
    reconcile_egress(room, states, now=now, settings=settings)
    known = {s.egress_id for s in states}
    at = iso(now)
    for rec in recordings:
        if rec.egress_id and rec.egress_status in lk_egress.RUNNING and rec.egress_id not in known:
            lost = lk_egress.EgressState(egress_id=rec.egress_id, room_name=room.livekit_room, status="failed",
                                         started_at_ns=0, ended_at_ns=0, filepaths=(), files=(),
                                         error="egress unknown to LiveKit when the room ended")
            if store.recordings.apply_egress_state(
                room_id=room.room_id, recording_id=rec.recording_id,
                facts=egress_facts(room, rec.recording_id, lost, settings=settings), rank=lost.rank, now=at,
            ):
                _report_egress(room, rec.recording_id, lost, False, source="reconcile")
    for rec in store.recordings.list_recordings(room.room_id):
        if processing_status(rec) == "processing" and rec.bucket and rec.object_key:
            process_uploaded_object(rec.bucket, rec.object_key, now=now, settings=settings)


def egress_event(event: WebhookEvent, ctx: WebhookContext) -> None:
    """``egress_started``, ``egress_updated`` and ``egress_ended`` each carry the whole ``EgressInfo``, so one
    handler applies any of them (a late one never moves a recording back)."""
    apply_egress_webhook(event.egress, ctx)
