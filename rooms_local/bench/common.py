"""Helpers shared by the benchmarks: AWS call counting (cold imports: ``lambda_import``)."""

from __future__ import annotations

import threading
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class BenchContext:
    stack: object


class AwsCallCounter:
    """Counts botocore API calls made in this process, by the function that made them (the local
    runtime runs each function on threads named ``fn-<name>``; anything else counts as "local"), and the
    DynamoDB items they read (``items_read``: ScannedCount of Query/Scan, items returned by
    GetItem/BatchGetItem; keyed "Query gsi1" for an index)."""

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str, str]] = Counter()
        self.items_read: Counter[str] = Counter()
        self._lock = threading.Lock()

    @contextmanager
    def installed(self):
        from botocore.client import BaseClient

        original = BaseClient._make_api_call
        counter = self

        def counting(client, operation_name, api_params):
            thread = threading.current_thread().name
            function = thread.rsplit("_", 1)[0].removeprefix("fn-") if thread.startswith("fn-") else "local"
            service = client.meta.service_model.service_name
            with counter._lock:
                counter.calls[(function, service, operation_name)] += 1
            response = original(client, operation_name, api_params)
            if service == "dynamodb":
                read = _items_read(operation_name, response)
                if read:
                    index = api_params.get("IndexName")
                    key = f"{operation_name} {index}" if index else operation_name
                    with counter._lock:
                        counter.items_read[key] += read
            return response

        BaseClient._make_api_call = counting
        try:
            yield self
        finally:
            BaseClient._make_api_call = original

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.items_read.clear()

    def by_service(self, service: str, function: str | None = None) -> Counter[str]:
        """Calls per operation of one AWS service, optionally only those one function made."""
        out: Counter[str] = Counter()
        for (fn, svc, op), n in self.calls.items():
            if svc == service and (function is None or fn == function):
                out[op] += n
        return out

    def dynamodb(self, function: str | None = None) -> Counter[str]:
        return self.by_service("dynamodb", function)


def _items_read(operation: str, response: dict) -> int:
    if operation in ("Query", "Scan"):
        return int(response.get("ScannedCount", response.get("Count", 0)))
    if operation == "GetItem":
        return 1 if response.get("Item") else 0
    if operation == "BatchGetItem":
        return sum(len(items) for items in response.get("Responses", {}).values())
    if operation == "TransactGetItems":
        return sum(1 for r in response.get("Responses", []) if r.get("Item"))
    return 0
