"""Webhook delivery bookkeeping: one marker per LiveKit event id, written in the same transaction as
the event's effects, so a redelivered event (same ``id``) changes nothing and a failed one is retried.

The marker is also the event's outbox: ``follow_up`` holds the slow work (LiveKit, S3, EventBridge
calls) the event left for the webhook worker, written in the same transaction as the effects, and
``follow_up_done`` is set when the worker finished it. A redelivery of an event whose follow-up is not
done queues it again (``DuplicateEvent.pending_follow_up``), so work is never lost between the
transaction and the queue."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from pynamodb.attributes import UnicodeAttribute
from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from rooms.store.conditions import CONDITION_FAILED, cancellation_codes, cancelled_by_condition, condition_failed
from rooms.store.table import TableItem, bind

EVENT_RETENTION_SECONDS = 7 * 24 * 3600


class WebhookEventItem(TableItem, discriminator="webhook_event"):
    event_id = UnicodeAttribute()
    event = UnicodeAttribute()
    room_name = UnicodeAttribute(null=True)
    received_at = UnicodeAttribute()
    follow_up = UnicodeAttribute(null=True)  # JSON list of work items (rooms.webhooks), for the worker
    follow_up_done = UnicodeAttribute(null=True)  # when the worker finished them

    @staticmethod
    def key(event_id: str) -> tuple[str, str]:
        return f"EVENT#{event_id}", "EVENT"


class DuplicateEvent(Exception):
    """This event id was already applied. ``pending_follow_up``: its follow-up (JSON) when the worker has
    not finished it yet, else None."""

    def __init__(self, event_id: str, pending_follow_up: str | None = None) -> None:
        super().__init__(event_id)
        self.pending_follow_up = pending_follow_up


class StaleEvent(Exception):
    """A condition of the event's own writes failed (e.g. a late room_started for an ended room):
    the state already moved past this event, so it has nothing to change. ``failed_keys`` holds the
    (pk, sk) of the writes whose condition failed, for handlers that react to a particular one."""

    def __init__(self, event_id: str, failed_keys: frozenset[tuple[str, str]] = frozenset()) -> None:
        super().__init__(event_id)
        self.failed_keys = failed_keys


def _marker(event_id: str) -> WebhookEventItem | None:
    bind()
    try:
        return WebhookEventItem.get(*WebhookEventItem.key(event_id), consistent_read=True)
    except WebhookEventItem.DoesNotExist:
        return None


def follow_up_done(event_id: str, *, at: str) -> None:
    """The worker finished the event's follow-up: a redelivery of the event no longer queues it."""
    bind()
    try:
        WebhookEventItem(*WebhookEventItem.key(event_id)).update(
            actions=[WebhookEventItem.follow_up_done.set(at)], condition=WebhookEventItem.pk.exists())
    except UpdateError as err:
        if not condition_failed(err):  # the marker expired meanwhile: nothing to note
            raise


@contextmanager
def applying_event(event_id: str, *, event: str, room_name: str | None, received_at: str,
                   expires_at: datetime, follow_up: str | None = None) -> Iterator[TransactWrite]:
    """A transaction that applies an event's effects exactly once.

    Yields a pynamodb ``TransactWrite`` to which the caller adds its writes; the event marker is added
    with ``attribute_not_exists``. Raises DuplicateEvent when the marker already existed (nothing else
    was written), StaleEvent when one of the caller's own conditions failed.
    """
    bind()
    marker = WebhookEventItem(
        *WebhookEventItem.key(event_id), event_id=event_id, event=event, room_name=room_name,
        received_at=received_at, follow_up=follow_up,
    )
    marker.ttl = expires_at
    try:
        with TransactWrite(connection=WebhookEventItem._get_connection().connection) as tx:
            tx.save(marker, condition=WebhookEventItem.pk.does_not_exist())
            yield tx
    except TransactWriteError as err:
        if not cancelled_by_condition(err):
            raise
        seen = _marker(event_id)
        if seen is not None:
            pending = seen.follow_up if seen.follow_up and not seen.follow_up_done else None
            raise DuplicateEvent(event_id, pending) from err
        failed = frozenset(key for key, code in zip(_keys_in_commit_order(tx), cancellation_codes(err), strict=False)
                           if code == CONDITION_FAILED)
        raise StaleEvent(event_id, failed) from err


def _keys_in_commit_order(tx: TransactWrite) -> list[tuple[str, str]]:
    """(pk, sk) of each write, in the order pynamodb sends them (checks, deletes, puts, updates), which
    is the order of DynamoDB's cancellation reasons."""
    keys = []
    for items in (tx._condition_check_items, tx._delete_items, tx._put_items, tx._update_items):
        for op in items:
            key = op.get("Key") or op.get("Item") or {}
            keys.append((key.get("pk", {}).get("S", ""), key.get("sk", {}).get("S", "")))
    return keys
