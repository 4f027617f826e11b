"""The recording routes: start/stop (host), list, expiring URL, delete, consent."""

from __future__ import annotations

from datetime import datetime, timedelta

from rooms import audit, metric_names, store
from rooms.access import (
    Caller,
    require_may_delete_recording,
    require_may_record,
    require_may_view_recordings,
    require_member,
    require_member_or_admin,
    require_recording_access_open,
    require_room,
    sees_all_recordings,
)
from rooms.attendance.people import is_person
from rooms.clock import iso, parse_iso
from rooms.errors import Conflict, NotFound, UpstreamUnavailable
from rooms.livekit_gateway import egress_service as lk_egress
from rooms.livekit_gateway import room_service
from rooms.livekit_gateway.client import NotFoundInLiveKit
from rooms.observability import logger, metrics
from rooms.recordings import storage
from rooms.recordings.egress_sync import reconcile_egress
from rooms.recordings.models import (
    ConsentLedgerEntryView,
    ConsentRequest,
    DeletedRecording,
    RecordingConsentView,
    RecordingList,
    RecordingUrl,
    RecordingView,
)
from rooms.recordings.record import (
    START_CLAIM_SECONDS,
    file_target,
    is_running,
    new_recording_id,
    processing_status,
    recording_view,
    room_id_of,
    trigger_for,
)
from rooms.room import status as room_status
from rooms.settings import Settings
from rooms.store import RoomItem
from rooms.store import audit as audit_store
from rooms.store.recordings import ActiveRecording, RecordingItem

# --- host routes ------------------------------------------------------------------------------------


def start_recording(room_id: str, *, caller: Caller, now: datetime, settings: Settings) -> RecordingView:
    """Start a room composite recording to the deployment's bucket (host only).

    409: recording disabled for the room, the room not live in LiveKit, a recording already running
    (LiveKit's ListEgress is the truth), another start in flight, or consent missing.
    """
    room, member, slot = store.recordings.get_recording_context(room_id, caller.user_id)
    room = require_room(room, room_id)
    require_may_record(caller, room, member)
    if room.recording == "none":
        raise Conflict(f"recording is disabled for room {room_id}", code="recording_disabled")
    if not room_status.is_running(room.status) or not room.livekit_created_at:
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
    target = file_target(room_id, recording_id, settings)
    at = iso(now)
    record = RecordingItem(
        *RecordingItem.key_of(room_id, recording_id), recording_id=recording_id, room_id=room_id,
        trigger=trigger_for(room, manual=True), created_at=at, updated_at=at, started_by=caller.user_id,
        start_requested_at=at, bucket=target.bucket, object_key=target.filepath, endpoint=target.endpoint,
    )
    claim = ActiveRecording(*ActiveRecording.key_of(room_id), room_id=room_id, recording_id=recording_id,
                            claimed_at=at, claimed_by=caller.user_id)
    try:
        store.recordings.claim_and_create_recording(
            record, claim, seen_recording_id=slot.recording_id if slot is not None else None,
            audit=[audit.entry(room, at=at, actor=caller.user_id, action="recording.started", target=recording_id,
                               details={"trigger": record.trigger}, settings=settings)],
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
    metrics.add_metric(name=metric_names.RECORDINGS_STARTED, unit="Count", value=1)
    logger.info("recording started", extra={"action": "recording.start", "actor": caller.user_id,
                                            "room_id": room_id, "target": recording_id,
                                            "egress_id": state.egress_id, "trigger": record.trigger})
    record.egress_id = state.egress_id
    record.egress_status = record.egress_status or state.status
    return recording_view(record, room, full=True, now=now)


def _start_failed(room_id: str, recording_id: str, error: str, *, now: datetime) -> None:
    at = iso(now)
    store.recordings.mark_start_failed(room_id, recording_id, error=error, now=at)
    store.recordings.release_slot(room_id, recording_id)
    metrics.add_metric(name=metric_names.RECORDING_FAILURES, unit="Count", value=1)
    logger.warning("recording start failed", extra={"action": "recording.start_failed", "room_id": room_id,
                                                    "target": recording_id, "error": error})


def missing_consents(room: RoomItem, caller: Caller) -> list[str]:
    """Connected people (but the host starting it) who have not consented, sorted."""
    participants = room_service.list_live_participants(room.livekit_room)
    needed = {
        p.identity for p in participants
        if is_person(p) and p.identity != caller.user_id
    }
    if not needed:
        return []
    return sorted(needed - store.recordings.consented_user_ids(room.room_id))


def stop_recording(room_id: str, recording_id: str, *, caller: Caller, now: datetime,
                   settings: Settings) -> RecordingView:
    """Stop a running recording (host only). Compliance recordings cannot be stopped (409)."""
    room, member, rec = store.recordings.get_recording_context(room_id, caller.user_id, recording_id)
    room = require_room(room, room_id)
    require_may_record(caller, room, member)
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
        reconcile_egress(room, lk_egress.list_egress(egress_id=rec.egress_id), now=now, settings=settings)
        raise Conflict(f"recording {recording_id} is not running", code="recording_not_running") from None
    at = iso(now)
    stored = store.recordings.mark_stop_requested(room_id, recording_id, by=caller.user_id, now=at)
    logger.info("recording stopped", extra={"action": "recording.stop", "actor": caller.user_id,
                                            "room_id": room_id, "target": recording_id,
                                            "egress_id": rec.egress_id})
    audit.record(room, at=now, actor=caller.user_id, action="recording.stopped", target=recording_id,
                 details={"egress_id": rec.egress_id}, settings=settings)
    return recording_view(stored or rec, room, full=True, now=now)


# --- members: list, URL, consent --------------------------------------------------------------------


def list_room_recordings(room_id: str, *, caller: Caller, now: datetime) -> RecordingList:
    """Hosts (and the platform backend) see every recording; other members see the available ones
    when the room lets clients access recordings, else none."""
    room, member = store.get_room_and_member(room_id, caller.user_id)
    room = require_room(room, room_id)
    require_member_or_admin(caller, room, member)
    full = sees_all_recordings(caller, member)
    if not full and not room.clients_can_access_recordings:
        return RecordingList(room_id=room_id, recordings=[])
    views = [recording_view(r, room, full=full, now=now) for r in store.recordings.list_recordings(room_id)]
    if not full:
        views = [v for v in views if v.status == "available"]
    views.sort(key=lambda v: v.created_at or "")
    return RecordingList(room_id=room_id, recordings=views)


def recording_url(recording_id: str, *, caller: Caller, now: datetime,
                  settings: Settings) -> RecordingUrl:
    """A presigned GET URL that expires. Practitioners (hosts) always; other members only when the
    room lets clients access recordings, and (courses) until the access end date; everyone else 403."""
    room, member, rec = _recording_and_room(recording_id, caller)
    require_may_view_recordings(caller, room, member)
    if processing_status(rec) != "available" or not rec.bucket or not rec.object_key:
        raise Conflict(f"recording {recording_id} is {processing_status(rec)}", code="recording_not_available")
    require_recording_access_open(caller, room, member, now=now)
    host = sees_all_recordings(caller, member)
    ttl = settings.recordings_url_ttl_seconds
    inline = not host and not room.recording_downloads_enabled
    filename = f"recording-{rec.started_at or rec.created_at or ''}.mp4".replace(":", "")
    disposition = "inline" if inline else f'attachment; filename="{filename}"'
    # No URL without its audit entry ("who saw this client's recording"): written first, and required.
    audit.record(room, at=now, actor=caller.user_id, action="recording.url_issued", target=recording_id,
                 details={"disposition": "inline" if inline else "attachment",
                          "expires_at": iso(now + timedelta(seconds=ttl))}, required=True, settings=settings)
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


def delete_recording(recording_id: str, *, caller: Caller, now: datetime, settings: Settings) -> DeletedRecording:
    """Delete the file and the record (admin, or the room's host; compliance recordings: admin only)."""
    room, member, rec = _recording_and_room(recording_id, caller)
    require_may_delete_recording(caller, room, member, trigger=rec.trigger)
    if is_running(rec, now):
        raise Conflict(f"recording {recording_id} is still running: stop it first", code="recording_running")
    if room.legal_hold:
        raise Conflict(f"room {room.room_id} is under a legal hold: nothing of it may be deleted",
                       code="legal_hold")
    if rec.bucket and rec.object_key:
        storage.delete_object(rec.bucket, rec.object_key)
    store.recordings.delete_recording(rec, now=now, audit=[
        audit.entry(room, at=now, actor=caller.user_id, action="recording.deleted", target=recording_id,
                    settings=settings)])
    logger.info("recording deleted", extra={"action": "recording.delete", "actor": caller.user_id,
                                            "room_id": room.room_id, "target": recording_id})
    metrics.add_metric(name=metric_names.RECORDINGS_DELETED, unit="Count", value=1)
    return DeletedRecording(recording_id=recording_id, room_id=room.room_id, deleted=True)


def _consent_evidence(room: RoomItem, caller: Caller, request: ConsentRequest | None, *, decision: str,
                      now: datetime, settings: Settings) -> tuple[str | None, str, list]:
    """The consent ledger entry and its audit entry (the version is the room's, from its template)."""
    from rooms.attendance.view import room_policy

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
                        details={"text_version": version, "channel": request.channel}, entry_id=entry_id,
                        settings=settings)
    return version, request.channel, [ledger, entry]


def give_consent(room_id: str, request: ConsentRequest | None = None, *, caller: Caller,
                 now: datetime, settings: Settings) -> RecordingConsentView:
    """Record the member's consent to be recorded: the consent itself and its ledger entry (text
    version, time, channel) and audit entry, in one transaction."""
    room, member = store.get_room_and_member(room_id, caller.user_id)
    room = require_room(room, room_id)
    require_member(caller, room, member)
    version, channel, evidence = _consent_evidence(room, caller, request, decision="given", now=now, settings=settings)
    item = store.recordings.put_consent(room_id, caller.user_id, iso(now), evidence=evidence)
    logger.info("recording consent given", extra={"action": "recording.consent", "actor": caller.user_id,
                                                  "room_id": room_id, "target": caller.user_id,
                                                  "text_version": version, "channel": channel})
    return RecordingConsentView(room_id=room_id, user_id=caller.user_id, consented=True,
                                consented_at=item.consented_at, text_version=version, channel=channel)


def withdraw_consent(room_id: str, request: ConsentRequest | None = None, *, caller: Caller,
                     now: datetime, settings: Settings) -> RecordingConsentView:
    """Withdraw consent: recorded in the ledger, and a running *optional* recording is stopped at once.
    LiveKit egress cannot pause a file, so the file ends here (a split, not a pause): the host may
    start a new recording, a new file, once everyone connected consents again. Automatic and
    compliance recordings do not rest on consent and keep running; the withdrawal is on record."""
    room, member = store.get_room_and_member(room_id, caller.user_id)
    room = require_room(room, room_id)
    require_member(caller, room, member)
    version, channel, evidence = _consent_evidence(room, caller, request, decision="withdrawn", now=now,
                                                   settings=settings)
    store.recordings.delete_consent(room_id, caller.user_id, evidence=evidence)
    logger.info("recording consent withdrawn", extra={"action": "recording.consent_withdraw",
                                                      "actor": caller.user_id, "room_id": room_id,
                                                      "target": caller.user_id, "at": iso(now)})
    stopped = _stop_for_withdrawal(room, caller, now=now, settings=settings) if room.recording == "optional" else []
    return RecordingConsentView(room_id=room_id, user_id=caller.user_id, consented=False, text_version=version,
                                channel=channel, recordings_stopped=stopped)


def _stop_for_withdrawal(room: RoomItem, caller: Caller, *, now: datetime, settings: Settings) -> list[str]:
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
        store.recordings.mark_stop_requested(room.room_id, rec.recording_id, by=caller.user_id, now=at)
        audit.record(room, at=now, actor=caller.user_id, action="recording.stopped", target=rec.recording_id,
                     details={"reason": "consent_withdrawn", "egress_id": rec.egress_id}, settings=settings)
        logger.info("recording stopped: consent withdrawn", extra={
            "action": "recording.stop", "actor": caller.user_id, "room_id": room.room_id,
            "target": rec.recording_id, "reason": "consent_withdrawn"})
        stopped.append(rec.recording_id)
    return stopped


def consent_ledger(room_id: str) -> list[ConsentLedgerEntryView]:
    return [ConsentLedgerEntryView(at=e.at, user_id=e.user_id, decision=e.decision, text_version=e.text_version,
                                   channel=e.channel, actor=e.actor)
            for e in audit_store.list_consent_ledger(room_id)]
