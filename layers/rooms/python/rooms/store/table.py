"""The table's base model, its index and its binding to the configured table name."""

from __future__ import annotations

from datetime import UTC, datetime

from pynamodb.attributes import DiscriminatorAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from rooms.settings import get_settings


class DueIndex(GlobalSecondaryIndex["TableItem"]):
    """Sparse, time-keyed index: only items with pending time-driven work carry gsi1pk/gsi1sk."""

    class Meta:
        index_name = "gsi1"
        projection = AllProjection()
        billing_mode = "PAY_PER_REQUEST"

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class TableItem(Model):
    class Meta:
        # Rebound from Settings by bind() before first use; no environment is read at import time.
        table_name = "rooms"
        billing_mode = "PAY_PER_REQUEST"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = DiscriminatorAttribute()
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    # A sweep that claimed this item's due work holds it until due_lease_until (see store.due).
    due_lease = UnicodeAttribute(null=True)
    due_lease_until = UnicodeAttribute(null=True)
    ttl = TTLAttribute(null=True)

    due_index = DueIndex()


_bound_to: str | None = None


def bind(table_name: str | None = None) -> None:
    """Point the models at the configured table (idempotent; cheap enough to call per operation)."""
    global _bound_to
    name = table_name or get_settings().table_name
    if name != _bound_to:
        TableItem.Meta.table_name = name
        TableItem._connection = None  # pynamodb caches the connection with the table name
        for sub in _subclasses(TableItem):
            sub._connection = None
        _bound_to = name


def _subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_subclasses(sub))
    return out


def create_table(table_name: str | None = None) -> None:
    """Create the table with its GSI and TTL (local stack and tests; infra/ creates it in AWS)."""
    bind(table_name)
    if not TableItem.exists():
        TableItem.create_table(wait=True, billing_mode="PAY_PER_REQUEST")
    TableItem.update_ttl(ignore_update_ttl_errors=True)


def due_keys(due_at: datetime, item_id: str) -> tuple[str, str]:
    """gsi1 keys of an item with time-driven work due at ``due_at``: one partition per UTC day, sorted
    by due time, so "what is due by now" is a key-condition Query on a few day buckets."""
    due_at = due_at.astimezone(UTC)
    return due_bucket(due_at), f"{due_at:%Y-%m-%dT%H:%M:%SZ}#{item_id}"


def due_bucket(day: datetime) -> str:
    return f"DUE#{day.astimezone(UTC):%Y-%m-%d}"
