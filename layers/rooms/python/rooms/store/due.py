"""The due index (``gsi1``): items that have time-driven work, found by due time, claimed by one sweep.

An item with work due at T carries ``gsi1pk = DUE#{day of T}`` and ``gsi1sk = {T}#{id}`` (``due_keys``);
an item with nothing scheduled carries neither, so the index holds only pending work (sparse) and a
sweep reads the few day buckets it looks at with ``gsi1sk <= now``: the items it reads are the items
due, whatever the table holds. No Scan.

Two sweeps may run at once (a late schedule delivery, a retry) and the index is eventually consistent,
so acting on an item takes a claim: one conditional UpdateItem that succeeds only if the item still has
the due key this sweep read and nobody's lease is running. The claim moves the due key to the lease's
end, so if the claimant dies, the item comes due again then and the next sweep retries it. The
claimant finishes with ``finish_due`` (next due key or none, conditional on still holding the lease).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.condition import Condition

from rooms.clock import iso

# What the due index can hold, so pynamodb knows every kind a due Query returns (the store package loads
# its modules lazily): rooms (open, end, settle), their retention deadlines, and dial-outs still
# without an outcome.
from rooms.store import phone, retention, rooms  # noqa: F401
from rooms.store.conditions import condition_failed
from rooms.store.table import TableItem, bind, due_bucket, due_keys


def due_items(now: datetime, *, lookback_days: int, limit: int) -> Iterator[TableItem]:
    """Items due at or before ``now``, oldest bucket first: one Query per day bucket (today and
    ``lookback_days`` before it), each bounded by ``gsi1sk <= now``."""
    bind()
    upper = iso(now + timedelta(seconds=1))  # "{due_at}#{id}" < upper  ⇔  due_at <= now (whole seconds)
    remaining = limit
    for days_back in range(lookback_days, -1, -1):
        if remaining <= 0:
            return
        for item in TableItem.due_index.query(due_bucket(now - timedelta(days=days_back)),
                                              TableItem.gsi1sk < upper, limit=remaining):
            remaining -= 1
            yield item


@dataclass(frozen=True)
class Claim:
    """A sweep's hold on one item's due work: ``item`` is the item as it is now (read back from the
    claiming write, so consistent), ``lease`` the token that the finishing write must still match."""

    item: Any
    lease: str
    until: datetime


def _due_id(item: TableItem) -> str:
    return (item.gsi1sk or "").partition("#")[2]


def claim_due(item: TableItem, *, now: datetime, lease_seconds: int) -> Claim | None:
    """Claim ``item`` (as read from the index) for this sweep; None when another sweep holds it or has
    already moved it on (the key we read is no longer the item's)."""
    bind()
    cls = type(item)
    lease = uuid.uuid4().hex
    until = now + timedelta(seconds=lease_seconds)
    pk, sk = due_keys(until, _due_id(item))
    target = cls(item.pk, item.sk)
    try:
        target.update(
            actions=[cls.gsi1pk.set(pk), cls.gsi1sk.set(sk), cls.due_lease.set(lease),
                     cls.due_lease_until.set(iso(until))],
            condition=(cls.gsi1sk == item.gsi1sk)
            & (cls.due_lease_until.does_not_exist() | (cls.due_lease_until <= iso(now))),
        )
    except UpdateError as err:
        if condition_failed(err):
            return None
        raise
    return Claim(item=target, lease=lease, until=until)


def finish_due(claim: Claim, *, next_due: datetime | None, actions: list | None = None,
               condition: Condition | None = None) -> bool:
    """Release the claim, moving the item to its next due time (or out of the index) together with
    ``actions``, if this sweep still holds the lease and ``condition`` holds. False otherwise (the lease
    ran out and someone else took over, or the item changed under us: nothing was written)."""
    bind()
    item = claim.item
    cls = type(item)
    writes = [*(actions or []), cls.due_lease.remove(), cls.due_lease_until.remove()]
    if next_due is not None:
        pk, sk = due_keys(next_due, _due_id(item))
        writes += [cls.gsi1pk.set(pk), cls.gsi1sk.set(sk)]
    else:
        writes += [cls.gsi1pk.remove(), cls.gsi1sk.remove()]
    full = cls.due_lease == claim.lease
    if condition is not None:
        full &= condition
    try:
        item.update(actions=writes, condition=full)
    except UpdateError as err:
        if condition_failed(err):
            return False
        raise
    return True


def release_due(claim: Claim) -> bool:
    """Give the claim up without changing the item's due time (it stays due at the lease's end)."""
    bind()
    item = claim.item
    cls = type(item)
    try:
        item.update(actions=[cls.due_lease.remove(), cls.due_lease_until.remove()],
                    condition=cls.due_lease == claim.lease)
    except UpdateError as err:
        if condition_failed(err):
            return False
        raise
    return True
