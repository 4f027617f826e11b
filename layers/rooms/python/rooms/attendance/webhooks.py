"""LiveKit's participant and track webhooks become connection segments."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from rooms import audit, metric_names, notify, store
from rooms.attendance.people import is_person
from rooms.attendance.reconcile import ACTOR_LIVEKIT, save_room_summary
from rooms.attendance.view import connected_identities, iso_of_unix, unix_seconds
from rooms.clock import iso, parse_iso
from rooms.livekit_gateway import room_service
from rooms.livekit_gateway.room_service import LiveParticipantInfo, get_participant, update_permission
from rooms.observability import logger, metrics
from rooms.phone.numbers import DIAL_OUT_ID_ATTRIBUTE, call_not_answered, describe_sip_participant
from rooms.room.grants import admitted_permission
from rooms.room.status import MemberStatus, RoomStatus, is_live
from rooms.settings import Settings
from rooms.store import attendance as attendance_store
from rooms.store import audit as audit_store

if TYPE_CHECKING:
    from rooms.livekit_gateway.webhook import WebhookEvent
    from rooms.webhooks import WebhookContext


_MAX_ATTEMPTS = 3


# --- from LiveKit's events ---------------------------------------------------------------------------------


def segment_facts(info: LiveParticipantInfo, *, livekit_room_sid: str | None) -> attendance_store.SegmentFacts:
    """What a participant says about its connection. Our join tokens carry ``rooms.role`` and
    ``rooms.jti`` attributes; a phone participant is LiveKit kind SIP."""
    via = "phone" if info.kind == "sip" else "video"
    attributes = info.attributes
    ours = "rooms.jti" in attributes
    return attendance_store.SegmentFacts(
        identity=info.identity,
        participant_sid=info.sid,
        user_id=attributes.get("rooms.user_id") or info.identity,
        livekit_room_sid=livekit_room_sid or None,
        name=info.name or None,
        role=attributes.get("rooms.role") or ("participant" if via == "phone" else None),
        via=via,
        joined_at=info.joined_at or None,
        waiting=ours and not info.can_subscribe,
    )


def _log(action: str, ctx_room, identity: str, participant: LiveParticipantInfo | None = None, **extra) -> None:
    """The audit line of a participant event; a phone participant's number only masked."""
    if participant is not None and participant.kind == "sip":
        phone = describe_sip_participant(participant)
        identity, extra = phone.pop("identity"), {**extra, **phone}
    logger.info(action.replace(".", " "), extra={"action": action, "actor": ACTOR_LIVEKIT, "target": identity,
                                                 "room_id": ctx_room.room_id, **extra})


def _not_an_attendee(event: WebhookEvent) -> bool:
    """An event without a participant, or about one that is not a person (``is_person``)."""
    p = event.participant
    if not p.identity or not p.sid:
        logger.info(f"{event.event} without a participant", extra={"event_id": event.id})
        return True
    if not is_person(p):
        logger.info(f"{event.event} of a {p.kind} participant: not attendance",
                    extra={"event_id": event.id, "target": p.identity})
        return True
    return False


# A reconnect storm: this many reconnects in one room, each within the gap of the previous one (a flaky
# network or a LiveKit incident: "connection issues, frequent disconnects").
RECONNECT_STORM_THRESHOLD = 5
RECONNECT_BURST_GAP_SECONDS = 120


def next_reconnect_burst(room, at: int) -> tuple[int, int]:
    """(reconnects in the burst including this one, at): a burst continues while reconnects come within
    the gap. Computed from the room the webhook already read, so it costs no extra round trip; two
    simultaneous reconnects may count once, which is fine for a metric."""
    last = int(room.last_reconnect_at or 0)
    previous = int(room.reconnect_burst or 0)
    return (previous + 1 if last and 0 <= at - last <= RECONNECT_BURST_GAP_SECONDS else 1), at


def participant_joined(event: WebhookEvent, ctx: WebhookContext) -> None:
    if _not_an_attendee(event):
        return
    if call_not_answered(event.participant) or DIAL_OUT_ID_ATTRIBUTE in event.participant.attributes:
        # A dialled-out callee is in the room before its phone rings: its segment starts when it answered,
        # written by the dial-out worker (record_phone_answered), never at this join.
        _log("participant.join_dialing", ctx.room, event.participant.identity, event.participant,
             participant_sid=event.participant.sid,
             call_status=event.participant.attributes.get("sip.callStatus", ""))
        return
    facts = segment_facts(event.participant, livekit_room_sid=event.room_sid)
    if not facts.joined_at:
        facts = dataclasses.replace(facts, joined_at=unix_seconds(ctx.event_time))
    jti = event.participant.attributes.get("rooms.jti") or None
    reconnect = facts.identity in connected_identities(ctx.room)
    burst = next_reconnect_burst(ctx.room, unix_seconds(ctx.event_time)) if reconnect else None
    check_member = jti is not None
    for attempt in range(_MAX_ATTEMPTS):
        room = ctx.room
        ctx.undefer("publish_waiting")
        if facts.waiting and is_live(room.status):  # the worker tells the platform (EventBridge)
            ctx.defer("publish_waiting")
        joined_iso = iso_of_unix(facts.joined_at)
        started = joined_iso if joined_iso and (not room.started_at or joined_iso < room.started_at) else None
        try:
            with ctx.transaction() as tx:
                attendance_store.add_join(
                    tx, room, facts, at=iso(ctx.event_time),
                    activate=room.status in (RoomStatus.SCHEDULED, RoomStatus.OPEN),
                    started_at=started, member_jti=jti if check_member else None,
                    member_not_admitted=facts.waiting, reconnect_burst=burst, while_live=is_live(room.status),
                )
                audit_store.add(tx, audit.entry(
                    room, at=joined_iso or iso(ctx.event_time), actor=audit.LIVEKIT, action="participant.joined",
                    target=facts.identity, entry_id=event.id,
                    details={"participant_sid": facts.participant_sid, "via": facts.via, "role": facts.role,
                             "waiting": facts.waiting or None, "reconnect": reconnect or None}, settings=ctx.settings))
            break
        except store.StaleEvent as stale:
            if attempt == _MAX_ATTEMPTS - 1:
                raise
            member_failed = store.Member.key(room.room_id, facts.identity) in stale.failed_keys
            room_failed = store.RoomItem.key(room.room_id) in stale.failed_keys
            if not (member_failed or room_failed):
                raise
            if member_failed:
                facts = _enforce_membership(ctx, facts, jti or "")
                check_member = False
            if room_failed:  # the room changed status meanwhile (e.g. it ended): read it again
                fresh = store.get_room(room.room_id, consistent=True)
                if fresh is None:
                    raise
                ctx.room = fresh
    metrics.add_metric(name=metric_names.PARTICIPANT_JOINS, unit="Count", value=1)
    if reconnect:
        metrics.add_metric(name=metric_names.PARTICIPANT_RECONNECTS, unit="Count", value=1)
    if burst is not None and burst[0] == RECONNECT_STORM_THRESHOLD:  # once per storm
        metrics.add_metric(name=metric_names.RECONNECT_STORMS, unit="Count", value=1)
        logger.warning("reconnect storm", extra={"action": "room.reconnect_storm", "room_id": ctx.room.room_id,
                                                 "reconnects_in_burst": burst[0]})
    if facts.via == "phone":
        metrics.add_metric(name=metric_names.PHONE_PARTICIPANT_JOINS, unit="Count", value=1)
    _log("participant.join", ctx.room, facts.identity, event.participant, participant_sid=facts.participant_sid,
         via=facts.via, role=facts.role, reconnect=reconnect, waiting=facts.waiting,
         joined_at=iso_of_unix(facts.joined_at))
    if ctx.room.status == RoomStatus.ENDED:
        save_room_summary(ctx.room, now=ctx.event_time)  # a join delivered after the room's end


def record_phone_answered(room, *, identity: str, participant_sid: str, user_id: str | None, name: str | None,
                          answered_at, event_id: str, settings: Settings) -> bool:
    """A dialled-out callee answered: its segment starts now (exactly once: ``event_id`` is the marker).
    False when this was already recorded."""
    facts = attendance_store.SegmentFacts(identity=identity, participant_sid=participant_sid,
                                          user_id=user_id or identity, name=name, role="participant", via="phone",
                                          joined_at=unix_seconds(answered_at))
    joined_iso = iso(answered_at)
    started = joined_iso if not room.started_at or joined_iso < room.started_at else None
    try:
        with store.applying_event(event_id, event="dial_out_answered", room_name=room.livekit_room,
                                  received_at=joined_iso,
                                  expires_at=answered_at + timedelta(
                                      seconds=store.webhook_events.EVENT_RETENTION_SECONDS)) as tx:
            attendance_store.add_join(tx, room, facts, at=joined_iso,
                                      activate=room.status in (RoomStatus.SCHEDULED, RoomStatus.OPEN),
                                      started_at=started)
            audit_store.add(tx, audit.entry(
                room, at=joined_iso, actor=audit.LIVEKIT, action="participant.joined", target=identity,
                entry_id=event_id, details={"participant_sid": participant_sid, "via": "phone", "answered": True},
                settings=settings))
    except store.DuplicateEvent:
        return False
    metrics.add_metric(name=metric_names.PARTICIPANT_JOINS, unit="Count", value=1)
    metrics.add_metric(name=metric_names.PHONE_PARTICIPANT_JOINS, unit="Count", value=1)
    _log("participant.join", room, identity, participant_sid=participant_sid, via="phone", answered=True,
         joined_at=joined_iso)
    return True


def _join_facts(event: WebhookEvent, received_at: datetime) -> attendance_store.SegmentFacts:
    facts = segment_facts(event.participant, livekit_room_sid=event.room_sid)
    if not facts.joined_at:
        at = event.created_at or unix_seconds(received_at)
        facts = dataclasses.replace(facts, joined_at=at)
    return facts


WAITING_DETAIL_TYPE = "Participant Waiting"


def publish_participant_waiting(room, facts: attendance_store.SegmentFacts) -> None:
    """The waiting-room concierge: tell the platform someone is waiting, so it can notify the
    practitioner. After the join's transaction (a redelivered join is a duplicate and never gets here);
    at least once, like every event of ours (consumers key on room_id + participant_sid)."""
    notify.publish(WAITING_DETAIL_TYPE, {
        "room_id": room.room_id,
        "livekit_room": room.livekit_room,
        "booking_id": room.booking_id,
        "service_session_id": room.service_session_id,
        "host_user_id": room.host_user_id,
        "identity": facts.identity,
        "user_id": facts.user_id or facts.identity,
        "name": facts.name,
        "participant_sid": facts.participant_sid,
        "via": facts.via,
        "waiting_since": iso_of_unix(facts.joined_at),
        "scheduled_start": room.scheduled_start,
    })
    metrics.add_metric(name=metric_names.PARTICIPANTS_WAITING, unit="Count", value=1)


def _enforce_membership(ctx: WebhookContext, facts: attendance_store.SegmentFacts,
                        jti: str) -> attendance_store.SegmentFacts:
    """The membership check of a join failed: the member was revoked, joined with a token that had
    been superseded before they joined, or was admitted but connected with a waiting-room token. The
    join is recorded as it is; what LiveKit must do about it is the worker's follow-up."""
    room = ctx.room
    member = attendance_store.get_member(room.room_id, facts.identity)
    if member is None or member.status != MemberStatus.ACTIVE:
        revoked = parse_iso(member.revoked_at) if member and member.revoked_at else ctx.event_time
        ctx.defer("remove_revoked", identity=facts.identity, revoke_token_ts=unix_seconds(revoked) + 1)
        return facts
    if member.token_jti is None:
        # The host removed them (attendance.forget_session) and no token was issued since: whatever
        # token this connection used is stale, even one issued in the same second as this join
        # (LiveKit's joined_at has whole seconds), so the comparison below cannot decide it.
        ctx.defer("remove_superseded", identity=facts.identity, jti=jti,
                  revoke_token_ts=unix_seconds(ctx.event_time) + 1)
        return facts
    if member.token_jti != jti:
        issued = parse_iso(member.token_issued_at) if member.token_issued_at else None
        # Only a token that was already superseded when this connection started is refused: a member
        # who fetched a fresh token while connected (a refresh) keeps their session.
        if issued is None or unix_seconds(issued) < (facts.joined_at or 0):
            ctx.defer("remove_superseded", identity=facts.identity, jti=jti,
                      revoke_token_ts=unix_seconds(issued) if issued else unix_seconds(ctx.event_time) + 1)
        return facts
    if facts.waiting and member.admitted_at:
        # Admission is remembered: a reconnect with the waiting-room token does not wait again.
        ctx.defer("readmit", identity=facts.identity, role=member.role)
        return dataclasses.replace(facts, waiting=False)
    return facts


# --- the webhook worker's follow-ups of a join (rooms.webhooks.FOLLOW_UPS): each idempotent ----------------


def remove_revoked(event: WebhookEvent, room, received_at: datetime, arguments: dict[str, Any], *,
                   settings: Settings) -> None:
    """A revoked (or unknown) member joined: removed, with LiveKit Cloud's revoke_token_ts."""
    identity = arguments["identity"]
    removed = room_service.remove_participant(room.livekit_room, identity,
                                              revoke_token_ts=arguments["revoke_token_ts"])
    metrics.add_metric(name=metric_names.REVOKED_JOINS_REMOVED, unit="Count", value=1)
    _log("participant.remove_revoked", room, identity, participant_sid=event.participant.sid, removed=removed)


def remove_superseded(event: WebhookEvent, room, received_at: datetime, arguments: dict[str, Any], *,
                      settings: Settings) -> None:
    """A join with a token superseded before it: removed if that connection is still the live one (a
    later connection of the member, with their new token, stays)."""
    identity = arguments["identity"]
    live = get_participant(room.livekit_room, identity)
    if live is None or live.sid != event.participant.sid:
        return
    removed = room_service.remove_participant(room.livekit_room, identity,
                                              revoke_token_ts=arguments["revoke_token_ts"])
    metrics.add_metric(name=metric_names.SUPERSEDED_JOINS_REMOVED, unit="Count", value=1)
    _log("participant.remove_superseded", room, identity, participant_sid=event.participant.sid,
         removed=removed, jti=arguments.get("jti"))


def readmit(event: WebhookEvent, room, received_at: datetime, arguments: dict[str, Any], *,
            settings: Settings) -> None:
    """An admitted member reconnected with a waiting-room token: given the admitted permissions."""
    identity = arguments["identity"]
    update_permission(room.livekit_room, identity, **admitted_permission(arguments["role"]))
    _log("participant.readmit", room, identity, participant_sid=event.participant.sid)


def publish_waiting(event: WebhookEvent, room, received_at: datetime, arguments: dict[str, Any], *,
                    settings: Settings) -> None:
    """Someone is waiting: the platform is told (at least once)."""
    publish_participant_waiting(room, _join_facts(event, received_at))


def participant_left(event: WebhookEvent, ctx: WebhookContext) -> None:
    if _not_an_attendee(event):
        return
    facts = segment_facts(event.participant, livekit_room_sid=event.room_sid)
    if event.event == "participant_connection_aborted":
        # Never became active, so never attendance: LiveKit sends no participant_joined for it, and its
        # joined_at is still set (the signal session started), so it must not open or close a segment.
        _log("participant.connection_aborted", ctx.room, facts.identity, participant_sid=facts.participant_sid)
        return
    if call_not_answered(event.participant):
        # hung up (busy, no answer, failed) before answering: it never attended
        _log("participant.leave_unanswered", ctx.room, facts.identity, event.participant,
             participant_sid=facts.participant_sid, reason=_disconnect_reason(event))
        return
    dial_out_id = event.participant.attributes.get(DIAL_OUT_ID_ATTRIBUTE)
    if dial_out_id:
        # its joined_at is when it was connected to dial, not when it answered: the answer time comes from
        # the dial-out worker (in either order: the segment is keyed by participant SID)
        facts = dataclasses.replace(facts, joined_at=None)
    reason = _disconnect_reason(event)
    left_at = unix_seconds(ctx.event_time)
    if dial_out_id:
        store.record_dial_out_ended(ctx.room.room_id, dial_out_id, at=iso(ctx.event_time))
    for attempt in range(_MAX_ATTEMPTS):
        room = ctx.room
        try:
            with ctx.transaction() as tx:
                # read live: the write holds only while it still is, so that a room ending meanwhile (its
                # summary computed without this leave) is read again and its summary saved below
                attendance_store.add_leave(tx, room, facts, left_at=left_at, reason=reason, at=iso(ctx.event_time),
                                           while_live=is_live(room.status))
                audit_store.add(tx, audit.entry(
                    room, at=iso(ctx.event_time), actor=audit.LIVEKIT, action="participant.left",
                    target=facts.identity, entry_id=event.id,
                    details={"participant_sid": facts.participant_sid, "reason": reason}, settings=ctx.settings))
            break
        except store.StaleEvent as stale:
            if attempt == _MAX_ATTEMPTS - 1 or store.RoomItem.key(room.room_id) not in stale.failed_keys:
                raise
            fresh = store.get_room(room.room_id, consistent=True)
            if fresh is None:
                raise
            ctx.room = fresh
    metrics.add_metric(name=metric_names.PARTICIPANT_LEAVES, unit="Count", value=1)
    _log("participant.leave", ctx.room, facts.identity, event.participant, participant_sid=facts.participant_sid,
         reason=reason, left_at=iso_of_unix(left_at))
    if ctx.room.status == RoomStatus.ENDED:
        # a late leave (after the room was closed at its end) corrects the stored summary
        save_room_summary(ctx.room, now=ctx.event_time)


def _disconnect_reason(event: WebhookEvent) -> str:
    if event.event == "participant_connection_aborted":
        return "connection_aborted"
    name = event.participant.disconnect_reason
    return name if name != "unknown_reason" else "left"


def track_changed(event: WebhookEvent, ctx: WebhookContext) -> None:
    p, track = event.participant, event.track
    if not p.identity or not track.sid:
        logger.info(f"{event.event} without a track", extra={"event_id": event.id})
        return
    at = unix_seconds(ctx.event_time)
    published = event.event == "track_published"
    with ctx.transaction() as tx:
        attendance_store.add_track_event(
            tx, ctx.room.room_id, identity=p.identity, participant_sid=p.sid, track_sid=track.sid,
            track_type=track.type, source=track.source,
            published_at=at if published else None, unpublished_at=None if published else at,
        )
    logger.info(event.event.replace("_", " "), extra={
        "action": f"track.{'publish' if published else 'unpublish'}", "actor": ACTOR_LIVEKIT, "target": p.identity,
        "room_id": ctx.room.room_id, "track_sid": track.sid, "source": track.source})
