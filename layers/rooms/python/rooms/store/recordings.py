"""Recordings, their egress lookup, the room's recording slot and recording consents.

A recording stores facts, each written by whoever learns it (the host's start, the egress webhooks,
the S3 object-created event, the room-end reconciliation); its processing status is derived from
those facts (``rooms.recordings.processing_status``), so the record ends up the same whatever order
the facts arrive in. Every writer uses update expressions (upserts), never a read-then-put.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DeleteError, TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from rooms.clock import iso
from rooms.store.conditions import (
    CONDITION_FAILED,
    TRANSACTION_CONFLICT,
    cancellation_codes,
    cancelled_by_condition,
    condition_failed,
)
from rooms.store.rooms import Member, RoomItem, room_pk
from rooms.store.table import TableItem, bind

ACTIVE_RECORDING_SK = "ACTIVE_RECORDING"
EGRESS_TOMBSTONE_SECONDS = 30 * 24 * 3600
FINAL_RANK = 4  # complete, failed, aborted, limit_reached (rooms.livekit_gateway.egress.STATUS_RANK)


def recording_sk(recording_id: str) -> str:
    return f"REC#{recording_id}"


def consent_sk(user_id: str) -> str:
    return f"CONSENT#{user_id}"


class RecordingItem(TableItem, discriminator="recording"):
    recording_id = UnicodeAttribute()
    room_id = UnicodeAttribute()
    trigger = UnicodeAttribute(null=True)  # manual | automatic | compliance
    created_at = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)
    # the host's start / stop
    started_by = UnicodeAttribute(null=True)
    start_requested_at = UnicodeAttribute(null=True)
    start_failed_at = UnicodeAttribute(null=True)
    stop_requested_at = UnicodeAttribute(null=True)
    stop_requested_by = UnicodeAttribute(null=True)
    # LiveKit egress (webhooks, StartRoomCompositeEgress's answer, ListEgress at room end)
    egress_id = UnicodeAttribute(null=True)
    # starting | active | ending | complete | failed | aborted | limit_reached
    egress_status = UnicodeAttribute(null=True)
    egress_rank = NumberAttribute(null=True)  # orders egress states: a late event never moves a recording back
    started_at = UnicodeAttribute(null=True)
    ended_at = UnicodeAttribute(null=True)
    duration_seconds = NumberAttribute(null=True)
    location = UnicodeAttribute(null=True)
    error = UnicodeAttribute(null=True)
    upload_missing_at = UnicodeAttribute(null=True)
    # storage: where the egress uploads (bucket + key naming room and recording)
    bucket = UnicodeAttribute(null=True)
    object_key = UnicodeAttribute(null=True)
    endpoint = UnicodeAttribute(null=True)
    # the uploaded object, as the S3 object-created event's processing verified it
    size_bytes = NumberAttribute(null=True)
    content_type = UnicodeAttribute(null=True)
    checksum = UnicodeAttribute(null=True)
    object_verified_at = UnicodeAttribute(null=True)
    object_error = UnicodeAttribute(null=True)
    archive_at = UnicodeAttribute(null=True)
    notified_at = UnicodeAttribute(null=True)

    @classmethod
    def key_of(cls, room_id: str, recording_id: str) -> tuple[str, str]:
        return room_pk(room_id), recording_sk(recording_id)


class EgressLookup(TableItem, discriminator="egress"):
    """egress id → recording; after a delete it stays as a tombstone so late egress events are ignored."""

    egress_id = UnicodeAttribute()
    room_id = UnicodeAttribute()
    recording_id = UnicodeAttribute()
    deleted_at = UnicodeAttribute(null=True)

    @staticmethod
    def key_of(egress_id: str) -> tuple[str, str]:
        return f"EGRESS#{egress_id}", "EGRESS"


class ActiveRecording(TableItem, discriminator="active_recording"):
    """The room's recording slot: claimed (optimistic lock on ``claimed_at``) by a host start, so two
    concurrent starts give one egress. Whether a recording is running is LiveKit's answer (ListEgress);
    the slot only covers a start that has not reached LiveKit yet."""

    room_id = UnicodeAttribute()
    recording_id = UnicodeAttribute()
    claimed_at = UnicodeAttribute()
    claimed_by = UnicodeAttribute(null=True)
    egress_id = UnicodeAttribute(null=True)

    @staticmethod
    def key_of(room_id: str) -> tuple[str, str]:
        return room_pk(room_id), ACTIVE_RECORDING_SK


class RecordingConsent(TableItem, discriminator="recording_consent"):
    room_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    consented_at = UnicodeAttribute()

    @staticmethod
    def key_of(room_id: str, user_id: str) -> tuple[str, str]:
        return room_pk(room_id), consent_sk(user_id)


class SlotTaken(Exception):
    """Another start claimed the room's recording slot meanwhile."""


@dataclass(frozen=True)
class EgressFacts:
    """What one egress state says about its recording (from a webhook or ListEgress). Fields marked
    "kept" never overwrite what the record already has."""

    egress_id: str
    status: str
    trigger: str  # kept
    bucket: str  # kept
    object_key: str  # kept
    endpoint: str | None = None  # kept
    started_at: str | None = None
    ended_at: str | None = None
    duration_seconds: int | None = None
    size_bytes: int | None = None  # kept
    location: str | None = None
    error: str | None = None
    upload_missing_at: str | None = None  # the egress said complete but the file is not there


@dataclass(frozen=True)
class UploadFacts:
    """What S3 says about an uploaded recording file."""

    trigger: str  # kept
    bucket: str
    object_key: str
    size_bytes: int
    content_type: str
    checksum: str | None = None


def _egress_actions(facts: EgressFacts) -> list:
    actions = [
        RecordingItem.egress_id.set(facts.egress_id),
        RecordingItem.egress_status.set(facts.status),
        RecordingItem.trigger.set(RecordingItem.trigger | facts.trigger),
        RecordingItem.bucket.set(RecordingItem.bucket | facts.bucket),
        RecordingItem.object_key.set(RecordingItem.object_key | facts.object_key),
    ]
    if facts.endpoint:
        actions.append(RecordingItem.endpoint.set(RecordingItem.endpoint | facts.endpoint))
    if facts.started_at:
        actions.append(RecordingItem.started_at.set(facts.started_at))
    if facts.ended_at:
        actions.append(RecordingItem.ended_at.set(facts.ended_at))
    if facts.duration_seconds is not None:
        actions.append(RecordingItem.duration_seconds.set(facts.duration_seconds))
    if facts.size_bytes is not None:
        actions.append(RecordingItem.size_bytes.set(RecordingItem.size_bytes | facts.size_bytes))
    if facts.location:
        actions.append(RecordingItem.location.set(facts.location))
    if facts.error:
        actions.append(RecordingItem.error.set(facts.error))
    if facts.upload_missing_at:
        actions.append(RecordingItem.upload_missing_at.set(facts.upload_missing_at))
        actions.append(RecordingItem.error.set(RecordingItem.error | "egress completed but the file is missing"))
    return actions


def _upload_actions(facts: UploadFacts) -> list:
    actions = [
        RecordingItem.trigger.set(RecordingItem.trigger | facts.trigger),
        RecordingItem.bucket.set(facts.bucket),
        RecordingItem.object_key.set(facts.object_key),
        RecordingItem.size_bytes.set(facts.size_bytes),
        RecordingItem.content_type.set(facts.content_type),
    ]
    if facts.checksum:
        actions.append(RecordingItem.checksum.set(facts.checksum))
    return actions


# --- reads -------------------------------------------------------------------------------------------


def get_recording_context(
    room_id: str, user_id: str, recording_id: str | None = None
) -> tuple[RoomItem | None, Member | None, RecordingItem | ActiveRecording | None]:
    """Room, the caller's membership and either one recording (by id) or the room's recording slot,
    in one BatchGetItem round trip."""
    bind()
    keys = [RoomItem.key(room_id), Member.key(room_id, user_id)]
    keys.append(RecordingItem.key_of(room_id, recording_id) if recording_id else ActiveRecording.key_of(room_id))
    room: RoomItem | None = None
    member: Member | None = None
    third: RecordingItem | ActiveRecording | None = None
    for item in TableItem.batch_get(keys):
        if isinstance(item, RoomItem):
            room = item
        elif isinstance(item, Member):
            member = item
        elif isinstance(item, RecordingItem | ActiveRecording):
            third = item
    return room, member, third


def list_recordings(room_id: str) -> list[RecordingItem]:
    bind()
    return list(RecordingItem.query(room_pk(room_id), RecordingItem.sk.startswith("REC#"), consistent_read=True))


def get_egress_lookup(egress_id: str) -> EgressLookup | None:
    bind()
    try:
        return EgressLookup.get(*EgressLookup.key_of(egress_id), consistent_read=True)
    except EgressLookup.DoesNotExist:
        return None


def get_slot(room_id: str) -> ActiveRecording | None:
    """The room's recording slot (a start in flight or done), or None."""
    bind()
    try:
        return ActiveRecording.get(*ActiveRecording.key_of(room_id), consistent_read=True)
    except ActiveRecording.DoesNotExist:
        return None


def consented_user_ids(room_id: str) -> set[str]:
    bind()
    return {c.user_id for c in RecordingConsent.query(room_pk(room_id), RecordingConsent.sk.startswith("CONSENT#"),
                                                         consistent_read=True)}


# --- writes ------------------------------------------------------------------------------------------


def recording_identity_actions(room_id: str, recording_id: str, now: str) -> list:
    """What every upsert of a recording sets, so that whichever writer comes first creates a whole item."""
    return [
        RecordingItem.kind.set(RecordingItem),
        RecordingItem.room_id.set(room_id),
        RecordingItem.recording_id.set(recording_id),
        RecordingItem.created_at.set(RecordingItem.created_at | now),
        RecordingItem.updated_at.set(now),
    ]


def claim_and_create_recording(recording: RecordingItem, slot: ActiveRecording, *,
                               seen_recording_id: str | None, audit: list | None = None) -> None:
    """Write a new recording (host start) and take the room's recording slot, atomically.

    The slot is taken only if it is as we read it (absent, or held by ``seen_recording_id``): two
    concurrent starts, one wins. Raises SlotTaken for the loser.
    """
    bind()
    if seen_recording_id is None:
        condition = ActiveRecording.pk.does_not_exist()
    else:
        condition = ActiveRecording.recording_id == seen_recording_id
    try:
        with TransactWrite(connection=RecordingItem._get_connection().connection) as tx:
            tx.save(recording, condition=RecordingItem.pk.does_not_exist())
            tx.save(slot, condition=condition)
            for entry in audit or ():
                tx.save(entry, condition=TableItem.pk.does_not_exist())
    except TransactWriteError as err:
        # TransactionConflict: another start's transaction on the slot was in flight at the same time.
        if {CONDITION_FAILED, TRANSACTION_CONFLICT} & set(cancellation_codes(err)):
            raise SlotTaken(slot.room_id) from err
        raise


def record_egress_started(room_id: str, recording_id: str, egress_id: str, *, status: str, rank: int,
                          now: str) -> None:
    """After StartRoomCompositeEgress answered: the recording's egress id, its lookup, the slot's egress."""
    bind()
    with TransactWrite(connection=RecordingItem._get_connection().connection) as tx:
        tx.update(
            RecordingItem(*RecordingItem.key_of(room_id, recording_id)),
            actions=[
                *recording_identity_actions(room_id, recording_id, now),
                RecordingItem.egress_id.set(egress_id),
                RecordingItem.egress_status.set(RecordingItem.egress_status | status),
                RecordingItem.egress_rank.set(RecordingItem.egress_rank | rank),
            ],
        )
        tx.save(EgressLookup(*EgressLookup.key_of(egress_id), egress_id=egress_id, room_id=room_id,
                             recording_id=recording_id))
    # The slot learns its egress separately: it may have moved on to a later start meanwhile.
    try:
        ActiveRecording(*ActiveRecording.key_of(room_id)).update(
            actions=[ActiveRecording.egress_id.set(egress_id)],
            condition=ActiveRecording.recording_id == recording_id,
        )
    except UpdateError as err:
        if not condition_failed(err):
            raise


def release_slot(room_id: str, recording_id: str) -> None:
    """Give the room's recording slot back (a start that failed), if this recording still holds it."""
    bind()
    try:
        ActiveRecording(*ActiveRecording.key_of(room_id)).delete(condition=ActiveRecording.recording_id == recording_id)
    except DeleteError as err:
        if not condition_failed(err):
            raise


def _update_recording(room_id: str, recording_id: str, actions: list, *, now: str,
                     condition: Condition | None = None) -> RecordingItem | None:
    """Upsert a recording with ``actions``. Returns the item as stored after the update, or None when
    ``condition`` failed."""
    bind()
    item = RecordingItem(*RecordingItem.key_of(room_id, recording_id))
    try:
        item.update(actions=[*recording_identity_actions(room_id, recording_id, now), *actions], condition=condition)
    except UpdateError as err:
        if condition_failed(err):
            return None
        raise
    return item


def mark_start_failed(room_id: str, recording_id: str, *, error: str, now: str) -> None:
    """The host's start never reached a running egress (LiveKit refused, or was unreachable)."""
    _update_recording(room_id, recording_id, [RecordingItem.start_failed_at.set(now), RecordingItem.error.set(error)],
                      now=now)


def mark_stop_requested(room_id: str, recording_id: str, *, by: str, now: str) -> RecordingItem | None:
    """The host asked LiveKit to stop the egress. Returns the record as stored."""
    return _update_recording(room_id, recording_id, [RecordingItem.stop_requested_at.set(now),
                                                     RecordingItem.stop_requested_by.set(by)], now=now)


def mark_upload_invalid(room_id: str, recording_id: str, upload: UploadFacts, *, error: str, now: str) -> bool:
    """The uploaded file is empty or not an MP4. False when that was already recorded (a redelivery)."""
    return _update_recording(room_id, recording_id, [*_upload_actions(upload), RecordingItem.object_error.set(error)],
                             now=now, condition=RecordingItem.object_error.does_not_exist()) is not None


def mark_recording_uploaded(room_id: str, recording_id: str, upload: UploadFacts, *, verified_at: str,
                            archive_at: str, now: str) -> RecordingItem:
    """The file is verified: the recording is available (its first verification and archive time kept)."""
    rec = _update_recording(
        room_id, recording_id,
        [*_upload_actions(upload), RecordingItem.object_verified_at.set(RecordingItem.object_verified_at | verified_at),
         RecordingItem.archive_at.set(RecordingItem.archive_at | archive_at)],
        now=now,
    )
    assert rec is not None  # no condition
    return rec


def _not_behind(rank: int) -> Condition:
    """A state may repeat (another event saying the same) but never go back; a final state applies once."""
    condition = RecordingItem.egress_rank.does_not_exist() | (RecordingItem.egress_rank < rank)
    if rank < FINAL_RANK:
        condition |= RecordingItem.egress_rank == rank
    return condition


def apply_egress_writes(tx: TransactWrite, *, room_id: str, recording_id: str, facts: EgressFacts, rank: int,
                        now: str) -> None:
    """Add an egress state's writes to ``tx`` (a webhook's transaction): the recording, only if this
    state is not behind the one it has (else the transaction fails → a stale event), and the egress
    lookup, only if the recording was not deleted."""
    tx.update(
        RecordingItem(*RecordingItem.key_of(room_id, recording_id)),
        actions=[*recording_identity_actions(room_id, recording_id, now), *_egress_actions(facts),
                 RecordingItem.egress_rank.set(rank)],
        condition=_not_behind(rank),
    )
    tx.update(
        EgressLookup(*EgressLookup.key_of(facts.egress_id)),
        actions=[
            EgressLookup.kind.set(EgressLookup),
            EgressLookup.egress_id.set(facts.egress_id),
            EgressLookup.room_id.set(room_id),
            EgressLookup.recording_id.set(recording_id),
        ],
        condition=EgressLookup.deleted_at.does_not_exist(),
    )


def apply_egress_state(*, room_id: str, recording_id: str, facts: EgressFacts, rank: int, now: str) -> bool:
    """The same writes outside any webhook (room-end reconciliation). False when nothing changed."""
    bind()
    try:
        with TransactWrite(connection=RecordingItem._get_connection().connection) as tx:
            apply_egress_writes(tx, room_id=room_id, recording_id=recording_id, facts=facts, rank=rank, now=now)
    except TransactWriteError as err:
        if cancelled_by_condition(err):
            return False
        raise
    return True


def mark_upload_missing(room_id: str, recording_id: str, egress_id: str, now: str) -> bool:
    """A completed egress left no file: noted on its recording once (False: already noted, or the record
    is gone or belongs to another egress)."""
    bind()
    try:
        RecordingItem(*RecordingItem.key_of(room_id, recording_id)).update(
            actions=[RecordingItem.upload_missing_at.set(now)],
            condition=RecordingItem.pk.exists() & (RecordingItem.egress_id == egress_id)
            & RecordingItem.upload_missing_at.does_not_exist(),
        )
    except UpdateError as err:
        if condition_failed(err):
            return False
        raise
    return True


def mark_notified(room_id: str, recording_id: str, now: str) -> bool:
    """Note that the "recording available" event went out. False if someone else noted it first."""
    bind()
    try:
        RecordingItem(*RecordingItem.key_of(room_id, recording_id)).update(
            actions=[RecordingItem.notified_at.set(now)],
            condition=RecordingItem.pk.exists() & RecordingItem.notified_at.does_not_exist(),
        )
    except UpdateError as err:
        if condition_failed(err):
            return False
        raise
    return True


def delete_recording(recording: RecordingItem, *, now: datetime, audit: list | None = None) -> None:
    """Delete the record; its egress id stays as a tombstone (TTL) so late egress webhooks are ignored."""
    bind()
    with TransactWrite(connection=RecordingItem._get_connection().connection) as tx:
        tx.delete(recording)
        for entry in audit or ():
            tx.save(entry, condition=TableItem.pk.does_not_exist())
        if recording.egress_id:
            tombstone = EgressLookup(
                *EgressLookup.key_of(recording.egress_id), egress_id=recording.egress_id,
                room_id=recording.room_id, recording_id=recording.recording_id,
                deleted_at=iso(now),
            )
            tombstone.ttl = datetime.fromtimestamp(now.timestamp() + EGRESS_TOMBSTONE_SECONDS, now.tzinfo)
            tx.save(tombstone)


def put_consent(room_id: str, user_id: str, now: str, *, evidence: list | None = None) -> RecordingConsent:
    """The member's consent (what a recording start checks), with its ledger and audit entries
    (``evidence``: store.audit items, append-only) in the same transaction."""
    bind()
    item = RecordingConsent(*RecordingConsent.key_of(room_id, user_id), room_id=room_id, user_id=user_id,
                            consented_at=now)
    with TransactWrite(connection=RecordingConsent._get_connection().connection) as tx:
        tx.save(item)
        for entry in evidence or ():
            tx.save(entry, condition=TableItem.pk.does_not_exist())
    return item


def delete_consent(room_id: str, user_id: str, *, evidence: list | None = None) -> None:
    bind()
    with TransactWrite(connection=RecordingConsent._get_connection().connection) as tx:
        tx.delete(RecordingConsent(*RecordingConsent.key_of(room_id, user_id)))
        for entry in evidence or ():
            tx.save(entry, condition=TableItem.pk.does_not_exist())
