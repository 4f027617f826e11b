"""Attendance: connection segments, published tracks and quality samples, under the room's partition.

Every write here is order-free and repeatable: a segment is keyed by LiveKit's participant SID and its
fields are plain SETs of values carried by the events themselves (a leave before its join creates the
segment with ``left_at``; the join fills ``joined_at``). Closing a segment at a room's end uses
``if_not_exists``, so a real ``participant_left`` (earlier, exact) always wins over it whichever comes
first. Totals are never stored: they are derived from the segments on read (``rooms.attendance``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.exceptions import UpdateError
from pynamodb.expressions.condition import size
from pynamodb.transactions import TransactWrite

from rooms.room.status import LIVE_STATUSES, MemberStatus, RoomStatus
from rooms.store.conditions import condition_failed
from rooms.store.rooms import Member, RoomItem, room_pk
from rooms.store.table import TableItem, bind

ATTENDANCE_PREFIX = "ATTEND#"
MAX_QUALITY_SAMPLES = 1000  # 1 sample / 10 s for ~2.7 h; keeps the item far below 400 KB


def attendance_sk(identity: str) -> str:
    return f"{ATTENDANCE_PREFIX}{identity}"


class SegmentItem(TableItem, discriminator="attendance_segment"):
    """One connection of one participant (LiveKit participant SID). Times are epoch seconds."""

    room_id = UnicodeAttribute()
    identity = UnicodeAttribute()
    user_id = UnicodeAttribute(null=True)
    participant_sid = UnicodeAttribute()
    livekit_room_sid = UnicodeAttribute(null=True)
    name = UnicodeAttribute(null=True)
    role = UnicodeAttribute(null=True)
    via = UnicodeAttribute(null=True)  # video | phone
    joined_at = NumberAttribute(null=True)
    left_at = NumberAttribute(null=True)
    left_reason = UnicodeAttribute(null=True)
    waiting = BooleanAttribute(null=True)  # connected with a waiting-room token
    admitted_at = NumberAttribute(null=True)
    # A connection of someone who may not be there (not an active member; their join never seen),
    # removed by a reconcile: kept as a record, never read as attendance (get_room_attendance skips it),
    # so their late participant_left does not count them either.
    not_attendance = BooleanAttribute(null=True)

    @staticmethod
    def key(room_id: str, identity: str, participant_sid: str) -> tuple[str, str]:
        return room_pk(room_id), f"{attendance_sk(identity)}#SEG#{participant_sid}"


class TrackItem(TableItem, discriminator="attendance_track"):
    """A track a participant published (media tracking: who published audio, video, screen)."""

    room_id = UnicodeAttribute()
    identity = UnicodeAttribute()
    participant_sid = UnicodeAttribute()
    track_sid = UnicodeAttribute()
    track_type = UnicodeAttribute(null=True)  # audio | video | data
    source = UnicodeAttribute(null=True)  # camera | microphone | screen_share | screen_share_audio | unknown
    published_at = NumberAttribute(null=True)
    unpublished_at = NumberAttribute(null=True)

    @staticmethod
    def key(room_id: str, identity: str, track_sid: str) -> tuple[str, str]:
        return room_pk(room_id), f"{attendance_sk(identity)}#TRACK#{track_sid}"


class QualitySampleMap(MapAttribute):
    at = UnicodeAttribute()
    packet_loss_pct = NumberAttribute(null=True)
    jitter_ms = NumberAttribute(null=True)
    rtt_ms = NumberAttribute(null=True)


class QualityItem(TableItem, discriminator="attendance_quality"):
    """Connection-quality samples a member's client reported (appended; summarized on read)."""

    room_id = UnicodeAttribute()
    identity = UnicodeAttribute()
    samples = ListAttribute(of=QualitySampleMap, null=True)

    @staticmethod
    def key(room_id: str, identity: str) -> tuple[str, str]:
        return room_pk(room_id), f"{attendance_sk(identity)}#QUALITY"


@dataclass(frozen=True)
class SegmentFacts:
    """What a participant event tells about one connection."""

    identity: str
    participant_sid: str
    user_id: str | None = None
    livekit_room_sid: str | None = None
    name: str | None = None
    role: str | None = None
    via: str = "video"
    joined_at: int | None = None
    waiting: bool = False


@dataclass
class RoomAttendance:
    segments: list[SegmentItem] = field(default_factory=list)
    tracks: list[TrackItem] = field(default_factory=list)
    quality: list[QualityItem] = field(default_factory=list)


# --- writes inside a webhook event's transaction -----------------------------------------------------


def _describe(facts: SegmentFacts, room_id: str) -> list:
    actions = [
        SegmentItem.kind.set(SegmentItem),
        SegmentItem.room_id.set(room_id),
        SegmentItem.identity.set(facts.identity),
        SegmentItem.participant_sid.set(facts.participant_sid),
        SegmentItem.user_id.set(facts.user_id or facts.identity),
        SegmentItem.via.set(facts.via),
    ]
    for attr, value in ((SegmentItem.livekit_room_sid, facts.livekit_room_sid), (SegmentItem.name, facts.name),
                        (SegmentItem.role, facts.role)):
        if value:
            actions.append(attr.set(value))
    return actions


def add_join(
    tx: TransactWrite,
    room: RoomItem,
    facts: SegmentFacts,
    *,
    at: str,
    activate: bool,
    started_at: str | None,
    member_jti: str | None = None,
    member_not_admitted: bool = False,
    reconnect_burst: tuple[int, int] | None = None,
    while_live: bool = False,
) -> None:
    """The writes of a participant_joined: the segment, the room (attendee ids; ``active`` on the first
    join) and, for a participant who joined with one of our tokens, a check that the membership is
    active and the token is the member's live one (a failure tells the caller to enforce revocation).
    ``while_live``: the room must still be live (the caller read it live; if it ended meanwhile, the
    caller reads it again and saves the ended room's summary after its join).
    """
    seg = SegmentItem(*SegmentItem.key(room.room_id, facts.identity, facts.participant_sid))
    actions = _describe(facts, room.room_id)
    if facts.joined_at:
        actions.append(SegmentItem.joined_at.set(facts.joined_at))
    if facts.waiting:
        actions.append(SegmentItem.waiting.set(True))
    tx.update(seg, actions=actions)

    room_actions = [RoomItem.attendee_ids.add({facts.identity}), RoomItem.connected_hint.add(1),
                    RoomItem.attendance_version.add(1), RoomItem.updated_at.set(at)]
    condition = None
    if started_at:
        room_actions.append(RoomItem.started_at.set(started_at))
    if activate:
        room_actions.append(RoomItem.status.set(RoomStatus.ACTIVE))
    if activate or while_live:
        condition = RoomItem.status.is_in(*LIVE_STATUSES)  # never revive a room that ended meanwhile
    if reconnect_burst is not None:
        burst, last_at = reconnect_burst
        room_actions += [RoomItem.reconnect_burst.set(burst), RoomItem.last_reconnect_at.set(last_at)]
    tx.update(room, actions=room_actions, condition=condition)

    if member_jti is not None:
        check = (Member.status == MemberStatus.ACTIVE) & (Member.token_jti == member_jti)
        if member_not_admitted:
            check &= Member.admitted_at.does_not_exist()
        tx.condition_check(Member, *Member.key(room.room_id, facts.identity), condition=check)


def add_leave(tx: TransactWrite, room: RoomItem, facts: SegmentFacts, *, left_at: int, reason: str,
              at: str, while_live: bool = False) -> None:
    """The writes of a participant_left: the exact leave time (it overrides a close at the room's end),
    if the join was never seen, the join time the leave event carries, and one fewer connected on the
    room's hint (its join, whenever it is applied, counts one more: the sum is order-free).
    ``while_live``: as for ``add_join``."""
    seg = SegmentItem(*SegmentItem.key(room.room_id, facts.identity, facts.participant_sid))
    actions = [*_describe(facts, room.room_id), SegmentItem.left_at.set(left_at),
               SegmentItem.left_reason.set(reason)]
    if facts.joined_at:
        actions.append(SegmentItem.joined_at.set(SegmentItem.joined_at | facts.joined_at))
    tx.update(seg, actions=actions)
    room_actions = [RoomItem.connected_hint.add(-1), RoomItem.attendance_version.add(1), RoomItem.updated_at.set(at)]
    if facts.joined_at:  # someone did connect, even if their participant_joined never reaches us
        room_actions.append(RoomItem.attendee_ids.add({facts.identity}))
    tx.update(room, actions=room_actions,
              condition=RoomItem.status.is_in(*LIVE_STATUSES) if while_live else None)


def exclude_connection(room_id: str, facts: SegmentFacts, *, at: int, reason: str) -> None:
    """Record a connection that is not attendance (``SegmentItem.not_attendance``), closed at ``at``."""
    bind()
    seg = SegmentItem(*SegmentItem.key(room_id, facts.identity, facts.participant_sid))
    seg.update(actions=[*_describe(facts, room_id), SegmentItem.not_attendance.set(True),
                        SegmentItem.left_at.set(SegmentItem.left_at | at), SegmentItem.left_reason.set(reason)])


def add_track_event(tx: TransactWrite, room_id: str, *, identity: str, participant_sid: str, track_sid: str,
                    track_type: str, source: str, published_at: int | None = None,
                    unpublished_at: int | None = None) -> None:
    item = TrackItem(*TrackItem.key(room_id, identity, track_sid))
    actions = [
        TrackItem.kind.set(TrackItem),
        TrackItem.room_id.set(room_id),
        TrackItem.identity.set(identity),
        TrackItem.participant_sid.set(participant_sid),
        TrackItem.track_sid.set(track_sid),
        TrackItem.track_type.set(track_type),
        TrackItem.source.set(source),
    ]
    if published_at is not None:
        actions.append(TrackItem.published_at.set(published_at))
    if unpublished_at is not None:
        actions.append(TrackItem.unpublished_at.set(unpublished_at))
    tx.update(item, actions=actions)


# --- reads and idempotent maintenance ----------------------------------------------------------------


def get_room_attendance(room_id: str) -> RoomAttendance:
    """Every segment, track and quality item of a room: one Query (paged by DynamoDB when large)."""
    bind()
    out = RoomAttendance()
    for item in TableItem.query(room_pk(room_id), TableItem.sk.startswith(ATTENDANCE_PREFIX), consistent_read=True):
        if isinstance(item, SegmentItem):
            if not item.not_attendance:
                out.segments.append(item)
        elif isinstance(item, TrackItem):
            out.tracks.append(item)
        elif isinstance(item, QualityItem):
            out.quality.append(item)
    return out


def close_segment(room_id: str, segment: SegmentItem, *, at: int, reason: str) -> None:
    """Close an open segment at ``at`` unless a leave already gave its exact time (repeatable)."""
    bind()
    item = SegmentItem(*SegmentItem.key(room_id, segment.identity, segment.participant_sid))
    item.update(actions=[
        SegmentItem.left_at.set(SegmentItem.left_at | at),
        SegmentItem.left_reason.set(SegmentItem.left_reason | reason),
    ])


def upsert_connected_segment(room_id: str, facts: SegmentFacts) -> None:
    """A participant LiveKit lists as connected but whose join we never saw (a dropped webhook)."""
    bind()
    item = SegmentItem(*SegmentItem.key(room_id, facts.identity, facts.participant_sid))
    actions = _describe(facts, room_id)
    if facts.joined_at:
        actions.append(SegmentItem.joined_at.set(SegmentItem.joined_at | facts.joined_at))
    item.update(actions=actions)
    RoomItem(*RoomItem.key(room_id)).update(actions=[RoomItem.attendee_ids.add({facts.identity})],
                                            condition=RoomItem.pk.exists())


def correct_connected_hint(room_id: str, count: int, *, seen: int | None) -> bool:
    """Set the room's ``connected_hint`` to ``count`` (LiveKit's, from a reconcile) unless a join or a
    leave changed it since it was read as ``seen``: then that event's own +1 / -1 stands. True if set."""
    bind()
    expected = RoomItem.connected_hint.does_not_exist() if seen is None else RoomItem.connected_hint == seen
    try:
        RoomItem(*RoomItem.key(room_id)).update(actions=[RoomItem.connected_hint.set(count)],
                                                condition=RoomItem.pk.exists() & expected)
    except UpdateError as err:
        if condition_failed(err):
            return False
        raise
    return True


def mark_segment_admitted(room_id: str, identity: str, participant_sid: str, *, at: int) -> None:
    """The host admitted a waiting participant on this connection (first admission wins)."""
    bind()
    item = SegmentItem(*SegmentItem.key(room_id, identity, participant_sid))
    item.update(actions=[
        SegmentItem.kind.set(SegmentItem),
        SegmentItem.room_id.set(room_id),
        SegmentItem.identity.set(identity),
        SegmentItem.participant_sid.set(participant_sid),
        SegmentItem.admitted_at.set(SegmentItem.admitted_at | at),
    ])


def save_room_attendance_summary(room_id: str, *, participant_count: int, peak_concurrent: int,
                                 duration_seconds: int, attendance_version: int | None) -> bool:
    """Keep the summary on the room, computed from segments read when the room's ``attendance_version``
    was this: False (nothing written) when a join or leave came in since, so the caller reads again
    (last writer wins would let a summary of older segments overwrite a newer one)."""
    bind()
    unchanged = (RoomItem.attendance_version.does_not_exist() if attendance_version is None
                 else RoomItem.attendance_version == attendance_version)
    try:
        RoomItem(*RoomItem.key(room_id)).update(
            actions=[
                RoomItem.participant_count.set(participant_count),
                RoomItem.peak_concurrent.set(peak_concurrent),
                RoomItem.duration_seconds.set(duration_seconds),
            ],
            condition=RoomItem.pk.exists() & unchanged,
        )
    except UpdateError as err:
        if condition_failed(err):
            return False
        raise
    return True


def append_quality_sample(room_id: str, identity: str, sample: dict) -> bool:
    """Append one sample to the member's quality record. False when the record is full."""
    bind()
    item = QualityItem(*QualityItem.key(room_id, identity))
    try:
        item.update(
            actions=[
                QualityItem.kind.set(QualityItem),
                QualityItem.room_id.set(room_id),
                QualityItem.identity.set(identity),
                QualityItem.samples.set((QualityItem.samples | []).append([QualitySampleMap(**sample)])),
            ],
            condition=QualityItem.samples.does_not_exist() | (size(QualityItem.samples) < MAX_QUALITY_SAMPLES),
        )
    except UpdateError as err:
        if condition_failed(err):
            return False
        raise
    return True


# --- admission (waiting room) ---------------------------------------------------------------------------


def admit_member(room_id: str, user_id: str, *, now: str, actor: str, audit: list | None = None) -> Member | None:
    """Remember that the host admitted this member (the first admission's time is kept), so their
    next token and reconnects skip the waiting room. None when not an active member. ``audit``
    entries commit with it (store.audit)."""
    from rooms.store.audit import update_with_entries

    bind()
    member = Member(*Member.key(room_id, user_id))
    actions = [Member.admitted_at.set(Member.admitted_at | now), Member.admitted_by.set(actor)]
    if audit:
        return member if update_with_entries(member, actions=actions, condition=Member.status == MemberStatus.ACTIVE,
                                             entries=audit) else None
    try:
        member.update(actions=actions, condition=Member.status == MemberStatus.ACTIVE)
    except UpdateError as err:
        if condition_failed(err):
            return None
        raise
    return member


def forget_session(room_id: str, user_id: str) -> None:
    """After a host removal: the member's live token is no longer theirs (a rejoin with it is a
    superseded token, removed on its participant_joined: self-hosted LiveKit ignores revoke_token_ts),
    and they wait again (if the room has a waiting room) when they come back with a new one."""
    bind()
    try:
        Member(*Member.key(room_id, user_id)).update(
            actions=[Member.admitted_at.remove(), Member.admitted_by.remove(), Member.token_jti.remove()],
            condition=Member.pk.exists(),
        )
    except UpdateError as err:
        if not condition_failed(err):
            raise


def get_member(room_id: str, user_id: str) -> Member | None:
    bind()
    try:
        return Member.get(*Member.key(room_id, user_id), consistent_read=True)
    except Member.DoesNotExist:
        return None
