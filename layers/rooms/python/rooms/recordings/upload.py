"""The uploaded file (S3 object-created): verify it, make the recording available, tell the platform."""

from __future__ import annotations

from datetime import datetime, timedelta

from rooms import metric_names, notify, store
from rooms.clock import iso
from rooms.observability import logger, metrics
from rooms.recordings import storage
from rooms.recordings.record import room_id_of, trigger_for
from rooms.room.status import MemberStatus
from rooms.settings import Settings
from rooms.store import RoomItem
from rooms.store.recordings import RecordingItem

AVAILABLE_DETAIL_TYPE = "Recording Available"


# --- the uploaded file (S3 object-created) ----------------------------------------------------------


def process_uploaded_object(bucket: str, key: str, *, now: datetime, settings: Settings) -> str:
    """Verify an uploaded recording, fill size/content type/checksum, make it available and tell the
    platform (EventBridge). Idempotent: a redelivery finds it notified and does nothing more.

    Returns the outcome: ignored (not our layout), missing (object gone), unknown_room, invalid,
    available, or already_available.
    """
    parsed = storage.parse_object_key(key, settings=settings)
    if parsed is None or room_id_of(parsed[1]) != parsed[0]:
        logger.info("object is not a recording", extra={"bucket": bucket, "key": key})
        return "ignored"
    room_id, recording_id = parsed
    obj = storage.inspect_object(bucket, key)
    if obj is None:
        logger.info("recording object is gone", extra={"room_id": room_id, "target": recording_id, "key": key})
        return "missing"
    room = store.get_room(room_id)
    if room is None:
        logger.warning("recording object for an unknown room", extra={"room_id": room_id, "key": key})
        return "unknown_room"
    at = iso(now)
    upload = store.recordings.UploadFacts(
        trigger=trigger_for(room, manual=False), bucket=bucket, object_key=key, size_bytes=obj.size,
        content_type=obj.content_type or storage.MP4_CONTENT_TYPE, checksum=obj.checksum or None,
    )
    if obj.size == 0 or not storage.looks_like_mp4(obj.head):
        error = "the uploaded file is empty" if obj.size == 0 else "the uploaded file is not an MP4"
        if store.recordings.mark_upload_invalid(room_id, recording_id, upload, error=error, now=at):
            metrics.add_metric(name=metric_names.RECORDING_FAILURES, unit="Count", value=1)
            logger.warning("recording failed", extra={"action": "recording.invalid", "actor": "s3",
                                                      "room_id": room_id, "target": recording_id, "error": error})
        return "invalid"
    archive_at = iso(obj.last_modified + timedelta(days=settings.recordings_archive_days))
    rec = store.recordings.mark_recording_uploaded(room_id, recording_id, upload, verified_at=at,
                                                   archive_at=archive_at, now=at)
    if rec.notified_at:
        return "already_available"
    publish_available(room, rec)
    if store.recordings.mark_notified(room_id, recording_id, at):
        metrics.add_metric(name=metric_names.RECORDINGS_AVAILABLE, unit="Count", value=1)
        logger.info("recording available", extra={"action": "recording.available", "actor": "s3",
                                                  "room_id": room_id, "target": recording_id,
                                                  "size_bytes": obj.size})
    return "available"


def publish_available(room: RoomItem, rec: RecordingItem) -> None:
    """The "recording available" event: the room and who may access it (the platform emails them)."""
    members = [m for m in store.list_members(room.room_id) if m.status == MemberStatus.ACTIVE]
    practitioners = sorted({m.user_id for m in members if m.role == "host"}
                           | ({room.host_user_id} if room.host_user_id else set()))
    clients = sorted(m.user_id for m in members if m.role != "host") if room.clients_can_access_recordings else []
    notify.publish(AVAILABLE_DETAIL_TYPE, {
        "recording_id": rec.recording_id,
        "room_id": room.room_id,
        "livekit_room": room.livekit_room,
        "room_type": room.room_type,
        "booking_id": room.booking_id,
        "service_session_id": room.service_session_id,
        "title": room.title,
        "trigger": rec.trigger,
        "duration_seconds": int(rec.duration_seconds) if rec.duration_seconds is not None else None,
        "size_bytes": int(rec.size_bytes) if rec.size_bytes is not None else None,
        "available_at": rec.object_verified_at,
        "access": {
            "practitioners": practitioners,
            "clients": clients,
            "access_until": room.recording_access_until,
            "downloads_enabled": bool(room.recording_downloads_enabled),
        },
    })
