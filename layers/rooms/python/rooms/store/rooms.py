"""Rooms, members, join-token records and template overrides."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TypeVar

from pynamodb.attributes import (
    BooleanAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.exceptions import DeleteError, TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from rooms.room.status import LIVE_STATUSES, MemberStatus, RoomStatus
from rooms.store.conditions import cancelled_by_condition, condition_failed, lost_a_race
from rooms.store.table import TableItem, bind, due_keys

T = TypeVar("T")


def room_pk(room_id: str) -> str:
    return f"ROOM#{room_id}"


def member_sk(user_id: str) -> str:
    return f"MEMBER#{user_id}"


class RoomItem(TableItem, discriminator="room"):
    room_id = UnicodeAttribute()
    booking_id = UnicodeAttribute(null=True)
    service_session_id = UnicodeAttribute(null=True)
    service_type = UnicodeAttribute(null=True)
    room_type = UnicodeAttribute()
    template = UnicodeAttribute()
    title = UnicodeAttribute(null=True)
    status = UnicodeAttribute()
    max_participants = NumberAttribute()
    recording = UnicodeAttribute()
    recording_consent_required = BooleanAttribute(default=False)
    # compliance rooms: publishers are admitted only while LiveKit has the room's egress running
    recording_mandatory = BooleanAttribute(default=False)
    clients_can_access_recordings = BooleanAttribute(default=False)
    recording_downloads_enabled = BooleanAttribute(default=True)
    recording_access_until = UnicodeAttribute(null=True)  # members' access to recordings ends (courses)
    waiting_room = BooleanAttribute(default=False)
    attendee_role = UnicodeAttribute(default="participant")
    empty_timeout_seconds = NumberAttribute()
    scheduled_start = UnicodeAttribute(null=True)
    scheduled_end = UnicodeAttribute(null=True)
    host_user_id = UnicodeAttribute(null=True)
    metadata = MapAttribute(null=True)
    sip = MapAttribute(null=True)
    livekit_room = UnicodeAttribute()
    livekit_sid = UnicodeAttribute(null=True)
    livekit_created_at = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    created_by = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)
    opened_at = UnicodeAttribute(null=True)
    started_at = UnicodeAttribute(null=True)
    ended_at = UnicodeAttribute(null=True)
    ended_by = UnicodeAttribute(null=True)
    end_reason = UnicodeAttribute(null=True)
    # Identities (user ids) that ever connected: maintained by the participant_joined handler in the
    # same transaction as the attendance write; the sweeper reads it to find no-shows.
    attendee_ids = UnicodeSetAttribute(null=True)
    # Written once by the sweeper after the session (see rooms.sweeper): when it looked, and who did
    # not show ({"kind", "host_absent", "absent", "attendees"}), absent when everyone expected came.
    settled_at = UnicodeAttribute(null=True)
    no_show = MapAttribute(null=True)
    # Reconnects in the current burst (each within RECONNECT_BURST_GAP of the previous one) and when the
    # last one happened (unix s): written with the join, read from the room the webhook already loaded.
    reconnect_burst = NumberAttribute(null=True)
    last_reconnect_at = NumberAttribute(null=True)
    # How many people LiveKit has connected, as a hint only (rooms.room.join's room_full check): +1 / -1
    # in the same transaction as each participant_joined / participant_left's segment write (exactly once
    # by the event marker, in any order), 0 when the LiveKit room finishes, set to LiveKit's count by a
    # reconcile. It may drift (a lost webhook); it is never the reason anyone is refused.
    connected_hint = NumberAttribute(null=True)
    # +1 on every participant join and leave, in their own transactions: the attendance summary kept on
    # the room is saved only if none came in since its segments were read (store.attendance)
    attendance_version = NumberAttribute(null=True)
    # Attendance summary, written when the room ends (rooms.attendance; the attendance view recomputes it).
    participant_count = NumberAttribute(null=True)
    peak_concurrent = NumberAttribute(null=True)
    duration_seconds = NumberAttribute(null=True)
    # Booking lifecycle (rooms.store.booking): the version ({time}#{event id}) of the last change of the
    # schedule, so an older reschedule that arrives late changes nothing.
    schedule_version = UnicodeAttribute(null=True)
    # --- evidence: the template's evidence policy at creation (rooms.attendance.view.EvidencePolicy),
    # the verdict the sweeper settled, and a legal hold that blocks every deletion.
    evidence_policy = MapAttribute(null=True)
    verdict = MapAttribute(null=True)
    legal_hold = MapAttribute(null=True)
    # LiveKit work an ending or a revocation still owes (rooms.lifecycle.ending.converge_room): written in
    # the same write as the state change, with a due key, and cleared once LiveKit has done it, so a
    # LiveKit outage (or a Lambda that dies) between the two is finished by the sweeper.
    # "end": delete the LiveKit room and release the room's resources; "participant:{user_id}": remove
    # a revoked member from the LiveKit room.
    cleanup_pending = UnicodeSetAttribute(null=True)

    @classmethod
    def key(cls, room_id: str) -> tuple[str, str]:
        return room_pk(room_id), "ROOM"


class Member(TableItem, discriminator="member"):
    room_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    role = UnicodeAttribute()
    name = UnicodeAttribute(null=True)
    status = UnicodeAttribute(default=MemberStatus.ACTIVE)  # MemberStatus
    granted_at = UnicodeAttribute()
    granted_by = UnicodeAttribute(null=True)
    revoked_at = UnicodeAttribute(null=True)
    revoked_by = UnicodeAttribute(null=True)
    admitted_at = UnicodeAttribute(null=True)
    admitted_by = UnicodeAttribute(null=True)
    grants = NumberAttribute(default=1)  # how many times granted: 1 after the first grant
    # The one live join token of this member (a new one supersedes it).
    token_jti = UnicodeAttribute(null=True)
    token_sk = UnicodeAttribute(null=True)
    token_issued_at = UnicodeAttribute(null=True)
    token_expires_at = UnicodeAttribute(null=True)
    # The version of the last booking-platform event that granted or revoked it (rooms.store.booking).
    event_version = UnicodeAttribute(null=True)

    @classmethod
    def key(cls, room_id: str, user_id: str) -> tuple[str, str]:
        return room_pk(room_id), member_sk(user_id)


class JoinTokenRecord(TableItem, discriminator="token"):
    room_id = UnicodeAttribute()
    jti = UnicodeAttribute()
    identity = UnicodeAttribute()
    role = UnicodeAttribute()
    waiting = BooleanAttribute(default=False)
    issued_at = UnicodeAttribute()
    expires_at = UnicodeAttribute()
    superseded_at = UnicodeAttribute(null=True)
    superseded_by = UnicodeAttribute(null=True)
    revoked_at = UnicodeAttribute(null=True)

    @staticmethod
    def sort_key(user_id: str, issued_at: str, jti: str) -> str:
        return f"TOKEN#{user_id}#{issued_at}#{jti}"


class TemplateOverride(TableItem, discriminator="template"):
    name = UnicodeAttribute()
    body = MapAttribute()
    updated_at = UnicodeAttribute()
    updated_by = UnicodeAttribute(null=True)


class PinTaken(Exception):
    """The dial-in PIN picked for a new room is held by another live room on the same number."""


def _retrying_conflicts(attempt: Callable[[], T], attempts: int = 4) -> T:
    """Run a transaction, retrying (with jitter) only when it lost a race; any other outcome is final."""
    for n in range(attempts):
        try:
            return attempt()
        except TransactWriteError as err:
            if not lost_a_race(err) or n == attempts - 1:
                raise
            time.sleep(random.uniform(0.01, 0.05) * (n + 1))  # noqa: S311 - jitter, not crypto
    raise AssertionError("unreachable")


# --- rooms -------------------------------------------------------------------------------------------


def get_room(room_id: str, *, consistent: bool = False) -> RoomItem | None:
    bind()
    try:
        return RoomItem.get(*RoomItem.key(room_id), consistent_read=consistent)
    except RoomItem.DoesNotExist:
        return None


def create_room_with_members(
    room: RoomItem, members: Iterable[Member], *, pin_lock: TableItem | None = None
) -> tuple[RoomItem, bool]:
    """Write a new room and its first members atomically.

    Returns ``(room, True)`` when created, or ``(existing_room, False)`` when a room with this id
    (i.e. for this booking or session occurrence) already exists: the conditional put is what makes
    two concurrent creates give one room. ``pin_lock`` (a dial-in PIN lock) rides in the same
    transaction with ``attribute_not_exists``: a repeat create writes nothing, so it never takes a
    second PIN. Raises ``PinTaken`` when only the PIN was already held by another room.
    """
    bind()
    members = list(members)

    def attempt() -> None:
        with TransactWrite(connection=RoomItem._get_connection().connection) as tx:
            tx.save(room, condition=RoomItem.pk.does_not_exist(), return_values="ALL_OLD")
            if pin_lock is not None:
                tx.save(pin_lock, condition=TableItem.pk.does_not_exist())
            for member in members:
                tx.save(member)

    try:
        _retrying_conflicts(attempt)
    except TransactWriteError as err:
        if not cancelled_by_condition(err, 0):
            if pin_lock is not None and cancelled_by_condition(err, 1):
                raise PinTaken(pin_lock.sk) from err
            raise
        reasons = err.cancellation_reasons or []
        raw = reasons[0].raw_item if reasons and reasons[0] else None
        existing = RoomItem.from_raw_data(raw) if raw else get_room(room.room_id, consistent=True)
        assert existing is not None  # the condition failed because it exists
        return existing, False
    return room, True


def end_room(room_id: str, *, now: str, actor: str | None, reason: str, status: str = RoomStatus.ENDED,
             due_actions: list | None = None, audit: list | None = None) -> tuple[RoomItem | None, bool]:
    """Move a live room to ``ended`` (or ``expired``). Returns (room, changed); changed is False if it
    had already ended. ``due_actions`` set its due keys (e.g. to settle it); by default they are removed.
    ``audit`` entries commit with it (store.audit).
    """
    from rooms.store.audit import update_with_entries

    bind()
    room = RoomItem(*RoomItem.key(room_id))
    if due_actions is None:
        due_actions = [RoomItem.gsi1pk.remove(), RoomItem.gsi1sk.remove()]
    actions = [
        RoomItem.status.set(status),
        RoomItem.ended_at.set(now),
        RoomItem.ended_by.set(actor),
        RoomItem.end_reason.set(reason),
        RoomItem.updated_at.set(now),
        *due_actions,
        *cleanup_owed(CLEANUP_END),
    ]
    condition = RoomItem.status.is_in(*LIVE_STATUSES)
    if audit:
        if update_with_entries(room, actions=actions, condition=condition, entries=audit):
            return room, True
        return get_room(room_id, consistent=True), False
    try:
        room.update(actions=actions, condition=condition)
        return room, True
    except UpdateError as err:
        if not condition_failed(err):
            raise
        return get_room(room_id, consistent=True), False


# --- cleanup LiveKit still owes (RoomItem.cleanup_pending) ---------------------------------------------

CLEANUP_END = "end"
_PARTICIPANT_PREFIX = "participant:"


def participant_cleanup(user_id: str) -> str:
    return f"{_PARTICIPANT_PREFIX}{user_id}"


def cleanup_participant(element: str) -> str | None:
    """The user id of a ``participant:`` element (None for other elements)."""
    return element[len(_PARTICIPANT_PREFIX):] if element.startswith(_PARTICIPANT_PREFIX) else None


def cleanup_owed(element: str) -> list:
    """The writes that record ``element`` as owed (to ride in the state change's own write)."""
    return [RoomItem.cleanup_pending.add({element})]


def cleanup_done(room_id: str, element: str, *, leave_due_index: bool = False) -> None:
    """``element`` is done: take it off the room. ``leave_due_index``: the room had no other due work
    (an unscheduled room's ending), so its due key goes too, unless a sweep holds it (its own finish
    decides then)."""
    bind()
    item = RoomItem(*RoomItem.key(room_id))
    done = [RoomItem.cleanup_pending.delete({element})]
    if leave_due_index:
        try:
            item.update(actions=[*done, *out_of_due_index()],
                        condition=RoomItem.due_lease.does_not_exist() & (RoomItem.cleanup_pending == {element}))
            return
        except UpdateError as err:
            if not condition_failed(err):
                raise
    item.update(actions=done)


# --- room writes the domain composes into its own transactions ------------------------------------------
# (opening a room rides in the token's transaction or the sweeper's claim; a webhook's in its marker's)

# The condition of any write that must not revive a room that ended meanwhile.
STILL_LIVE = RoomItem.status.is_in(*LIVE_STATUSES)
NOT_SETTLED = RoomItem.settled_at.does_not_exist()


def livekit_room_opened(*, sid: str | None, at: str, status: str | None = None) -> list:
    """The room's LiveKit room exists (we created it, or LiveKit said room_started): its SID, the first
    time it was created and opened (kept), and the room's new ``status`` when it changes."""
    updates = []
    if sid:
        updates.append(RoomItem.livekit_sid.set(sid))
    updates += [
        RoomItem.livekit_created_at.set(RoomItem.livekit_created_at | at),
        RoomItem.opened_at.set(RoomItem.opened_at | at),
        RoomItem.updated_at.set(at),
    ]
    if status:
        updates.append(RoomItem.status.set(status))
    return updates


def livekit_room_gone(*, at: str, status: str | None = None) -> list:
    """The LiveKit room finished but ours lives on: the next join token creates the LiveKit room again."""
    updates = [RoomItem.livekit_created_at.remove(), RoomItem.livekit_sid.remove(), RoomItem.updated_at.set(at),
               RoomItem.connected_hint.set(0)]
    if status:
        updates.append(RoomItem.status.set(status))
    return updates


def ended(*, at: str, reason: str, status: str = RoomStatus.ENDED) -> list:
    """The room is over (its first end time and reason kept)."""
    return [
        RoomItem.status.set(status),
        RoomItem.ended_at.set(RoomItem.ended_at | at),
        RoomItem.end_reason.set(RoomItem.end_reason | reason),
        RoomItem.updated_at.set(at),
    ]


def settled(*, at: str, no_show: dict | None, verdict: dict | None = None) -> list:
    """The room's session is settled (once, ``NOT_SETTLED``): its verdict (rooms.attendance.verdict) and
    its no-show if there was one."""
    updates = [RoomItem.settled_at.set(at)]
    if verdict is not None:
        updates.append(RoomItem.verdict.set(verdict))
    if no_show is not None:
        updates.append(RoomItem.no_show.set(no_show))
    return updates


def due_at(when: datetime, room_id: str) -> list:
    """The room comes due for the sweeper at ``when``."""
    pk, sk = due_keys(when, room_id)
    return [RoomItem.gsi1pk.set(pk), RoomItem.gsi1sk.set(sk)]


def out_of_due_index() -> list:
    return [RoomItem.gsi1pk.remove(), RoomItem.gsi1sk.remove()]


def write_room(tx: TransactWrite, room: RoomItem, updates: list, *, only_if_live: bool = False) -> None:
    """Add ``updates`` of ``room`` to ``tx`` (a webhook's transaction), if asked only while it is live."""
    tx.update(room, actions=updates, condition=STILL_LIVE if only_if_live else None)


# --- members ---------------------------------------------------------------------------------------------


def get_room_and_member(room_id: str, user_id: str, *, consistent: bool = False
                        ) -> tuple[RoomItem | None, Member | None]:
    """The room and one member in a single BatchGetItem round trip (``consistent``: after a lost race)."""
    bind()
    room: RoomItem | None = None
    member: Member | None = None
    for item in TableItem.batch_get([RoomItem.key(room_id), Member.key(room_id, user_id)],
                                    consistent_read=consistent):
        if isinstance(item, RoomItem):
            room = item
        elif isinstance(item, Member):
            member = item
    return room, member


def list_members(room_id: str) -> list[Member]:
    bind()
    return list(
        Member.query(room_pk(room_id), Member.sk.startswith("MEMBER#"), consistent_read=True)
    )


def user_link(user_id: str, room_id: str, *, now: str) -> TableItem:
    from rooms.store.users import link

    return link(user_id, room_id, now=now)


def put_member(
    room_id: str, user_id: str, *, role: str, name: str | None, now: str, actor: str | None,
    audit: list | None = None,
) -> tuple[Member, bool]:
    """Grant (or re-grant) membership on a live room, atomically with a check of the room's status.

    Returns (member, created). Raises LookupError("room") when the room is missing or not live; the
    caller reads the room to tell which.
    """
    bind()
    member = Member(*Member.key(room_id, user_id))
    actions = [
        Member.room_id.set(room_id),
        Member.user_id.set(user_id),
        Member.role.set(role),
        Member.status.set(MemberStatus.ACTIVE),
        Member.granted_at.set(Member.granted_at | now),
        Member.granted_by.set(actor),
        Member.revoked_at.remove(),
        Member.revoked_by.remove(),
        Member.kind.set(Member),
        Member.grants.add(1),
    ]
    if name is not None:
        actions.append(Member.name.set(name))
    def attempt() -> None:
        with TransactWrite(connection=Member._get_connection().connection) as tx:
            tx.condition_check(
                RoomItem, *RoomItem.key(room_id), condition=RoomItem.status.is_in(*LIVE_STATUSES)
            )
            tx.update(member, actions=actions)
            tx.save(user_link(user_id, room_id, now=now))  # the user index (store.users)
            for entry in audit or ():
                tx.save(entry, condition=TableItem.pk.does_not_exist())

    try:
        _retrying_conflicts(attempt)
    except TransactWriteError as err:
        if cancelled_by_condition(err, 0):
            raise LookupError("room") from err
        raise
    stored = Member.get(*Member.key(room_id, user_id), consistent_read=True)
    return stored, stored.grants == 1


def revoke_member(room_id: str, user_id: str, *, now: str, actor: str | None,
                  audit: list | None = None, room_updates: list | None = None) -> Member | None:
    """Revoke a membership and the member's live token. Returns the member as it was, or None.
    ``audit`` entries and ``room_updates`` (e.g. the LiveKit removal owed, ``cleanup_owed``) commit with
    the revocation (store.audit)."""
    from rooms.store.audit import update_with_entries

    bind()
    member = Member(*Member.key(room_id, user_id))
    actions = [
        Member.status.set(MemberStatus.REVOKED),
        Member.revoked_at.set(now),
        Member.revoked_by.set(actor),
        Member.admitted_at.remove(),
    ]
    if audit or room_updates:
        also = [(RoomItem(*RoomItem.key(room_id)), room_updates)] if room_updates else None
        if not update_with_entries(member, actions=actions, condition=Member.pk.exists(), entries=audit or [],
                                   also=also):
            return None
    else:
        try:
            member.update(actions=actions, condition=Member.pk.exists())
        except UpdateError as err:
            if condition_failed(err):
                return None
            raise
    if member.token_sk:
        record = JoinTokenRecord(room_pk(room_id), member.token_sk)
        try:
            record.update(
                actions=[JoinTokenRecord.revoked_at.set(now)],
                condition=JoinTokenRecord.pk.exists() & JoinTokenRecord.revoked_at.does_not_exist(),
            )
        except UpdateError as err:
            if not condition_failed(err):
                raise
    return member


# --- join tokens ---------------------------------------------------------------------------------------


def record_issued_token(
    *,
    room: RoomItem,
    member: Member,
    record: JoinTokenRecord,
    room_updates: list | None = None,
    room_condition: Condition | None = None,
    audit: list | None = None,
) -> bool:
    """Make ``record`` the member's one live token, in one transaction.

    The member update is conditioned on the membership still being active (a concurrent revoke wins)
    and on the live token being the one we read (two concurrent issues: one wins, the other retries).
    The previous token record is marked superseded. ``room_updates`` ride along (e.g. the LiveKit room
    just created). Returns False when the member's token changed under us.
    Raises PermissionError when the membership was revoked meanwhile.
    """
    bind()
    previous_sk = member.token_sk
    member_condition = Member.status == MemberStatus.ACTIVE
    if previous_sk:
        member_condition &= Member.token_sk == previous_sk
    else:
        member_condition &= Member.token_sk.does_not_exist()
    try:
        with TransactWrite(connection=Member._get_connection().connection) as tx:
            tx.save(record, condition=JoinTokenRecord.pk.does_not_exist())
            if previous_sk:
                tx.update(
                    JoinTokenRecord(member.pk, previous_sk),
                    actions=[
                        JoinTokenRecord.superseded_at.set(record.issued_at),
                        JoinTokenRecord.superseded_by.set(record.jti),
                    ],
                    condition=JoinTokenRecord.pk.exists(),
                )
            tx.update(
                member,
                actions=[
                    Member.token_jti.set(record.jti),
                    Member.token_sk.set(record.sk),
                    Member.token_issued_at.set(record.issued_at),
                    Member.token_expires_at.set(record.expires_at),
                ],
                condition=member_condition,
            )
            if room_updates:
                tx.update(room, actions=room_updates, condition=room_condition)
            for entry in audit or ():
                tx.save(entry, condition=TableItem.pk.does_not_exist())
    except TransactWriteError as err:
        if lost_a_race(err):
            return False  # raced another issue for this member: the caller re-reads and retries
        if not cancelled_by_condition(err):
            raise
        fresh = Member.get(member.pk, member.sk, consistent_read=True)
        if fresh.status != MemberStatus.ACTIVE:
            raise PermissionError("membership revoked") from err
        return False
    return True


# --- templates -----------------------------------------------------------------------------------------


def get_template_override(name: str) -> TemplateOverride | None:
    bind()
    try:
        return TemplateOverride.get("TEMPLATE", name)
    except TemplateOverride.DoesNotExist:
        return None


def list_template_overrides() -> list[TemplateOverride]:
    bind()
    return list(TemplateOverride.query("TEMPLATE"))


def put_template_override(name: str, body: dict, *, now: str, actor: str | None) -> TemplateOverride:
    bind()
    item = TemplateOverride("TEMPLATE", name, name=name, body=body, updated_at=now, updated_by=actor)
    item.save()
    return item


def delete_template_override(name: str) -> bool:
    """Delete a template override; False when there was none."""
    bind()
    try:
        TemplateOverride("TEMPLATE", name).delete(condition=TemplateOverride.pk.exists())
    except DeleteError as err:
        if condition_failed(err):
            return False
        raise
    return True
