"""A recording's record: its id, derived status, where its file goes, and its wire view."""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import datetime

from rooms.clock import parse_iso
from rooms.livekit_gateway import egress_service as lk_egress
from rooms.recordings import storage
from rooms.recordings.models import (
    RecordingStorage,
    RecordingView,
)
from rooms.settings import Settings
from rooms.store import RoomItem
from rooms.store.recordings import RecordingItem

# A start that claimed the slot but has not reached LiveKit within this long is presumed dead.
START_CLAIM_SECONDS = 60
_RECORDING_ID = re.compile(r"^(?P<room>[A-Za-z0-9][A-Za-z0-9._:@+-]*)\.(?P<suffix>[0-9a-f]{12})$")
_EGRESS_NAMESPACE = uuid.UUID("0f6b8e3c-3c52-4f7e-8a7a-5d0c1d2e9b44")


# --- ids ----------------------------------------------------------------------------------------------


def new_recording_id(room_id: str) -> str:
    return f"{room_id}.{secrets.token_hex(6)}"


def recording_id_for_egress(room_id: str, egress_id: str) -> str:
    """The id of a recording we only know by its egress (an egress whose file path is not ours)."""
    return f"{room_id}.{uuid.uuid5(_EGRESS_NAMESPACE, egress_id).hex[:12]}"


def room_id_of(recording_id: str) -> str | None:
    match = _RECORDING_ID.match(recording_id)
    return match.group("room") if match else None


# --- the record's derived state ---------------------------------------------------------------------


def processing_status(rec: RecordingItem) -> str:
    """pending → processing → available / failed, from the facts the record holds (order-free); or
    ``empty``: the egress ended ``aborted``, which LiveKit's room composite does when it never got its
    start signal because nobody published a track (no file, and nothing was lost)."""
    if rec.object_verified_at:
        return "available"
    if rec.object_error or rec.upload_missing_at or rec.start_failed_at:
        return "failed"
    if rec.egress_status == "failed":
        return "failed"
    if rec.egress_status == "aborted":
        return "empty"
    if rec.egress_status in ("complete", "limit_reached"):
        return "processing"
    return "pending"


def is_running(rec: RecordingItem, now: datetime) -> bool:
    """Recording (or about to): its egress runs, or its start has not reached LiveKit yet. Once the
    file is uploaded the egress is done, whatever its (possibly late) webhooks still say."""
    if rec.object_verified_at:
        return False
    if rec.egress_status in lk_egress.RUNNING:
        return True
    if rec.egress_status or rec.start_failed_at or rec.object_verified_at:
        return False
    created = parse_iso(rec.created_at) if rec.created_at else now
    return (now - created).total_seconds() < START_CLAIM_SECONDS


def trigger_for(room: RoomItem, *, manual: bool) -> str:
    if room.recording == "compliance":
        return "compliance"
    if manual:
        return "manual"
    return "automatic" if room.recording == "automatic" else "manual"


def recording_view(rec: RecordingItem, room: RoomItem, *, full: bool, now: datetime) -> RecordingView:
    archived = bool(rec.archive_at and parse_iso(rec.archive_at) <= now)
    view = RecordingView(
        recording_id=rec.recording_id,
        room_id=rec.room_id,
        trigger=rec.trigger,
        status=processing_status(rec),
        egress_status=rec.egress_status,
        created_at=rec.created_at,
        started_at=rec.started_at,
        ended_at=rec.ended_at,
        duration_seconds=int(rec.duration_seconds) if rec.duration_seconds is not None else None,
        size_bytes=int(rec.size_bytes) if rec.size_bytes is not None else None,
        content_type=rec.content_type,
        checksum=rec.checksum,
        available_at=rec.object_verified_at,
        archive_at=rec.archive_at,
        archived=archived,
        access_until=room.recording_access_until,
        downloads_enabled=bool(room.recording_downloads_enabled),
    )
    if full:
        view.egress_id = rec.egress_id
        view.started_by = rec.started_by
        view.stop_requested_at = rec.stop_requested_at
        view.error = rec.object_error or rec.error
        view.storage = RecordingStorage(bucket=rec.bucket, key=rec.object_key, endpoint=rec.endpoint,
                                        location=rec.location)
    return view


# --- where the egress writes ------------------------------------------------------------------------


def file_target(room_id: str, recording_id: str, settings: Settings) -> lk_egress.FileTarget:
    keys = storage.egress_keys(settings)
    return lk_egress.FileTarget(
        filepath=storage.object_key(room_id, recording_id, settings),
        bucket=storage.bucket(settings),
        region=settings.recordings_s3_region,
        endpoint=settings.recordings_s3_endpoint,
        force_path_style=settings.recordings_s3_force_path_style,
        access_key=keys.access_key if keys else None,
        secret=keys.secret if keys else None,
    )


def auto_recording_target(room: RoomItem, settings: Settings) -> lk_egress.FileTarget | None:
    """For ``ensure_room``: automatic and compliance rooms record from the LiveKit room's creation."""
    if room.recording not in ("automatic", "compliance") or not settings.recordings_bucket:
        return None
    return file_target(room.room_id, new_recording_id(room.room_id), settings)
