"""The evidence items: the room's append-only audit trail and its consent ledger.

Both live in the room's partition, keyed by time (``{at}#{write order}#{entry id}``), so "every action
on the room, oldest first" is one Query; neither key holds a person's id (a user erasure pseudonymises
entries in place: the only change an entry ever sees). An entry is put with ``attribute_not_exists``:
entries are never overwritten. ``add`` puts the entry inside the caller's transaction, so the action
and its entry commit together; ``append`` is the best-effort put for actions that have no write of
their own.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from pynamodb.attributes import MapAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from rooms.clock import parse_iso
from rooms.store.conditions import cancelled_by_condition, condition_failed
from rooms.store.rooms import room_pk
from rooms.store.table import TableItem, bind

AUDIT_PREFIX = "AUDIT#"
CONSENT_LOG_PREFIX = "CONSENTLOG#"


class AuditEntry(TableItem, discriminator="audit"):
    """One action on a room: who (``actor``), what (``action``), to whom or what (``target``)."""

    room_id = UnicodeAttribute()
    entry_id = UnicodeAttribute()
    at = UnicodeAttribute()
    actor = UnicodeAttribute()
    action = UnicodeAttribute()
    target = UnicodeAttribute(null=True)
    details = MapAttribute(null=True)

    @staticmethod
    def key(room_id: str, at: str, entry_id: str) -> tuple[str, str]:
        return room_pk(room_id), f"{AUDIT_PREFIX}{at}#{_write_order()}#{entry_id}"


class ConsentLedgerEntry(TableItem, discriminator="consent_ledger"):
    """One consent decision of one person: given or withdrawn, which text version, through which channel."""

    room_id = UnicodeAttribute()
    entry_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    decision = UnicodeAttribute()  # given | withdrawn
    at = UnicodeAttribute()
    text_version = UnicodeAttribute(null=True)
    channel = UnicodeAttribute()
    actor = UnicodeAttribute()
    details = MapAttribute(null=True)

    @staticmethod
    def key(room_id: str, at: str, entry_id: str) -> tuple[str, str]:
        return room_pk(room_id), f"{CONSENT_LOG_PREFIX}{at}#{_write_order()}#{entry_id}"


def _write_order() -> str:
    """Entries of the same second sort in the order they were written (times on the wire are whole
    seconds). Idempotency never rests on the key: webhook entries ride with the event's marker."""
    return f"{time.time_ns():019d}"


def new_entry_id() -> str:
    return uuid.uuid4().hex[:16]


def audit_entry(room_id: str, *, at: str, actor: str, action: str, target: str | None = None,
                details: dict | None = None, entry_id: str | None = None,
                retention_days: int | None = None) -> AuditEntry:
    """An entry, with its TTL ``retention_days`` after ``at`` (none: kept, e.g. under a legal hold)."""
    entry_id = entry_id or new_entry_id()
    item = AuditEntry(*AuditEntry.key(room_id, at, entry_id), room_id=room_id, entry_id=entry_id, at=at,
                      actor=actor, action=action, target=target,
                      details={k: v for k, v in (details or {}).items() if v is not None} or None)
    if retention_days is not None:
        item.ttl = parse_iso(at) + timedelta(days=retention_days)
    return item


def add(tx: TransactWrite, item: AuditEntry | ConsentLedgerEntry) -> None:
    """Put an entry in the caller's transaction (append-only: it must not exist yet)."""
    tx.save(item, condition=TableItem.pk.does_not_exist())


def append(item: AuditEntry | ConsentLedgerEntry) -> bool:
    """Put one entry on its own. False when an entry with its key already exists (a retry)."""
    bind()
    try:
        item.save(condition=TableItem.pk.does_not_exist())
    except PutError as err:
        if condition_failed(err):
            return False
        raise
    return True


def update_with_entries(item: TableItem, *, actions: list, condition: Condition | None,
                        entries: list, also: list[tuple[TableItem, list]] | None = None) -> bool:
    """``item.update(actions, condition)`` and the audit entries in one transaction (with the
    unconditional updates ``also``: (item, actions) pairs); the item is then read back (consistent).
    False when ``condition`` failed (nothing was written)."""
    bind()
    try:
        with TransactWrite(connection=TableItem._get_connection().connection) as tx:
            tx.update(item, actions=actions, condition=condition)
            for other, other_actions in also or ():
                tx.update(other, actions=other_actions)
            for entry in entries:
                add(tx, entry)
    except TransactWriteError as err:
        # (pynamodb sends the puts before the update; the entries' keys are new, so a failed condition
        # is the item's)
        if cancelled_by_condition(err):
            return False
        raise
    item.refresh(consistent_read=True)
    return True


def list_audit(room_id: str) -> list[AuditEntry]:
    """Every audit entry of the room, oldest first (one Query, paged by DynamoDB)."""
    bind()
    return [i for i in TableItem.query(room_pk(room_id), TableItem.sk.startswith(AUDIT_PREFIX), consistent_read=True)
            if isinstance(i, AuditEntry)]


def list_consent_ledger(room_id: str) -> list[ConsentLedgerEntry]:
    bind()
    return [i for i in TableItem.query(room_pk(room_id), TableItem.sk.startswith(CONSENT_LOG_PREFIX),
                                       consistent_read=True) if isinstance(i, ConsentLedgerEntry)]

