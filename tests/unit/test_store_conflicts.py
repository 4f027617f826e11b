"""Transaction races (TransactionConflict, which moto does not produce) are retried, never a 500."""

from __future__ import annotations

import pytest
from pynamodb.exceptions import CancellationReason, TransactWriteError, VerboseClientError

from rooms.store import rooms as store_rooms


def _error(*codes):
    """The error pynamodb raises for a cancelled TransactWriteItems with these per-item reasons."""
    cause = VerboseClientError(
        {"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"}}, "TransactWriteItems",
        cancellation_reasons=[CancellationReason(code=c) if c else None for c in codes],
    )
    return TransactWriteError("cancelled", cause=cause)


def test_conflicts_are_retried_then_succeed():
    calls = []

    def attempt():
        calls.append(1)
        if len(calls) < 3:
            raise _error("TransactionConflict", None)
        return "ok"

    assert store_rooms._retrying_conflicts(attempt) == "ok" and len(calls) == 3


def test_condition_failures_are_not_retried():
    calls = []

    def attempt():
        calls.append(1)
        raise _error("ConditionalCheckFailed", "TransactionConflict")

    with pytest.raises(TransactWriteError):
        store_rooms._retrying_conflicts(attempt)
    assert len(calls) == 1


def test_persistent_conflict_gives_up():
    def attempt():
        raise _error("TransactionConflict")

    with pytest.raises(TransactWriteError):
        store_rooms._retrying_conflicts(attempt, attempts=2)
