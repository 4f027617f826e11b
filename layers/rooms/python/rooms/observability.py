"""Powertools Logger, Metrics and Tracer shared by every function (service "rooms")."""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics

from rooms.phone.masking import mask_phone_numbers

# The attributes every LogRecord has; anything else on a record is a field passed in ``extra``.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class PhoneNumberFilter(logging.Filter):
    """Masks every phone number in a record's message, arguments and fields before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_phone_numbers(record.msg)
        if record.args:
            record.args = mask_phone_numbers(record.args)
        for key, value in list(vars(record).items()):
            if key not in _RECORD_ATTRIBUTES and isinstance(value, str | dict | list | tuple):
                setattr(record, key, mask_phone_numbers(value))
        return True


logger = Logger(service="rooms")
logger.addFilter(PhoneNumberFilter())
metrics = Metrics(namespace="Rooms", service="rooms")


class OptionalTracer:
    """Powertools Tracer when ``ROOMS_TRACING_SDK=true``, otherwise a pass-through.

    Importing the X-Ray SDK costs ~0.2 s of every cold start (measured with ``python -X importtime``:
    ``aws_xray_sdk.core``), a quarter of a user-facing function's init. Lambda active tracing (set by
    infra/) still traces every invocation without it; turn the SDK on for per-call subsegments.
    Read from the environment directly because it must be decided when handlers are decorated.
    """

    def __init__(self) -> None:
        self._tracer: Any = None
        if os.environ.get("ROOMS_TRACING_SDK", "false").lower() == "true":
            from aws_lambda_powertools import Tracer

            self._tracer = Tracer(service="rooms")

    @property
    def enabled(self) -> bool:
        return self._tracer is not None

    def capture_lambda_handler(self, fn: Callable) -> Callable:
        return self._tracer.capture_lambda_handler(fn) if self._tracer else fn

    def capture_method(self, fn: Callable) -> Callable:
        return self._tracer.capture_method(fn) if self._tracer else fn


tracer = OptionalTracer()


# --- SnapStart (infra: -c snapStart=true) --------------------------------------------------------------
# Init runs once, before the snapshot; every restored copy resumes from the same memory. Clients, secrets
# and LiveKit credentials are created lazily on the first request (after restore), so the only snapshotted
# state to refresh is the `random` module's (store retry jitter would repeat across copies). The Lambda
# runtime provides `snapshot_restore_py`; elsewhere (tests, the local stack) there is nothing to register.
def register_snapshot_hooks(runtime_hooks: Any = None) -> bool:
    if runtime_hooks is None:
        try:
            import snapshot_restore_py as runtime_hooks  # type: ignore[import-not-found]
        except ImportError:
            return False
    runtime_hooks.register_after_restore(random.seed)
    return True


register_snapshot_hooks()
