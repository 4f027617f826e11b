"""Closing and reconciling attendance with LiveKit's ListParticipants."""

from __future__ import annotations

from datetime import datetime

from rooms import metric_names, store
from rooms.attendance.people import is_person
from rooms.attendance.view import attendance_view, unix_seconds
from rooms.clock import parse_iso
from rooms.observability import logger, metrics
from rooms.phone.numbers import DIAL_OUT_ID_ATTRIBUTE, call_not_answered
from rooms.room.status import MemberStatus
from rooms.store import attendance as attendance_store

ACTOR_LIVEKIT = "livekit"


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
        attendance_store.close_segment(room.room_id, seg, at=unix_seconds(at), reason=reason)
        closed += 1
    if closed:
        logger.info("attendance closed", extra={"action": "attendance.close", "actor": ACTOR_LIVEKIT,
                                                "room_id": room.room_id, "segments": closed, "reason": reason})
    return closed


def reconcile_attendance(room: store.RoomItem, *, now: datetime, reason: str = "not_connected") -> store.RoomAttendance:
    """Make the open segments agree with LiveKit's ``ListParticipants`` (webhooks are best-effort):
    a segment whose participant is no longer connected is closed at ``now`` (a late participant_left
    still corrects it to the exact time), and a connected participant whose join we never saw gets
    its segment. Repeatable; used when a room ends and by the sweeper.

    Someone connected who may not be there (a revoked member, or an identity that is no member, whose
    ``participant_joined`` was lost, so the join's membership check never ran) is removed from LiveKit and
    is not attendance: their connection is recorded as ``not_attendance`` instead of a segment."""
    connected = {}
    listed = bool(room.livekit_created_at)
    if listed:
        from rooms.livekit_gateway.room_service import list_live_participants

        connected = {p.sid: p for p in list_live_participants(room.livekit_room)}
    items = attendance_store.get_room_attendance(room.room_id)
    known = set()
    at = unix_seconds(now)
    attended = {seg.participant_sid for seg in items.segments}
    # Only connections whose join we never saw are checked (their membership check never ran); a revoked
    # member connected before the revocation is removed by the revocation itself (or its cleanup_pending).
    unseen = {sid: p for sid, p in connected.items() if sid not in attended}
    for sid in _remove_unwelcome(room, unseen, now=now):
        attendance_store.exclude_connection(room.room_id, _facts(room, connected.pop(sid)), at=at,
                                            reason="not_a_member")
    for seg in items.segments:
        known.add(seg.participant_sid)
        if seg.left_at is None and seg.participant_sid not in connected:
            attendance_store.close_segment(room.room_id, seg, at=at, reason=reason)
            seg.left_at = at
            seg.left_reason = seg.left_reason or reason
    for sid, p in connected.items():
        if sid in known or not is_person(p):
            continue
        if call_not_answered(p) or DIAL_OUT_ID_ATTRIBUTE in p.attributes:
            continue  # ringing is not attendance; a dial-out's segment starts at its answer (rooms.phone.dial_out)
        facts = _facts(room, p)
        attendance_store.upsert_connected_segment(room.room_id, facts)
        items.segments.append(store.SegmentItem(
            *store.SegmentItem.key(room.room_id, p.identity, sid), room_id=room.room_id, identity=p.identity,
            participant_sid=sid, joined_at=facts.joined_at, via=facts.via, role=facts.role,
        ))
        logger.info("attendance reconciled: missed join", extra={
            "action": "attendance.reconcile", "actor": "rooms", "room_id": room.room_id, "target": p.identity,
            "participant_sid": sid})
    if listed:
        _correct_connected_hint(room, connected.values())
    return items


def _correct_connected_hint(room: store.RoomItem, connected) -> None:
    """The room's ``connected_hint`` made LiveKit's count again (a lost webhook drifts it): one write,
    only when it differs."""
    from rooms.livekit_gateway.room_service import counts_toward_max

    count = sum(1 for p in connected if counts_toward_max(p))
    seen = None if room.connected_hint is None else int(room.connected_hint)
    if seen == count:
        return
    corrected = attendance_store.correct_connected_hint(room.room_id, count, seen=seen)
    logger.info("connected hint reconciled", extra={
        "action": "attendance.reconcile_hint", "actor": "rooms", "room_id": room.room_id, "hint": seen,
        "connected": count, "corrected": corrected})


def _facts(room: store.RoomItem, p) -> attendance_store.SegmentFacts:
    attributes = p.attributes
    return attendance_store.SegmentFacts(
        identity=p.identity, participant_sid=p.sid, user_id=attributes.get("rooms.user_id") or p.identity,
        livekit_room_sid=room.livekit_sid, name=p.name or None, role=attributes.get("rooms.role"),
        via="phone" if p.kind == "sip" else "video", joined_at=p.joined_at or None,
    )


def _remove_unwelcome(room: store.RoomItem, connected: dict, *, now: datetime) -> list[str]:
    """Remove from LiveKit the connected people who are not active members (phone callers are not
    members: they come in through the room's dial-in PIN). Returns their participant SIDs."""
    people = {sid: p for sid, p in connected.items() if is_person(p) and p.kind != "sip"}
    if not people:
        return []
    from rooms.livekit_gateway.room_service import remove_participant

    members = {m.user_id: m for m in store.list_members(room.room_id)}
    removed = []
    for sid, p in people.items():
        member = members.get(p.identity)
        if member is not None and member.status == MemberStatus.ACTIVE:
            continue
        revoked = parse_iso(member.revoked_at) if member is not None and member.revoked_at else now
        # +1 s: a token minted in the second of the revocation must stop working too (LiveKit Cloud)
        remove_participant(room.livekit_room, p.identity, revoke_token_ts=unix_seconds(revoked) + 1)
        removed.append(sid)
        logger.warning("reconcile removed someone who may not be in the room", extra={
            "action": "participant.remove_unwelcome", "actor": "rooms", "room_id": room.room_id,
            "target": p.identity, "participant_sid": sid,
            "membership": member.status if member is not None else "none"})
    if removed:
        metrics.add_metric(name=metric_names.REVOKED_JOINS_REMOVED, unit="Count", value=len(removed))
    return removed


def close_room_attendance(room: store.RoomItem, *, now: datetime) -> None:
    """The attendance step of ``release_room_resources``: reconcile, close what is open, and keep the
    summary (participant count, peak concurrent, duration) on the room."""
    reconcile_attendance(room, now=now, reason="room_ended")
    save_room_summary(room, now=now)


# A join or leave landing between reading the segments and saving the summary makes the save fail; each
# attempt reads again. More than this many in a row for one ended room is not a real workload.
_SUMMARY_ATTEMPTS = 5


def save_room_summary(room: store.RoomItem, *, now: datetime) -> None:
    """Keep the room's attendance summary, from its segments as they are now (also after a join or leave
    that arrived once the room had ended)."""
    for _ in range(_SUMMARY_ATTEMPTS):
        fresh = store.get_room(room.room_id, consistent=True)
        if fresh is None:
            return
        view = attendance_view(fresh, attendance_store.get_room_attendance(room.room_id), now=now)
        if attendance_store.save_room_attendance_summary(
                room.room_id, participant_count=view.participant_count, peak_concurrent=view.peak_concurrent,
                duration_seconds=view.duration_seconds, attendance_version=fresh.attendance_version):
            return
    logger.warning("room summary not saved: attendance kept changing", extra={
        "action": "room.summary", "room_id": room.room_id, "attempts": _SUMMARY_ATTEMPTS})
