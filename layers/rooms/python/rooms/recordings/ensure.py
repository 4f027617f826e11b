"""Automatic and compliance recording cannot silently not start: verify the room's egress, start one if
LiveKit has none.

Why CreateRoom's auto egress is not enough: LiveKit starts it only when it first creates
the room; if that start fails, CreateRoom answers the error but the room stays live (``room_started``
was sent), and the retry returns it *unrecorded*. A room LiveKit auto-creates (a reconnect after its
departure timeout, a dial-in caller) has no egress at all (join tokens and dispatch rules carry none).

So ``verify_recording`` asks LiveKit (ListEgress, the truth) whether the room has an egress starting or
active, and if not starts one. It is called at ``room_started`` and at every ``track_published`` (the
moment that matters: a room composite records nothing before a track is published), and, for rooms whose
template makes recording mandatory, at every token request of someone who may publish. Two concurrent
verifications start one egress: the start claims the room's recording slot with a DynamoDB condition
(the one a host's start uses), and a fresh claim without an egress yet means "a start is in flight".

"Started" is what can be verified before anyone publishes: a room composite stays ``EGRESS_STARTING``
until a track is published (it waits for its template's start signal), so a mandatory-recording room
cannot wait for ``EGRESS_ACTIVE`` before admitting its first publisher. An egress that ends
``EGRESS_ABORTED`` because nobody ever published is not a failure (``processing_status`` says ``empty``).

When a start is impossible (LiveKit refuses or is unreachable) the recording is marked failed and
``RecordingFailures`` is emitted: the alarm on it (infra/constructs/monitoring.py) pages someone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from rooms import audit, metric_names, store
from rooms.clock import iso, parse_iso
from rooms.errors import UpstreamUnavailable
from rooms.livekit_gateway import egress_service as lk_egress
from rooms.observability import logger, metrics
from rooms.recordings.record import START_CLAIM_SECONDS, file_target, new_recording_id, trigger_for
from rooms.room.status import is_live
from rooms.settings import Settings
from rooms.store import RoomItem
from rooms.store.recordings import ActiveRecording, RecordingItem

# not_required: the room's policy records nothing by itself; not_live: the room is over;
# recording: LiveKit has an egress starting or active; started: we started one now;
# in_flight: another start holds the room's recording slot; stopped: a host stopped the automatic
# recording (only compliance recordings cannot be stopped); failed: it could not be started.
Outcome = Literal["not_required", "not_live", "recording", "started", "in_flight", "stopped", "failed"]
VERIFIED: tuple[str, ...] = ("recording", "started")


def records_by_itself(room: RoomItem, settings: Settings) -> bool:
    """Automatic and compliance rooms record without anyone starting it (when a bucket is configured)."""
    return room.recording in ("automatic", "compliance") and bool(settings.recordings_bucket)


def verify_recording(room: RoomItem, *, settings: Settings, now: datetime, reason: str) -> Outcome:
    """Make sure LiveKit records this room if its policy says so; start the egress if it is missing.

    Never raises for LiveKit's faults: they are this function's ``failed`` outcome (logged, counted in
    ``RecordingFailures``), so a webhook that calls it is still acknowledged.
    """
    if not records_by_itself(room, settings):
        return "not_required"
    if not is_live(room.status):
        return "not_live"
    log = {"room_id": room.room_id, "reason": reason, "trigger": trigger_for(room, manual=False)}
    try:
        running = [s for s in lk_egress.list_egress(room.livekit_room, active=True)
                   if s.status in ("starting", "active")]
    except UpstreamUnavailable as err:
        _cannot_start(room, None, f"LiveKit unavailable: {err.message}", now=now, log=log)
        return "failed"
    if running:
        return "recording"
    if room.recording == "automatic" and any(
            r.stop_requested_at for r in store.recordings.list_recordings(room.room_id)):
        return "stopped"  # the host's stop holds: an automatic recording is not forced back on
    slot = store.recordings.get_slot(room.room_id)
    if slot is not None and not slot.egress_id and (
            now - parse_iso(slot.claimed_at)).total_seconds() < START_CLAIM_SECONDS:
        return "in_flight"
    return _start(room, slot, settings=settings, now=now, log=log)


def _start(room: RoomItem, slot: ActiveRecording | None, *, settings: Settings, now: datetime,
           log: dict) -> Outcome:
    recording_id = new_recording_id(room.room_id)
    target = file_target(room.room_id, recording_id, settings)
    at = iso(now)
    trigger = trigger_for(room, manual=False)
    record = RecordingItem(
        *RecordingItem.key_of(room.room_id, recording_id), recording_id=recording_id, room_id=room.room_id,
        trigger=trigger, created_at=at, updated_at=at, started_by=audit.SYSTEM, start_requested_at=at,
        bucket=target.bucket, object_key=target.filepath, endpoint=target.endpoint,
    )
    claim = ActiveRecording(*ActiveRecording.key_of(room.room_id), room_id=room.room_id, recording_id=recording_id,
                            claimed_at=at, claimed_by=audit.SYSTEM)
    try:
        store.recordings.claim_and_create_recording(
            record, claim, seen_recording_id=slot.recording_id if slot is not None else None,
            audit=[audit.entry(room, at=at, actor=audit.SYSTEM, action="recording.started", target=recording_id,
                               details={"trigger": trigger, "reason": f"egress missing at {log['reason']}"},
                               settings=settings)],
        )
    except store.recordings.SlotTaken:
        return "in_flight"  # a concurrent verification (or a host's start) won the slot
    try:
        state = lk_egress.start_room_composite(room.livekit_room, target)
    except Exception as err:  # refused (Twirp error), unreachable, or the LiveKit room is gone
        _cannot_start(room, recording_id, getattr(err, "message", None) or str(err), now=now, log=log)
        return "failed"
    store.recordings.record_egress_started(room.room_id, recording_id, state.egress_id, status=state.status,
                                           rank=state.rank, now=at)
    metrics.add_metric(name=metric_names.RECORDINGS_STARTED, unit="Count", value=1)
    logger.warning("recording was missing: egress started", extra={
        **log, "action": "recording.ensure_started", "actor": audit.SYSTEM, "target": recording_id,
        "egress_id": state.egress_id})
    return "started"


def _cannot_start(room: RoomItem, recording_id: str | None, error: str, *, now: datetime, log: dict) -> None:
    if recording_id is not None:
        at = iso(now)
        store.recordings.mark_start_failed(room.room_id, recording_id, error=error, now=at)
        store.recordings.release_slot(room.room_id, recording_id)
    metrics.add_metric(name=metric_names.RECORDING_FAILURES, unit="Count", value=1)
    logger.error("recording cannot be started", extra={
        **log, "action": "recording.ensure_failed", "actor": audit.SYSTEM, "target": recording_id, "error": error})
