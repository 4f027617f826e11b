"""How DynamoDB says a conditional write did not happen: the one place that reads its error codes.

A single-item write (``update``/``delete``/``save`` with a condition) fails with
``ConditionalCheckFailedException``; a transaction is cancelled with one reason per item, in the order
the items were sent, ``ConditionalCheckFailed`` on those whose condition did not hold and
``TransactionConflict`` when another transaction raced it on the same item.
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError
from pynamodb.exceptions import PynamoDBException, TransactWriteError

CONDITION_FAILED = "ConditionalCheckFailed"
TRANSACTION_CONFLICT = "TransactionConflict"


def condition_failed(err: PynamoDBException) -> bool:
    """A single-item write refused because its condition did not hold (not an outage, not a bug)."""
    return err.cause_response_code == CONDITION_FAILED + "Exception"


def cancellation_codes(err: TransactWriteError) -> list[str | None]:
    """One code per item of the cancelled transaction (None where that item was fine)."""
    return [r.code if r else None for r in (err.cancellation_reasons or [])]


def cancelled_by_condition(err: TransactWriteError, index: int | None = None) -> bool:
    """A condition in the transaction (or of the item at ``index``) did not hold."""
    codes = cancellation_codes(err)
    if index is None:
        return CONDITION_FAILED in codes
    return index < len(codes) and codes[index] == CONDITION_FAILED


def lost_a_race(err: TransactWriteError) -> bool:
    """Cancelled only because another transaction touched the same item at the same time: retry it."""
    codes = set(cancellation_codes(err))
    return TRANSACTION_CONFLICT in codes and CONDITION_FAILED not in codes


# What DynamoDB answers when it cannot serve the request now (throttled, or failing itself); a retry later
# may succeed. Connection failures and timeouts come as botocore errors (no response code at all).
UNAVAILABLE_CODES = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
    "InternalServerError", "ServiceUnavailable", "LimitExceededException",
})


# Every exception a store verb lets out (for the HTTP layer's handler, which asks ``unavailable``).
STORE_ERRORS: tuple[type[BaseException], ...] = (PynamoDBException, BotoCoreError)


def unavailable(err: BaseException) -> bool:
    """DynamoDB could not be reached or could not serve the request (not a refused condition, not a bug)."""
    if isinstance(err, BotoCoreError):
        return True
    if not isinstance(err, PynamoDBException):
        return False
    return isinstance(err.cause, BotoCoreError) or err.cause_response_code in UNAVAILABLE_CODES
