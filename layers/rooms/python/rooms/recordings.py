"""Recordings: manual (host), automatic and compliance; egress state; the uploaded file; who may see it.

How the pieces meet (SPEC "Recording"):
- A recording's id names its room (``{room_id}.{12 hex}``), and the egress writes the file to
  ``{prefix}{room_id}/{recording_id}.mp4``: the S3 key, the egress's file path and the URL route all
  lead to the one record with a GetItem/BatchGetItem, never a Scan.
- Manual start: the record and the room's recording slot are written (conditionally) before LiveKit is
  called, so an ``egress_started`` that overtakes the start's answer finds its record.
- Automatic / compliance: the egress is part of the LiveKit room's creation (``CreateRoomRequest.egress``,
  see ``auto_recording_target``), so the room never runs unrecorded and nothing depends on a
  best-effort webhook to start it. The record appears with the first egress webhook (or the upload).
- The record holds facts (egress status and times, the verified object, errors); its processing status
  is derived from them (``processing_status``), so the ``egress_*`` webhooks, the S3 object-created event
  and the room-end reconciliation give the same record in any order.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import uuid
from datetime import UTC, datetime, timedelta

from rooms import audit, livekit_gateway, notify, store
from rooms import recording_storage as storage
from rooms.access import Caller, require_host, require_member, require_member_or_admin, require_room
from rooms.clock import iso, parse_iso
from rooms.errors import Conflict, Forbidden, Gone, NotFound, UpstreamUnavailable
from rooms.livekit_gateway import NotFoundInLiveKit
from rooms.livekit_gateway import egress as lk_egress
from rooms.observability import logger, metrics
from rooms.recording_models import (
    ConsentLedgerEntryView,
    ConsentRequest,
    DeletedRecording,
    RecordingConsentView,
    RecordingList,
    RecordingStorage,
    RecordingUrl,
    RecordingView,
)
from rooms.settings import get_settings
from rooms.store import RoomItem
from rooms.store import audit as audit_store
from rooms.store.recordings import ActiveRecording, RecordingItem

AVAILABLE_DETAIL_TYPE = "Recording Available"
# A start that claimed the slot but has not reached LiveKit within this long is presumed dead.
START_CLAIM_SECONDS = 60
# ParticipantInfo.Kind values that are not people: EGRESS (2), AGENT (4). They need no consent.
_NOT_PEOPLE = {2, 4}
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
    """pending → processing → available / failed, from the facts the record holds (order-free)."""
    if rec.object_verified_at:
        return "available"
    if rec.object_error or rec.upload_missing_at or rec.start_failed_at:
        return "failed"
    if rec.egress_status in ("failed", "aborted"):
        return "failed"
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


def _trigger_for(room: RoomItem, *, manual: bool) -> str:
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


def file_target(room_id: str, recording_id: str) -> lk_egress.FileTarget:
    settings = get_settings()
    keys = storage.store_keys(settings)
    return lk_egress.FileTarget(
        filepath=storage.object_key(room_id, recording_id, settings),
        bucket=storage.bucket(settings),
        region=settings.recordings_s3_region,
        endpoint=settings.recordings_s3_endpoint,
        force_path_style=settings.recordings_s3_force_path_style,
        access_key=keys.access_key if keys else None,
        secret=keys.secret if keys else None,
    )


def auto_recording_target(room: RoomItem) -> lk_egress.FileTarget | None:
    """For ``ensure_room``: automatic and compliance rooms record from the LiveKit room's creation."""
    if room.recording not in ("automatic", "compliance") or not get_settings().recordings_bucket:
        return None
    return file_target(room.room_id, new_recording_id(room.room_id))


# --- host routes ------------------------------------------------------------------------------------


def start_recording(room_id: str, *, caller: Caller, now: datetime) -> RecordingView:
    """Start a room composite recording to the deployment's bucket (host only).

    409: recording disabled for the room, the room not live in LiveKit, a recording already running
    (LiveKit's ListEgress is the truth), another start in flight, or consent missing.
    """
    room, member, slot = store.recordings.get_recording_context(room_id, caller.user_id)
    room = require_room(room, room_id)
    require_host(caller, room, member)
    if room.recording == "none":
        raise Conflict(f"recording is disabled for room {room_id}", code="recording_disabled")
    if room.status not in ("open", "active") or not room.livekit_created_at:
        raise Conflict(f"room {room_id} is not running ({room.status})", code="room_not_running")
    assert slot is None or isinstance(slot, ActiveRecording)
    if slot is not None and not slot.egress_id:
        claimed = parse_iso(slot.claimed_at)
        if (now - claimed).total_seconds() < START_CLAIM_SECONDS:
            raise Conflict("a recording is being started", code="recording_running",
                           recording_id=slot.recording_id)
    running = lk_egress.list_egress(room.livekit_room, active=True)
    if running:
        egress_id = running[0].egress_id
        recording_id = slot.recording_id if slot is not None and slot.egress_id == egress_id else None
        raise Conflict("a recording is already running in this room", code="recording_running",
                       egress_id=egress_id, recording_id=recording_id)
    if room.recording == "optional" and room.recording_consent_required:
        missing = missing_consents(room, caller)
        if missing:
            raise Conflict(
                f"recording needs the consent of every participant; missing: {', '.join(missing)}",
                code="recording_consent_missing", missing=missing,
            )

    recording_id = new_recording_id(room_id)
    target = file_target(room_id, recording_id)
    at = iso(now)
    record = RecordingItem(
        *RecordingItem.key_of(room_id, recording_id), recording_id=recording_id, room_id=room_id,
        trigger=_trigger_for(room, manual=True), created_at=at, updated_at=at, started_by=caller.user_id,
        start_requested_at=at, bucket=target.bucket, object_key=target.filepath, endpoint=target.endpoint,
    )
    claim = ActiveRecording(*ActiveRecording.key_of(room_id), room_id=room_id, recording_id=recording_id,
                            claimed_at=at, claimed_by=caller.user_id)
    try:
        store.recordings.claim_and_create_recording(
            record, claim, seen_recording_id=slot.recording_id if slot is not None else None,
            audit=[audit.entry(room, at=at, actor=caller.user_id, action="recording.started", target=recording_id,
                               details={"trigger": record.trigger})],
        )
    except store.recordings.SlotTaken:
        raise Conflict("a recording is being started", code="recording_running") from None

    try:
        state = lk_egress.start_room_composite(room.livekit_room, target)
    except NotFoundInLiveKit:
        _start_failed(room_id, recording_id, "the LiveKit room does not exist", now=now)
        raise Conflict(f"room {room_id} is not running in LiveKit", code="room_not_running") from None
    except UpstreamUnavailable as err:
        _start_failed(room_id, recording_id, err.message, now=now)
        raise
    except Exception as err:  # a LiveKit refusal (Twirp error): record it, answer 503
        _start_failed(room_id, recording_id, str(err), now=now)
        raise UpstreamUnavailable(f"LiveKit refused the recording: {err}", code="livekit_refused") from err
    store.recordings.record_egress_started(room_id, recording_id, state.egress_id, status=state.status,
                                           rank=state.rank, now=at)
    metrics.add_metric(name="RecordingsStarted", unit="Count", value=1)
    logger.info("recording started", extra={"action": "recording.start", "actor": caller.user_id,
                                            "room_id": room_id, "target": recording_id,
                                            "egress_id": state.egress_id, "trigger": record.trigger})
    record.egress_id = state.egress_id
    record.egress_status = record.egress_status or state.status
    return recording_view(record, room, full=True, now=now)


def _start_failed(room_id: str, recording_id: str, error: str, *, now: datetime) -> None:
    at = iso(now)
    store.recordings.update_recording(room_id, recording_id, [RecordingItem.start_failed_at.set(at),
                                                              RecordingItem.error.set(error)], now=at)
    store.recordings.release_slot(room_id, recording_id)
    metrics.add_metric(name="RecordingFailures", unit="Count", value=1)
    logger.warning("recording start failed", extra={"action": "recording.start_failed", "room_id": room_id,
                                                    "target": recording_id, "error": error})


def missing_consents(room: RoomItem, caller: Caller) -> list[str]:
    """Connected people (but the host starting it) who have not consented, sorted."""
    participants = livekit_gateway.list_participants(room.livekit_room)
    needed = {
        p.identity for p in participants
        if p.kind not in _NOT_PEOPLE and not p.permission.hidden and p.identity != caller.user_id
    }
    if not needed:
        return []
    return sorted(needed - store.recordings.consented_user_ids(room.room_id))


def stop_recording(room_id: str, recording_id: str, *, caller: Caller, now: datetime) -> RecordingView:
    """Stop a running recording (host only). Compliance recordings cannot be stopped (409)."""
    room, member, rec = store.recordings.get_recording_context(room_id, caller.user_id, recording_id)
    room = require_room(room, room_id)
    require_host(caller, room, member)
    if not isinstance(rec, RecordingItem):
        raise NotFound(f"recording {recording_id} not found", code="recording_not_found")
    if rec.trigger == "compliance" or room.recording == "compliance":
        raise Conflict("a compliance recording cannot be stopped", code="recording_compliance")
    if rec.egress_status == "ending" or (rec.stop_requested_at and rec.egress_status in lk_egress.RUNNING):
        return recording_view(rec, room, full=True, now=now)  # already stopping: same answer
    if not rec.egress_id or rec.egress_status not in ("starting", "active"):
        raise Conflict(f"recording {recording_id} is not running", code="recording_not_running")
    try:
        lk_egress.stop_egress(rec.egress_id)
    except lk_egress.EgressNotRunning:
        reconcile_egress(room, lk_egress.list_egress(egress_id=rec.egress_id), now=now)
        raise Conflict(f"recording {recording_id} is not running", code="recording_not_running") from None
    at = iso(now)
    stored = store.recordings.update_recording(
        room_id, recording_id,
        [RecordingItem.stop_requested_at.set(at), RecordingItem.stop_requested_by.set(caller.user_id)], now=at,
    )
    logger.info("recording stopped", extra={"action": "recording.stop", "actor": caller.user_id,
                                            "room_id": room_id, "target": recording_id,
                                            "egress_id": rec.egress_id})
    audit.record(room, at=now, actor=caller.user_id, action="recording.stopped", target=recording_id,
                 details={"egress_id": rec.egress_id})
    return recording_view(stored or rec, room, full=True, now=now)


# --- members: list, URL, consent --------------------------------------------------------------------


def _sees_everything(caller: Caller, member: store.Member | None) -> bool:
    return caller.is_admin or (member is not None and member.status == "active" and member.role == "host")


def list_room_recordings(room_id: str, *, caller: Caller, now: datetime) -> RecordingList:
    """Hosts (and the platform backend) see every recording; other members see the available ones
    when the room lets clients access recordings, else none."""
    room, member = store.get_room_and_member(room_id, caller.user_id)
    room = require_room(room, room_id)
    require_member_or_admin(caller, room, member)
    full = _sees_everything(caller, member)
    if not full and not room.clients_can_access_recordings:
        return RecordingList(room_id=room_id, recordings=[])
    views = [recording_view(r, room, full=full, now=now) for r in store.recordings.list_recordings(room_id)]
    if not full:
        views = [v for v in views if v.status == "available"]
    views.sort(key=lambda v: v.created_at or "")
    return RecordingList(room_id=room_id, recordings=views)


def recording_url(recording_id: str, *, caller: Caller, now: datetime) -> RecordingUrl:
    """A presigned GET URL that expires. Practitioners (hosts) always; other members only when the
    room lets clients access recordings, and (courses) until the access end date; everyone else 403."""
    room, member, rec = _recording_and_room(recording_id, caller)
    host = _sees_everything(caller, member)
    if not host:
        require_member(caller, room, member)
        if not room.clients_can_access_recordings:
            raise Forbidden("recordings of this room are for the practitioner only", code="recording_access_denied")
    if processing_status(rec) != "available" or not rec.bucket or not rec.object_key:
        raise Conflict(f"recording {recording_id} is {processing_status(rec)}", code="recording_not_available")
    if not host and room.recording_access_until and parse_iso(room.recording_access_until) <= now:
        raise Gone(f"access to this room's recordings ended at {room.recording_access_until}",
                   code="recording_access_expired")
    ttl = get_settings().recordings_url_ttl_seconds
    inline = not host and not room.recording_downloads_enabled
    filename = f"recording-{rec.started_at or rec.created_at or ''}.mp4".replace(":", "")
    disposition = "inline" if inline else f'attachment; filename="{filename}"'
    # No URL without its audit entry ("who saw this client's recording"): written first, and required.
    audit.record(room, at=now, actor=caller.user_id, action="recording.url_issued", target=recording_id,
                 details={"disposition": "inline" if inline else "attachment",
                          "expires_at": iso(now + timedelta(seconds=ttl))}, required=True)
    url = storage.presigned_get_url(rec.bucket, rec.object_key, expires_in=ttl, disposition=disposition)
    logger.info("recording url issued", extra={"action": "recording.url", "actor": caller.user_id,
                                               "room_id": room.room_id, "target": recording_id,
                                               "disposition": "inline" if inline else "attachment"})
    return RecordingUrl(recording_id=recording_id, url=url, expires_at=iso(now + timedelta(seconds=ttl)),
                        disposition="inline" if inline else "attachment")


def _recording_and_room(recording_id: str, caller: Caller) -> tuple[RoomItem, store.Member | None, RecordingItem]:
    room_id = room_id_of(recording_id)
    if room_id is None:
        raise NotFound(f"recording {recording_id} not found", code="recording_not_found")
    room, member, rec = store.recordings.get_recording_context(room_id, caller.user_id, recording_id)
    if room is None or not isinstance(rec, RecordingItem):
        raise NotFound(f"recording {recording_id} not found", code="recording_not_found")
    return room, member, rec


def delete_recording(recording_id: str, *, caller: Caller, now: datetime) -> DeletedRecording:
    """Delete the file and the record (admin, or the room's host; compliance recordings: admin only)."""
    room, member, rec = _recording_and_room(recording_id, caller)
    if not caller.is_admin:
        require_host(caller, room, member)
        if rec.trigger == "compliance":
            raise Forbidden("only the platform may delete a compliance recording", code="recording_compliance")
    if is_running(rec, now):
        raise Conflict(f"recording {recording_id} is still running: stop it first", code="recording_running")
    if room.legal_hold:
        raise Conflict(f"room {room.room_id} is under a legal hold: nothing of it may be deleted",
                       code="legal_hold")
    if rec.bucket and rec.object_key:
        storage.delete_object(rec.bucket, rec.object_key)
    store.recordings.delete_recording(rec, now=now, audit=[
        audit.entry(room, at=now, actor=caller.user_id, action="recording.deleted", target=recording_id)])
    logger.info("recording deleted", extra={"action": "recording.delete", "actor": caller.user_id,
                                            "room_id": room.room_id, "target": recording_id})
    metrics.add_metric(name="RecordingsDeleted", unit="Count", value=1)
    return DeletedRecording(recording_id=recording_id, room_id=room.room_id, deleted=True)


def _consent_evidence(room: RoomItem, caller: Caller, request: ConsentRequest | None, *, decision: str,
                      now: datetime) -> tuple[str | None, str, list]:
    """The consent ledger entry and its audit entry (the version is the room's, from its template)."""
    from rooms.attendance import room_policy

    version = room_policy(room).consent_text_version
    request = request or ConsentRequest()
    if request.text_version is not None and version is not None and request.text_version != version:
        raise Conflict(f"consent text version {request.text_version!r} is not the room's current {version!r}",
                       code="consent_version_outdated", field="text_version", current_version=version)
    version = version or request.text_version
    at = iso(now)
    entry_id = audit_store.new_entry_id()
    ledger = audit_store.ConsentLedgerEntry(
        *audit_store.ConsentLedgerEntry.key(room.room_id, at, entry_id), room_id=room.room_id, entry_id=entry_id,
        user_id=caller.user_id, decision=decision, at=at, text_version=version, channel=request.channel,
        actor=caller.user_id,
    )
    entry = audit.entry(room, at=at, actor=caller.user_id, action=f"consent.{decision}", target=caller.user_id,
                        details={"text_version": version, "channel": request.channel}, entry_id=entry_id)
    return version, request.channel, [ledger, entry]


def give_consent(room_id: str, request: ConsentRequest | None = None, *, caller: Caller,
                 now: datetime) -> RecordingConsentView:
    """Record the member's consent to be recorded: the consent itself and its ledger entry (text
    version, time, channel) and audit entry, in one transaction."""
    room, member = store.get_room_and_member(room_id, caller.user_id)
    room = require_room(room, room_id)
    require_member(caller, room, member)
    version, channel, evidence = _consent_evidence(room, caller, request, decision="given", now=now)
    item = store.recordings.put_consent(room_id, caller.user_id, iso(now), evidence=evidence)
    logger.info("recording consent given", extra={"action": "recording.consent", "actor": caller.user_id,
                                                  "room_id": room_id, "target": caller.user_id,
                                                  "text_version": version, "channel": channel})
    return RecordingConsentView(room_id=room_id, user_id=caller.user_id, consented=True,
                                consented_at=item.consented_at, text_version=version, channel=channel)


def withdraw_consent(room_id: str, request: ConsentRequest | None = None, *, caller: Caller,
                     now: datetime) -> RecordingConsentView:
    """Withdraw consent: recorded in the ledger, and a running *optional* recording is stopped at once.
    LiveKit egress cannot pause a file, so the file ends here (a split, not a pause): the host may
    start a new recording, a new file, once everyone connected consents again. Automatic and
    compliance recordings do not rest on consent and keep running; the withdrawal is on record."""
    room, member = store.get_room_and_member(room_id, caller.user_id)
    room = require_room(room, room_id)
    require_member(caller, room, member)
    version, channel, evidence = _consent_evidence(room, caller, request, decision="withdrawn", now=now)
    store.recordings.delete_consent(room_id, caller.user_id, evidence=evidence)
    logger.info("recording consent withdrawn", extra={"action": "recording.consent_withdraw",
                                                      "actor": caller.user_id, "room_id": room_id,
                                                      "target": caller.user_id, "at": iso(now)})
    stopped = _stop_for_withdrawal(room, caller, now=now) if room.recording == "optional" else []
    return RecordingConsentView(room_id=room_id, user_id=caller.user_id, consented=False, text_version=version,
                                channel=channel, recordings_stopped=stopped)


def _stop_for_withdrawal(room: RoomItem, caller: Caller, *, now: datetime) -> list[str]:
    """Stop every running manual recording of the room (a withdrawal of consent)."""
    stopped = []
    for rec in store.recordings.list_recordings(room.room_id):
        if rec.trigger != "manual" or not rec.egress_id or rec.egress_status not in ("starting", "active"):
            continue
        try:
            lk_egress.stop_egress(rec.egress_id)
        except lk_egress.EgressNotRunning:
            continue
        at = iso(now)
        store.recordings.update_recording(room.room_id, rec.recording_id, [
            RecordingItem.stop_requested_at.set(at), RecordingItem.stop_requested_by.set(caller.user_id)], now=at)
        audit.record(room, at=now, actor=caller.user_id, action="recording.stopped", target=rec.recording_id,
                     details={"reason": "consent_withdrawn", "egress_id": rec.egress_id})
        logger.info("recording stopped: consent withdrawn", extra={
            "action": "recording.stop", "actor": caller.user_id, "room_id": room.room_id,
            "target": rec.recording_id, "reason": "consent_withdrawn"})
        stopped.append(rec.recording_id)
    return stopped


def consent_ledger(room_id: str) -> list[ConsentLedgerEntryView]:
    return [ConsentLedgerEntryView(at=e.at, user_id=e.user_id, decision=e.decision, text_version=e.text_version,
                                   channel=e.channel, actor=e.actor)
            for e in audit_store.list_consent_ledger(room_id)]


# --- egress state: webhooks and reconciliation ------------------------------------------------------


def recording_id_for(room: RoomItem, state: lk_egress.EgressState) -> str:
    """Which recording an egress writes: our file path names it; else the egress lookup; else a new id."""
    for path in [f.filename for f in state.files] + list(state.filepaths):
        parsed = storage.parse_object_key(path)
        if parsed and parsed[0] == room.room_id and room_id_of(parsed[1]) == room.room_id:
            return parsed[1]
    lookup = store.recordings.get_egress_lookup(state.egress_id)
    if lookup is not None and lookup.room_id == room.room_id:
        return lookup.recording_id
    return recording_id_for_egress(room.room_id, state.egress_id)


def _ns_iso(ns: int) -> str:
    return iso(datetime.fromtimestamp(ns / 1e9, UTC))


def egress_actions(room: RoomItem, recording_id: str, state: lk_egress.EgressState, *,
                   upload_missing_at: str | None = None) -> list:
    settings = get_settings()
    key = next((f.filename for f in state.files if f.filename), None) or next(iter(state.filepaths), None)
    actions = [
        RecordingItem.egress_id.set(state.egress_id),
        RecordingItem.egress_status.set(state.status),
        RecordingItem.trigger.set(RecordingItem.trigger | _trigger_for(room, manual=False)),
        RecordingItem.bucket.set(RecordingItem.bucket | storage.bucket(settings)),
        RecordingItem.object_key.set(
            RecordingItem.object_key | (key or storage.object_key(room.room_id, recording_id, settings))
        ),
    ]
    if settings.recordings_s3_endpoint:
        actions.append(RecordingItem.endpoint.set(RecordingItem.endpoint | settings.recordings_s3_endpoint))
    if state.started_at_ns:
        actions.append(RecordingItem.started_at.set(_ns_iso(state.started_at_ns)))
    if state.ended_at_ns:
        actions.append(RecordingItem.ended_at.set(_ns_iso(state.ended_at_ns)))
    if state.files:
        f = state.files[0]
        duration_ns = f.duration_ns or max(0, f.ended_at_ns - f.started_at_ns)
        actions.append(RecordingItem.duration_seconds.set(duration_ns // 1_000_000_000))
        actions.append(RecordingItem.size_bytes.set(RecordingItem.size_bytes | f.size))
        if f.location:
            actions.append(RecordingItem.location.set(f.location))
    elif state.started_at_ns and state.ended_at_ns:
        actions.append(RecordingItem.duration_seconds.set((state.ended_at_ns - state.started_at_ns) // 1_000_000_000))
    if state.error:
        actions.append(RecordingItem.error.set(state.error))
    if upload_missing_at:
        actions.append(RecordingItem.upload_missing_at.set(upload_missing_at))
        actions.append(RecordingItem.error.set(RecordingItem.error | "egress completed but the file is missing"))
    return actions


def _upload_missing(room: RoomItem, recording_id: str, state: lk_egress.EgressState) -> bool:
    """An egress that says complete must have left its file where we expect it."""
    if state.status not in ("complete", "limit_reached"):
        return False
    if not state.files:
        return True
    key = state.files[0].filename or storage.object_key(room.room_id, recording_id)
    return not storage.object_exists(storage.bucket(), key)


def _failed(state: lk_egress.EgressState, upload_missing: bool) -> bool:
    return upload_missing or state.status in ("failed", "aborted")


def _report_egress(room: RoomItem, recording_id: str, state: lk_egress.EgressState, upload_missing: bool,
                   source: str) -> None:
    extra = {"action": f"recording.egress_{state.status}", "actor": source, "room_id": room.room_id,
             "target": recording_id, "egress_id": state.egress_id}
    if _failed(state, upload_missing):
        metrics.add_metric(name="RecordingFailures", unit="Count", value=1)
        logger.warning("recording failed", extra={**extra, "error": state.error or "upload missing"})
    else:
        logger.info("recording egress state", extra=extra)


def apply_egress_webhook(state: lk_egress.EgressState, ctx) -> None:
    """An ``egress_*`` webhook (all three carry the whole EgressInfo): one transaction with the event
    marker; a state behind the record's makes the event stale (nothing written)."""
    room = ctx.room
    recording_id = recording_id_for(room, state)
    now = iso(ctx.received_at)
    missing = _upload_missing(room, recording_id, state)
    actions = egress_actions(room, recording_id, state, upload_missing_at=now if missing else None)
    with ctx.transaction() as tx:
        store.recordings.apply_egress_writes(tx, room_id=room.room_id, recording_id=recording_id,
                                             egress_id=state.egress_id, actions=actions, rank=state.rank, now=now)
    _report_egress(room, recording_id, state, missing, source="livekit")


def reconcile_egress(room: RoomItem, states: list[lk_egress.EgressState], *, now: datetime) -> list[str]:
    """Apply LiveKit's current view of egresses (ListEgress) as a webhook would. Returns recording ids."""
    at = iso(now)
    ids = []
    for state in states:
        recording_id = recording_id_for(room, state)
        missing = _upload_missing(room, recording_id, state)
        changed = store.recordings.apply_egress_state(
            room_id=room.room_id, recording_id=recording_id, egress_id=state.egress_id,
            actions=egress_actions(room, recording_id, state, upload_missing_at=at if missing else None),
            rank=state.rank, now=at,
        )
        if changed and state.rank == 4:
            _report_egress(room, recording_id, state, missing, source="reconcile")
        ids.append(recording_id)
    return ids


def release_room_recordings(room: RoomItem, *, now: datetime) -> None:
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
    reconcile_egress(room, states, now=now)
    known = {s.egress_id for s in states}
    at = iso(now)
    for rec in recordings:
        if rec.egress_id and rec.egress_status in lk_egress.RUNNING and rec.egress_id not in known:
            lost = lk_egress.EgressState(egress_id=rec.egress_id, room_name=room.livekit_room, status="aborted",
                                         started_at_ns=0, ended_at_ns=0, filepaths=(), files=(),
                                         error="egress unknown to LiveKit when the room ended")
            if store.recordings.apply_egress_state(
                room_id=room.room_id, recording_id=rec.recording_id, egress_id=rec.egress_id,
                actions=egress_actions(room, rec.recording_id, lost), rank=lost.rank, now=at,
            ):
                _report_egress(room, rec.recording_id, lost, False, source="reconcile")
    for rec in store.recordings.list_recordings(room.room_id):
        if processing_status(rec) == "processing" and rec.bucket and rec.object_key:
            process_uploaded_object(rec.bucket, rec.object_key, now=now)


# --- the uploaded file (S3 object-created) ----------------------------------------------------------


def process_uploaded_object(bucket: str, key: str, *, now: datetime) -> str:
    """Verify an uploaded recording, fill size/content type/checksum, make it available and tell the
    platform (EventBridge). Idempotent: a redelivery finds it notified and does nothing more.

    Returns the outcome: ignored (not our layout), missing (object gone), unknown_room, invalid,
    available, or already_available.
    """
    parsed = storage.parse_object_key(key)
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
    settings = get_settings()
    facts = [
        RecordingItem.trigger.set(RecordingItem.trigger | _trigger_for(room, manual=False)),
        RecordingItem.bucket.set(bucket),
        RecordingItem.object_key.set(key),
        RecordingItem.size_bytes.set(obj.size),
        RecordingItem.content_type.set(obj.content_type or storage.MP4_CONTENT_TYPE),
    ]
    if obj.checksum:
        facts.append(RecordingItem.checksum.set(obj.checksum))
    if obj.size == 0 or not storage.looks_like_mp4(obj.head):
        error = "the uploaded file is empty" if obj.size == 0 else "the uploaded file is not an MP4"
        first = store.recordings.update_recording(
            room_id, recording_id, [*facts, RecordingItem.object_error.set(error)], now=at,
            condition=RecordingItem.object_error.does_not_exist(),
        )
        if first is not None:
            metrics.add_metric(name="RecordingFailures", unit="Count", value=1)
            logger.warning("recording failed", extra={"action": "recording.invalid", "actor": "s3",
                                                      "room_id": room_id, "target": recording_id, "error": error})
        return "invalid"
    archive_at = iso(obj.last_modified + timedelta(days=settings.recordings_archive_days))
    rec = store.recordings.update_recording(
        room_id, recording_id,
        [*facts, RecordingItem.object_verified_at.set(RecordingItem.object_verified_at | at),
         RecordingItem.archive_at.set(RecordingItem.archive_at | archive_at)],
        now=at,
    )
    assert rec is not None
    if rec.notified_at:
        return "already_available"
    publish_available(room, rec)
    if store.recordings.mark_notified(room_id, recording_id, at):
        metrics.add_metric(name="RecordingsAvailable", unit="Count", value=1)
        logger.info("recording available", extra={"action": "recording.available", "actor": "s3",
                                                  "room_id": room_id, "target": recording_id,
                                                  "size_bytes": obj.size})
    return "available"


def publish_available(room: RoomItem, rec: RecordingItem) -> None:
    """The "recording available" event: the room and who may access it (the platform emails them)."""
    members = [m for m in store.list_members(room.room_id) if m.status == "active"]
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
