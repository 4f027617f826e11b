"""Runs our Lambda handlers in this process, as the Lambda service would call them.

Each function's ``functions/<name>/handler.py`` is loaded by path under its own module name (every
function's module is called ``handler`` in AWS). Invocations of one function run on long-lived threads
that keep its module-level state (clients, caches) between requests, as a warm Lambda container does.
An HTTP API function gets one such thread: it handles one request at a time, as one container does
(its Powertools resolver holds the request being resolved: see ``_workers_for``); the other functions
get a small pool.
"""

from __future__ import annotations

import contextvars
import importlib.util
import json
import logging
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from rooms_local.config import FUNCTIONS_DIR


@dataclass
class LambdaContext:
    function_name: str
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    timeout_seconds: int = 30

    def __post_init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:000000000000:function:{self.function_name}"
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def function_names() -> list[str]:
    return sorted(p.parent.name for p in FUNCTIONS_DIR.glob("*/handler.py"))


_load_lock = threading.RLock()


def load_function(name: str) -> ModuleType:
    module_name = f"rooms_fn_{name}"
    # Concurrent first requests must not see a half-initialised module (Lambda's init runs once,
    # before the first invocation); the lock makes the others wait for it.
    with _load_lock:
        if module_name in sys.modules:
            return sys.modules[module_name]
        path = FUNCTIONS_DIR / name / "handler.py"
        if not path.exists():
            raise LookupError(f"no function {name!r} (expected {path})")
        spec = importlib.util.spec_from_file_location(module_name, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[module_name]
            raise
        return module


def routes_manifest() -> dict[str, list[str]]:
    return json.loads((FUNCTIONS_DIR / "routes.json").read_text())


# -- logging keys per invocation ---------------------------------------------------------------------------
# In Lambda each container runs one function, one request at a time, so Powertools keeps the keys it adds
# to every line (function_name, correlation_id, cold_start...) in its formatter, shared by the process.
# Here every function runs in one process, concurrently, and the layer's one `rooms` logger is shared: a
# line would carry whichever request set the keys last. So, locally only, each invocation gets its own
# copy of the formatter's keys (Powertools' thread_safe_* keys are a ContextVar already, isolated too).
_INVOCATION_LOG_KEYS: contextvars.ContextVar[dict[int, dict]] = contextvars.ContextVar("rooms_local_log_keys")


class _PerInvocationLogFormat:
    """Stands for a Powertools formatter's ``log_format`` dict: the invocation's copy inside one, the
    shared dict outside (module import time)."""

    def __get__(self, formatter, owner=None):
        if formatter is None:
            return self
        keys = _INVOCATION_LOG_KEYS.get(None)
        shared = formatter.__dict__["_shared_log_format"]
        if keys is None:
            return shared
        return keys.setdefault(id(formatter), dict(shared))

    def __set__(self, formatter, value) -> None:
        keys = _INVOCATION_LOG_KEYS.get(None)
        if keys is None:
            formatter.__dict__["_shared_log_format"] = value
        else:
            keys[id(formatter)] = value


_per_invocation_classes: dict[type, type] = {}
_isolate_lock = threading.Lock()


def isolate_log_keys() -> None:
    """Give every Powertools formatter in the process per-invocation keys (idempotent)."""
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    with _isolate_lock:  # requests arrive on many threads
        loggers = [logging.getLogger(), *(v for v in list(logging.Logger.manager.loggerDict.values())
                                          if isinstance(v, logging.Logger))]
        for logger in loggers:
            _isolate_handlers(logger, LambdaPowertoolsFormatter)


def _isolate_handlers(logger: logging.Logger, formatter_type: type) -> None:
    for handler in logger.handlers:
        formatter = handler.formatter
        if not isinstance(formatter, formatter_type) or "_shared_log_format" in formatter.__dict__:
            continue
        cls = type(formatter)
        if cls not in _per_invocation_classes:
            _per_invocation_classes[cls] = type(cls.__name__, (cls,), {"log_format": _PerInvocationLogFormat()})
        formatter.__dict__["_shared_log_format"] = formatter.__dict__.pop("log_format")
        formatter.__class__ = _per_invocation_classes[cls]


def run_invocation(handler, event: dict[str, Any], context: LambdaContext) -> Any:
    """Call a handler as one invocation: its own logging keys (see above)."""
    def invocation():
        _INVOCATION_LOG_KEYS.set({})
        return handler(event, context)

    return contextvars.copy_context().run(invocation)


def _workers_for(module: ModuleType, workers: int) -> int:
    """One worker for an HTTP API function: its Powertools resolver (the module's ``app``) keeps the request
    it is resolving on itself (``app.context["_route_args"]``, ``current_event``), so two requests at once
    on one module mix their path parameters (a mute's ``identity`` vanished under the web app's polling).
    Each warm Lambda container handles one request at a time, so one worker is what one container does;
    the other functions (webhook, S3, schedule handlers) keep no request on module state."""
    from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

    return 1 if isinstance(getattr(module, "app", None), BaseRouter) else workers


class FunctionRunner:
    """Invoke functions by name: synchronously (API routes, the webhook route) or fire-and-forget (S3, schedules)."""

    def __init__(self, workers_per_function: int = 4) -> None:
        self._workers = workers_per_function
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self._lock = threading.Lock()

    def _pool(self, name: str, module: ModuleType) -> ThreadPoolExecutor:
        with self._lock:
            if name not in self._pools:
                self._pools[name] = ThreadPoolExecutor(_workers_for(module, self._workers),
                                                       thread_name_prefix=f"fn-{name}")
            return self._pools[name]

    def invoke(self, name: str, event: dict[str, Any], timeout: float = 60) -> Any:
        module = load_function(name)
        isolate_log_keys()
        future = self._pool(name, module).submit(run_invocation, module.handler, event, LambdaContext(name))
        return future.result(timeout=timeout)

    def invoke_async(self, name: str, event: dict[str, Any]) -> None:
        module = load_function(name)
        isolate_log_keys()
        self._pool(name, module).submit(run_invocation, module.handler, event, LambdaContext(name))

    def shutdown(self) -> None:
        for pool in self._pools.values():
            pool.shutdown(wait=True, cancel_futures=True)
        self._pools.clear()


def handler_path(name: str) -> Path:
    return FUNCTIONS_DIR / name / "handler.py"
