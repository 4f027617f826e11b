"""Attendance for billing: LiveKit's participant and track webhooks become connection segments, and the
attendance view derives everything else from them.

Why segments and not counters: LiveKit delivers at least once and out of order (a leave before its
join, a room_finished before the last leave). A segment is keyed by the participant SID and every event
writes plain values it carries itself (``ParticipantInfo.joined_at``, the event's ``created_at``), so
any order and any repetition converge to the same item; totals, reconnects, first join, last leave,
peak concurrency and duration are computed from the segments on read.

Cost: a participant_joined or participant_left is 2 DynamoDB round trips (the room read that routes the
event, then one transaction with the event-id marker, the segment, the room and, for a join, a check of
the membership). Revocation, superseded tokens and admitted members reconnecting with a waiting-room
token show up as a failed check: only then do we read the member and act (remove from LiveKit, or
grant the admitted permission), and write again.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime

from rooms import audit, livekit_gateway, store, verdicts
from rooms.access import Caller, require_host, require_member, require_room
from rooms.attendance_models import (
    AttendanceEntry,
    AttendanceSegment,
    AttendanceView,
    MetricSummary,
    QualitySampleAccepted,
    QualitySampleIn,
    QualitySummary,
    SessionVerdict,
    TrackView,
    VerdictNoShow,
)
from rooms.clock import iso, parse_iso
from rooms.errors import Conflict, InvalidInput
from rooms.grants import admitted_permission
from rooms.livekit_gateway.participants import get_participant, participant_info, update_permission
from rooms.observability import logger, metrics
from rooms.store import attendance as attendance_store
from rooms.store import audit as audit_store
from rooms.webhooks import WebhookContext, on

ACTOR_LIVEKIT = "livekit"
_MAX_ATTEMPTS = 3
_QUALITY_METRICS = ("packet_loss_pct", "jitter_ms", "rtt_ms")
_MAX_SAMPLE_SKEW_S = 300


def _ts(value: datetime) -> int:
    return int(value.timestamp())


def _iso_ts(value: int | float | None) -> str | None:
    return None if value is None else iso(datetime.fromtimestamp(int(value), tz=UTC))


# --- from LiveKit's events ---------------------------------------------------------------------------------


def segment_facts(participant, *, livekit_room_sid: str | None) -> attendance_store.SegmentFacts:
    """What a ``ParticipantInfo`` says about its connection. Our join tokens carry ``rooms.role`` and
    ``rooms.jti`` attributes; a phone participant is LiveKit kind SIP."""
    info = participant_info(participant)
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


def _log(action: str, ctx_room, identity: str, **extra) -> None:
    logger.info(action.replace(".", " "), extra={"action": action, "actor": ACTOR_LIVEKIT, "target": identity,
                                                 "room_id": ctx_room.room_id, **extra})


def _not_an_attendee(event) -> bool:
    """Recorders, ingress, agents and hidden participants are machinery, not attendance: counting them
    would bill nobody and hide a no-show."""
    p = event.participant
    if not p.identity or not p.sid:
        logger.info(f"{event.event} without a participant", extra={"event_id": event.id})
        return True
    kind = participant_info(p).kind
    if kind in ("egress", "ingress", "agent") or p.permission.recorder or p.permission.hidden:
        logger.info(f"{event.event} of a {kind} participant: not attendance",
                    extra={"event_id": event.id, "target": p.identity})
        return True
    return False


# A reconnect storm: this many reconnects in one room, each within the gap of the previous one (a flaky
# network or a LiveKit incident: the seed's "connection issues (frequent disconnects)").
RECONNECT_STORM_THRESHOLD = 5
RECONNECT_BURST_GAP_SECONDS = 120


def next_reconnect_burst(room, at: int) -> tuple[int, int]:
    """(reconnects in the burst including this one, at): a burst continues while reconnects come within
    the gap. Computed from the room the webhook already read, so it costs no extra round trip; two
    simultaneous reconnects may count once, which is fine for a metric."""
    last = int(room.last_reconnect_at or 0)
    previous = int(room.reconnect_burst or 0)
    return (previous + 1 if last and 0 <= at - last <= RECONNECT_BURST_GAP_SECONDS else 1), at


@on("participant_joined")
def participant_joined(event, ctx: WebhookContext) -> None:
    if _not_an_attendee(event):
        return
    facts = segment_facts(event.participant, livekit_room_sid=event.room.sid)
    if not facts.joined_at:
        facts = dataclasses.replace(facts, joined_at=_ts(ctx.event_time))
    jti = event.participant.attributes.get("rooms.jti") or None
    reconnect = facts.identity in (ctx.room.attendee_ids or set())
    burst = next_reconnect_burst(ctx.room, _ts(ctx.event_time)) if reconnect else None
    check_member = jti is not None
    for attempt in range(_MAX_ATTEMPTS):
        room = ctx.room
        joined_iso = _iso_ts(facts.joined_at)
        started = joined_iso if joined_iso and (not room.started_at or joined_iso < room.started_at) else None
        try:
            with ctx.transaction() as tx:
                attendance_store.add_join(
                    tx, room, facts, at=iso(ctx.event_time), activate=room.status in ("scheduled", "open"),
                    started_at=started, member_jti=jti if check_member else None,
                    member_not_admitted=facts.waiting, reconnect_burst=burst,
                )
                audit_store.add(tx, audit.entry(
                    room, at=joined_iso or iso(ctx.event_time), actor=audit.LIVEKIT, action="participant.joined",
                    target=facts.identity, entry_id=event.id,
                    details={"participant_sid": facts.participant_sid, "via": facts.via, "role": facts.role,
                             "waiting": facts.waiting or None, "reconnect": reconnect or None}))
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
    metrics.add_metric(name="ParticipantJoins", unit="Count", value=1)
    if reconnect:
        metrics.add_metric(name="ParticipantReconnects", unit="Count", value=1)
    if burst is not None and burst[0] == RECONNECT_STORM_THRESHOLD:  # once per storm
        metrics.add_metric(name="ReconnectStorms", unit="Count", value=1)
        logger.warning("reconnect storm", extra={"action": "room.reconnect_storm", "room_id": ctx.room.room_id,
                                                 "reconnects_in_burst": burst[0]})
    if facts.via == "phone":
        metrics.add_metric(name="PhoneParticipantJoins", unit="Count", value=1)
    _log("participant.join", ctx.room, facts.identity, participant_sid=facts.participant_sid, via=facts.via,
         role=facts.role, reconnect=reconnect, waiting=facts.waiting, joined_at=_iso_ts(facts.joined_at))
    if ctx.room.status == "ended":
        save_room_summary(ctx.room, now=ctx.event_time)  # a join delivered after the room's end


def _enforce_membership(ctx: WebhookContext, facts: attendance_store.SegmentFacts,
                        jti: str) -> attendance_store.SegmentFacts:
    """The membership check of a join failed: the member was revoked, joined with a token that had
    been superseded before they joined, or was admitted but connected with a waiting-room token."""
    room = ctx.room
    member = attendance_store.get_member(room.room_id, facts.identity)
    if member is None or member.status != "active":
        revoked = parse_iso(member.revoked_at) if member and member.revoked_at else ctx.event_time
        removed = livekit_gateway.remove_participant(
            room.livekit_room, facts.identity, revoke_token_ts=_ts(revoked) + 1
        )
        metrics.add_metric(name="RevokedJoinsRemoved", unit="Count", value=1)
        _log("participant.remove_revoked", room, facts.identity, participant_sid=facts.participant_sid,
             removed=removed)
        return facts
    if member.token_jti != jti:
        issued = parse_iso(member.token_issued_at) if member.token_issued_at else None
        # Only a token that was already superseded when this connection started is refused: a member
        # who fetched a fresh token while connected (a refresh) keeps their session.
        if issued is None or _ts(issued) < (facts.joined_at or 0):
            live = get_participant(room.livekit_room, facts.identity)
            if live is not None and live.sid == facts.participant_sid:
                removed = livekit_gateway.remove_participant(
                    room.livekit_room, facts.identity,
                    revoke_token_ts=_ts(issued) if issued else _ts(ctx.event_time) + 1,
                )
                metrics.add_metric(name="SupersededJoinsRemoved", unit="Count", value=1)
                _log("participant.remove_superseded", room, facts.identity, participant_sid=facts.participant_sid,
                     removed=removed, jti=jti)
        return facts
    if facts.waiting and member.admitted_at:
        # Admission is remembered: a reconnect with the waiting-room token does not wait again.
        update_permission(room.livekit_room, facts.identity, **admitted_permission(member.role))
        _log("participant.readmit", room, facts.identity, participant_sid=facts.participant_sid)
        return dataclasses.replace(facts, waiting=False)
    return facts


@on("participant_left", "participant_connection_aborted")
def participant_left(event, ctx: WebhookContext) -> None:
    if _not_an_attendee(event):
        return
    facts = segment_facts(event.participant, livekit_room_sid=event.room.sid)
    if event.event == "participant_connection_aborted" and not facts.joined_at:
        # never became active: no attendance (LiveKit sends no participant_joined for it either)
        _log("participant.connection_aborted", ctx.room, facts.identity, participant_sid=facts.participant_sid)
        return
    reason = _disconnect_reason(event)
    left_at = _ts(ctx.event_time)
    with ctx.transaction() as tx:
        attendance_store.add_leave(tx, ctx.room, facts, left_at=left_at, reason=reason, at=iso(ctx.event_time))
        audit_store.add(tx, audit.entry(
            ctx.room, at=iso(ctx.event_time), actor=audit.LIVEKIT, action="participant.left", target=facts.identity,
            entry_id=event.id, details={"participant_sid": facts.participant_sid, "reason": reason}))
    metrics.add_metric(name="ParticipantLeaves", unit="Count", value=1)
    _log("participant.leave", ctx.room, facts.identity, participant_sid=facts.participant_sid, reason=reason,
         left_at=_iso_ts(left_at))
    if ctx.room.status == "ended":
        # a late leave (after the room was closed at its end) corrects the stored summary
        save_room_summary(ctx.room, now=ctx.event_time)


def _disconnect_reason(event) -> str:
    p = event.participant
    if event.event == "participant_connection_aborted":
        return "connection_aborted"
    reason = p.DESCRIPTOR.fields_by_name["disconnect_reason"].enum_type.values_by_number.get(p.disconnect_reason)
    name = reason.name.lower() if reason else "unknown"
    return name if name != "unknown_reason" else "left"


@on("track_published", "track_unpublished")
def track_changed(event, ctx: WebhookContext) -> None:
    p, track = event.participant, event.track
    if not p.identity or not track.sid:
        logger.info(f"{event.event} without a track", extra={"event_id": event.id})
        return
    kind = track.DESCRIPTOR.fields_by_name["type"].enum_type.values_by_number.get(track.type)
    source = track.DESCRIPTOR.fields_by_name["source"].enum_type.values_by_number.get(track.source)
    at = _ts(ctx.event_time)
    published = event.event == "track_published"
    with ctx.transaction() as tx:
        attendance_store.add_track_event(
            tx, ctx.room.room_id, identity=p.identity, participant_sid=p.sid, track_sid=track.sid,
            track_type=kind.name.lower() if kind else "unknown", source=source.name.lower() if source else "unknown",
            published_at=at if published else None, unpublished_at=None if published else at,
        )
    logger.info(event.event.replace("_", " "), extra={
        "action": f"track.{'publish' if published else 'unpublish'}", "actor": ACTOR_LIVEKIT, "target": p.identity,
        "room_id": ctx.room.room_id, "track_sid": track.sid, "source": source.name.lower() if source else None})


# --- closing and reconciling ---------------------------------------------------------------------------------


def close_livekit_room_segments(room: store.RoomItem, *, livekit_room_sid: str | None, at: datetime,
                                reason: str = "room_finished") -> int:
    """Close the open segments of one LiveKit room (by its SID; all when unknown) at ``at``."""
    items = attendance_store.get_room_attendance(room.room_id)
    closed = 0
    for seg in items.segments:
        if seg.left_at is not None:
            continue
        if livekit_room_sid and seg.livekit_room_sid and seg.livekit_room_sid != livekit_room_sid:
            continue  # a connection to a later LiveKit room of the same name
        attendance_store.close_segment(room.room_id, seg, at=_ts(at), reason=reason)
        closed += 1
    if closed:
        logger.info("attendance closed", extra={"action": "attendance.close", "actor": ACTOR_LIVEKIT,
                                                "room_id": room.room_id, "segments": closed, "reason": reason})
    return closed


def reconcile_attendance(room: store.RoomItem, *, now: datetime, reason: str = "not_connected") -> store.RoomAttendance:
    """Make the open segments agree with LiveKit's ``ListParticipants`` (webhooks are best-effort):
    a segment whose participant is no longer connected is closed at ``now`` (a late participant_left
    still corrects it to the exact time), and a connected participant whose join we never saw gets
    its segment. Repeatable; used when a room ends and by the sweeper."""
    connected = {}
    if room.livekit_created_at:
        from rooms.livekit_gateway.participants import list_live_participants

        connected = {p.sid: p for p in list_live_participants(room.livekit_room)}
    items = attendance_store.get_room_attendance(room.room_id)
    known = set()
    at = _ts(now)
    for seg in items.segments:
        known.add(seg.participant_sid)
        if seg.left_at is None and seg.participant_sid not in connected:
            attendance_store.close_segment(room.room_id, seg, at=at, reason=reason)
            seg.left_at = at
            seg.left_reason = seg.left_reason or reason
    for sid, p in connected.items():
        if sid in known or p.kind in ("egress", "ingress", "agent"):
            continue
        attributes = p.attributes
        facts = attendance_store.SegmentFacts(
            identity=p.identity, participant_sid=sid, user_id=attributes.get("rooms.user_id") or p.identity,
            livekit_room_sid=room.livekit_sid, name=p.name or None, role=attributes.get("rooms.role"),
            via="phone" if p.kind == "sip" else "video", joined_at=p.joined_at or None,
        )
        attendance_store.upsert_connected_segment(room.room_id, facts)
        items.segments.append(store.SegmentItem(
            *store.SegmentItem.key(room.room_id, p.identity, sid), room_id=room.room_id, identity=p.identity,
            participant_sid=sid, joined_at=facts.joined_at, via=facts.via, role=facts.role,
        ))
        logger.info("attendance reconciled: missed join", extra={
            "action": "attendance.reconcile", "actor": "rooms", "room_id": room.room_id, "target": p.identity,
            "participant_sid": sid})
    return items


def close_room_attendance(room: store.RoomItem, *, now: datetime) -> None:
    """The attendance step of ``release_room_resources``: reconcile, close what is open, and keep the
    summary (participant count, peak concurrent, duration) on the room."""
    items = reconcile_attendance(room, now=now, reason="room_ended")
    view = attendance_view(room, items, now=now)
    attendance_store.save_room_attendance_summary(room.room_id, participant_count=view.participant_count,
                                       peak_concurrent=view.peak_concurrent, duration_seconds=view.duration_seconds)


def save_room_summary(room: store.RoomItem, *, now: datetime) -> None:
    view = attendance_view(room, attendance_store.get_room_attendance(room.room_id), now=now)
    attendance_store.save_room_attendance_summary(room.room_id, participant_count=view.participant_count,
                                       peak_concurrent=view.peak_concurrent, duration_seconds=view.duration_seconds)


# --- the attendance view (pure) ----------------------------------------------------------------------------


def _bounds(seg, *, now: int, cap: int | None) -> tuple[int, int] | None:
    if seg.joined_at is None:
        return None  # only its leave was seen and it carried no join time: nothing to count
    start = int(seg.joined_at)
    end = int(seg.left_at) if seg.left_at is not None else now
    if cap is not None:
        end = min(end, cap)
    return start, max(start, end)


def merge_intervals(intervals: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def peak_concurrency(per_identity: Iterable[list[tuple[int, int]]]) -> int:
    """Most identities connected at once (a leave and a join in the same second do not overlap)."""
    edges = []
    for intervals in per_identity:
        for start, end in intervals:
            if end > start:
                edges.append((start, 1))
                edges.append((end, -1))
    peak = current = 0
    for _, delta in sorted(edges):  # -1 sorts before +1 at the same second
        current += delta
        peak = max(peak, current)
    return peak


def _summary(values: list[float]) -> MetricSummary | None:
    if not values:
        return None
    return MetricSummary(min=min(values), avg=round(sum(values) / len(values), 3), max=max(values))


def quality_summary(samples: list) -> QualitySummary | None:
    if not samples:
        return None
    out: dict[str, MetricSummary | None] = {}
    for name in _QUALITY_METRICS:
        out[name] = _summary([float(getattr(s, name)) for s in samples if getattr(s, name) is not None])
    return QualitySummary(samples=len(samples), **out)


def attendance_view(room, items: store.RoomAttendance, *, now: datetime,
                    members: list | None = None) -> AttendanceView:
    """Everything billing needs, derived from the segments (so any delivery order gives the same).
    With the room's ``members`` and once the room is over, the session's verdict too (rooms.verdicts)."""
    now_ts = _ts(now)
    cap = _ts(parse_iso(room.ended_at)) if room.status == "ended" and room.ended_at else None
    by_identity: dict[str, list] = defaultdict(list)
    for seg in items.segments:
        by_identity[seg.identity].append(seg)
    tracks_by_identity: dict[str, list] = defaultdict(list)
    for track in items.tracks:
        tracks_by_identity[track.identity].append(track)
    quality_by_identity = {q.identity: list(q.samples or []) for q in items.quality}

    entries, merged_all, parties = [], [], []
    policy = room_policy(room)
    start_ts = _ts(parse_iso(room.scheduled_start)) if room.scheduled_start else None
    first_join: int | None = None
    last_end: int | None = None
    anyone_open = False
    for identity in sorted(set(by_identity) | set(quality_by_identity)):
        segs = by_identity.get(identity, [])
        entry, merged = _entry(identity, segs, tracks_by_identity.get(identity, []),
                               quality_by_identity.get(identity, []), now=now_ts, cap=cap)
        party = verdicts.Party(identity=identity, role=entry.role, billable=_billable(segs, now=now_ts, cap=cap),
                               first_joined=merged[0][0] if merged else None)
        entry.billable_seconds = party.billable_seconds
        entry.late_seconds = verdicts.late_seconds(party.first_joined, start_ts)
        entry.attended = verdicts.is_attended(party.billable_seconds, policy)
        entry.billing_band = verdicts.billing_band(party.billable_seconds, policy.billing_bands)
        parties.append(party)
        entries.append(entry)
        if merged:
            merged_all.append(merged)
            first_join = merged[0][0] if first_join is None else min(first_join, merged[0][0])
            last_end = merged[-1][1] if last_end is None else max(last_end, merged[-1][1])
        anyone_open = anyone_open or entry.connected
    entries.sort(key=lambda e: (e.first_joined_at or "~", e.identity))
    return AttendanceView(
        room_id=room.room_id,
        status=room.status,
        started_at=_iso_ts(first_join),
        last_left_at=None if anyone_open else _iso_ts(last_end),
        ended_at=room.ended_at,
        duration_seconds=(last_end - first_join) if first_join is not None and last_end is not None else 0,
        participant_count=len(merged_all),
        peak_concurrent=peak_concurrency(merged_all),
        participants=entries,
        scheduled_start=room.scheduled_start,
        scheduled_end=room.scheduled_end,
        verdict=_verdict(room, parties, policy, members) if members is not None else None,
    )


# --- verdicts (rooms.verdicts holds the rules) -----------------------------------------------------------


def room_policy(room) -> verdicts.EvidencePolicy:
    return verdicts.EvidencePolicy.from_dict(room.evidence_policy.as_dict() if room.evidence_policy else None)


FINAL_STATUSES = ("ended", "expired", "cancelled")


def _billable(segs: list, *, now: int, cap: int | None) -> list[tuple[int, int]]:
    """Each segment from its admission (a waiting-room connection) or its join, to its leave."""
    out = []
    for seg in segs:
        bounds = _bounds(seg, now=now, cap=cap)
        if bounds is None:
            continue
        start, end = bounds
        if seg.waiting:
            if seg.admitted_at is None:
                continue  # waited the whole connection
            start = max(start, int(seg.admitted_at))
        if end > start:
            out.append((start, end))
    return verdicts.merge(out)


def _verdict(room, parties: list, policy: verdicts.EvidencePolicy, members: list) -> SessionVerdict | None:
    if room.status not in FINAL_STATUSES:
        return None

    def ts(value: str | None) -> int | None:
        return _ts(parse_iso(value)) if value else None

    v = verdicts.session_verdict(
        status=room.status, parties=parties, policy=policy, host=room.host_user_id,
        members=[(m.user_id, m.role) for m in members if m.status == "active"], is_booking=bool(room.booking_id),
        scheduled_start=ts(room.scheduled_start), scheduled_end=ts(room.scheduled_end), ended_at=ts(room.ended_at),
    )
    return SessionVerdict(
        outcome=v.outcome, no_show=VerdictNoShow(**v.no_show.as_dict()) if v.no_show else None, attended=v.attended,
        billable_seconds=v.billable_seconds, billing_band=v.billing_band, session_ended_at=_iso_ts(v.ended_at),
        reasons=v.reasons, policy=policy.as_dict(),
    )


def _entry(identity: str, segs: list, tracks: list, samples: list, *, now: int,
           cap: int | None) -> tuple[AttendanceEntry, list[tuple[int, int]]]:
    segments, intervals = [], []
    waiting_total = 0
    connected = False
    for seg in sorted(segs, key=lambda s: (s.joined_at is None, s.joined_at or 0, s.left_at is None,
                                           s.left_at or 0, s.participant_sid)):
        bounds = _bounds(seg, now=now, cap=cap)
        is_open = seg.left_at is None and seg.joined_at is not None and cap is None
        connected = connected or is_open
        seconds = waiting = 0
        if bounds:
            intervals.append(bounds)
            seconds = bounds[1] - bounds[0]
            if seg.waiting:
                until = min(int(seg.admitted_at), bounds[1]) if seg.admitted_at is not None else bounds[1]
                waiting = max(0, until - bounds[0])
        waiting_total += waiting
        segments.append(AttendanceSegment(
            joined_at=_iso_ts(seg.joined_at),
            left_at=None if is_open else _iso_ts(bounds[1] if bounds else seg.left_at),
            seconds=seconds, participant_sid=seg.participant_sid, via=seg.via or "video", waiting_seconds=waiting,
            left_reason=None if is_open else seg.left_reason,
        ))
    merged = merge_intervals(intervals)
    counted = [s for s in segments if s.joined_at is not None]
    sample = next((s for s in segs if s.role), None)
    named = next((s for s in segs if s.name), None)
    user = next((s for s in segs if s.user_id), None)
    published = sorted({t.source for t in tracks if t.source})
    entry = AttendanceEntry(
        identity=identity,
        user_id=user.user_id if user else identity,
        name=named.name if named else None,
        role=sample.role if sample else None,
        via="phone" if any(s.via == "phone" for s in segs) else "video",
        first_joined_at=_iso_ts(merged[0][0]) if merged else None,
        last_left_at=None if connected or not merged else _iso_ts(merged[-1][1]),
        total_seconds=sum(end - start for start, end in merged),
        waiting_seconds=waiting_total,
        reconnects=max(0, len(counted) - 1),
        connected=connected,
        segments=segments,
        published=published,
        tracks=[TrackView(track_sid=t.track_sid, participant_sid=t.participant_sid, type=t.track_type or "unknown",
                          source=t.source or "unknown", published_at=_iso_ts(t.published_at),
                          unpublished_at=_iso_ts(t.unpublished_at))
                for t in sorted(tracks, key=lambda t: (t.published_at or 0, t.track_sid))],
        quality=quality_summary(samples),
    )
    return entry, merged


# --- HTTP-facing operations ------------------------------------------------------------------------------


def read_attendance(room_id: str, *, caller: Caller, now: datetime) -> AttendanceView:
    """The room's attendance: its host, or the platform backend (admin scope), which bills from it."""
    room, member = store.get_room_and_member(room_id, caller.user_id)
    room = require_room(room, room_id)
    if not caller.is_admin:
        require_host(caller, room, member)
    members = store.list_members(room_id) if room.status in FINAL_STATUSES else None
    return attendance_view(room, attendance_store.get_room_attendance(room_id), now=now, members=members)


def record_quality_sample(room_id: str, sample: QualitySampleIn, *, caller: Caller,
                          now: datetime) -> QualitySampleAccepted:
    """A member's client reports one connection-quality sample; it lands on their attendance."""
    room, member = store.get_room_and_member(room_id, caller.user_id)
    room = require_room(room, room_id)
    require_member(caller, room, member)
    if room.status not in ("open", "active", "ended"):  # a last sample may race the room's end
        raise Conflict(f"room {room_id} is {room.status}", code="room_not_open")
    measured = sample.measured_at or now
    if abs(_ts(measured) - _ts(now)) > _MAX_SAMPLE_SKEW_S:
        raise InvalidInput("measured_at is more than 5 minutes away from now", code="sample_time_skew",
                           field="measured_at")
    values = {name: getattr(sample, name) for name in _QUALITY_METRICS if getattr(sample, name) is not None}
    if not attendance_store.append_quality_sample(room_id, caller.user_id, {"at": iso(measured), **values}):
        raise Conflict(f"at most {attendance_store.MAX_QUALITY_SAMPLES} quality samples per member and room",
                       code="quality_samples_full")
    metrics.add_metric(name="QualitySamples", unit="Count", value=1)
    logger.info("quality sample", extra={"action": "quality.sample", "actor": caller.user_id,
                                          "room_id": room_id, **values})
    return QualitySampleAccepted(room_id=room_id, identity=caller.user_id, measured_at=iso(measured))


__all__ = [
    "attendance_view",
    "close_livekit_room_segments",
    "close_room_attendance",
    "read_attendance",
    "reconcile_attendance",
    "record_quality_sample",
]
