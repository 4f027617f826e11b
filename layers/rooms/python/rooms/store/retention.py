"""Retention: one item per ended room holding when each kind of its data falls due for deletion, in the
due index (``gsi1``) at the earliest pending one; and the deletions themselves, room by room (Queries of
the room's partition, never a Scan). A room under legal hold has its retention item out of the index.
"""

from __future__ import annotations

from collections.abc import Iterable

from pynamodb.attributes import MapAttribute, UnicodeAttribute, UnicodeSetAttribute
from pynamodb.exceptions import PutError, UpdateError

from rooms.store.attendance import ATTENDANCE_PREFIX, QualityItem, SegmentItem, TrackItem
from rooms.store.audit import AUDIT_PREFIX, CONSENT_LOG_PREFIX, AuditEntry, ConsentLedgerEntry
from rooms.store.conditions import condition_failed
from rooms.store.rooms import RoomItem, room_pk
from rooms.store.table import TableItem, bind, due_keys


class RetentionItem(TableItem, discriminator="retention"):
    room_id = UnicodeAttribute()
    ended_at = UnicodeAttribute()
    due = MapAttribute()  # category -> ISO time it falls due
    done = UnicodeSetAttribute(null=True)  # categories deleted

    @staticmethod
    def key(room_id: str) -> tuple[str, str]:
        return room_pk(room_id), "RETENTION"

    def pending(self) -> dict[str, str]:
        due = self.due.as_dict() if self.due else {}
        return {c: t for c, t in due.items() if c not in (self.done or set())}


def schedule(room_id: str, *, ended_at: str, due: dict[str, str], held: bool) -> bool:
    """Create the room's retention item (first end wins: a repeat leaves it as it is). Out of the due
    index while held."""
    bind()
    item = RetentionItem(*RetentionItem.key(room_id), room_id=room_id, ended_at=ended_at, due=due)
    if not held:
        item.gsi1pk, item.gsi1sk = due_keys_at(min(due.values()), room_id)
    try:
        item.save(condition=RetentionItem.pk.does_not_exist())
    except PutError as err:
        if condition_failed(err):
            return False
        raise
    return True


def due_keys_at(at: str, room_id: str) -> tuple[str, str]:
    from rooms.clock import parse_iso

    return due_keys(parse_iso(at), f"retention:{room_id}")


def get(room_id: str) -> RetentionItem | None:
    bind()
    try:
        return RetentionItem.get(*RetentionItem.key(room_id), consistent_read=True)
    except RetentionItem.DoesNotExist:
        return None


def requeue(room_id: str, next_due: str | None) -> None:
    """Put the room's retention item back in the due index at ``next_due`` (None: out of it)."""
    bind()
    item = RetentionItem(*RetentionItem.key(room_id))
    if next_due is None:
        actions = [RetentionItem.gsi1pk.remove(), RetentionItem.gsi1sk.remove()]
    else:
        pk, sk = due_keys_at(next_due, room_id)
        actions = [RetentionItem.gsi1pk.set(pk), RetentionItem.gsi1sk.set(sk)]
    try:
        item.update(actions=actions, condition=RetentionItem.pk.exists())
    except UpdateError as err:
        if not condition_failed(err):
            raise


def done_actions(categories: Iterable[str]) -> list:
    return [RetentionItem.done.add(set(categories))]


# --- deletions -----------------------------------------------------------------------------------------


def _delete_all(items: list[TableItem]) -> int:
    with TableItem.batch_write() as batch:
        for item in items:
            batch.delete(item)
    return len(items)


def purge_quality(room_id: str) -> int:
    bind()
    return _delete_all([i for i in TableItem.query(room_pk(room_id), TableItem.sk.startswith(ATTENDANCE_PREFIX))
                        if isinstance(i, QualityItem)])


def purge_attendance(room_id: str) -> int:
    """Segments and tracks, and who attended as the room remembers it (ids in the no-show and verdict)."""
    bind()
    count = _delete_all([i for i in TableItem.query(room_pk(room_id), TableItem.sk.startswith(ATTENDANCE_PREFIX))
                         if isinstance(i, SegmentItem | TrackItem)])
    room = RoomItem(*RoomItem.key(room_id))
    try:
        room.update(actions=[RoomItem.attendee_ids.remove(), RoomItem.no_show.remove(), RoomItem.verdict.remove()],
                    condition=RoomItem.pk.exists())
    except UpdateError as err:
        if not condition_failed(err):
            raise
    return count


def purge_audit(room_id: str) -> int:
    """The audit trail and the consent ledger (DynamoDB TTL takes most audit entries first)."""
    bind()
    items = [i for prefix in (AUDIT_PREFIX, CONSENT_LOG_PREFIX)
             for i in TableItem.query(room_pk(room_id), TableItem.sk.startswith(prefix))]
    return _delete_all(items)


def set_ttls(room_id: str, *, audit_retention_days: int | None) -> int:
    """Strip (None) or restore the TTL of the room's audit entries and consent ledger: a legal hold must
    stop DynamoDB's TTL deletions too. Returns how many entries changed."""
    from datetime import timedelta

    from rooms.clock import parse_iso

    bind()
    changed = 0
    for prefix in (AUDIT_PREFIX, CONSENT_LOG_PREFIX):
        for item in TableItem.query(room_pk(room_id), TableItem.sk.startswith(prefix), consistent_read=True):
            if not isinstance(item, AuditEntry | ConsentLedgerEntry):
                continue
            if audit_retention_days is None:
                if item.ttl is None:
                    continue
                item.update(actions=[TableItem.ttl.remove()])
            else:
                item.update(actions=[TableItem.ttl.set(parse_iso(item.at) + timedelta(days=audit_retention_days))])
            changed += 1
    return changed


def set_legal_hold(room_id: str, hold: dict | None) -> RoomItem | None:
    """Place (a dict: reason, placed_at, placed_by) or release (None) the room's legal hold."""
    bind()
    room = RoomItem(*RoomItem.key(room_id))
    action = RoomItem.legal_hold.set(hold) if hold is not None else RoomItem.legal_hold.remove()
    try:
        room.update(actions=[action], condition=RoomItem.pk.exists())
    except UpdateError as err:
        if condition_failed(err):
            return None
        raise
    return room
