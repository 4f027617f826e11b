"""Two fixes to moto's DynamoDB for the local stack, where many threads share one moto server.

1. moto is not thread-safe: ``TransactWriteItems`` deep-copies each table it touches (its rollback) while
   other requests write to it ("dictionary changed size during iteration"), and a rollback puts that copy
   back over whatever others wrote meanwhile. Real DynamoDB applies each request atomically, so we serve
   moto's DynamoDB requests one at a time.
2. That deep copy costs O(table) per transaction, so a test run slows down as its table fills. With
   requests serialized, a snapshot of just the items the transaction touches is the same rollback.

Neither changes what a request returns; they only make moto behave under concurrency and stay fast.
"""

from __future__ import annotations

import copy
import threading
from typing import Any


def serialize_dynamodb_requests(app):
    """Wrap moto's WSGI app: DynamoDB requests (X-Amz-Target DynamoDB_…) run one at a time."""
    lock = threading.Lock()

    def serialized(environ, start_response):
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
            with lock:
                return app(environ, start_response)
        return app(environ, start_response)

    return serialized


class _CopyWithoutTables:
    """Stands in for the ``copy`` module inside moto.dynamodb.models: tables are not deep-copied."""

    def __init__(self, table_type: type) -> None:
        self._table_type = table_type

    def deepcopy(self, obj: Any, memo: Any = None) -> Any:
        return obj if isinstance(obj, self._table_type) else copy.deepcopy(obj, memo)

    def copy(self, obj: Any) -> Any:
        return copy.copy(obj)


def rollback_touched_items_only() -> None:
    from moto.dynamodb import models

    backend = models.DynamoDBBackend
    if getattr(backend.transact_write_items, "_rollback_touched_items_only", False):
        return
    original = backend.transact_write_items
    models.copy = _CopyWithoutTables(models.Table)

    def transact_write_items(self, transact_items: list[dict[str, Any]]) -> None:
        snapshot: list[tuple[str, dict, dict | None]] = []
        for entry in transact_items:
            try:
                op = next(iter(entry.values()))
                table = self.tables.get(op.get("TableName"))
                if table is None:
                    continue
                if "Key" in op:
                    key = op["Key"]
                else:
                    key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                    if table.range_key_attr is not None:
                        key[table.range_key_attr] = op["Item"][table.range_key_attr]
                current = self.get_item(op["TableName"], key)
            except Exception:  # noqa: S112  a malformed entry: moto refuses it before writing anything
                continue
            attrs = copy.deepcopy(current.to_json()["Attributes"]) if current is not None else None
            snapshot.append((op["TableName"], key, attrs))
        try:
            return original(self, transact_items)
        except Exception:
            for table_name, key, attrs in reversed(snapshot):
                if attrs is None:
                    if self.get_item(table_name, key) is not None:
                        self.delete_item(table_name, key)
                else:
                    self.put_item(table_name, attrs)
            raise

    transact_write_items._rollback_touched_items_only = True  # type: ignore[attr-defined]
    backend.transact_write_items = transact_write_items
