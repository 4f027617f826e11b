"""Runs our Lambda handlers in this process, as the Lambda service would call them.

Each function's ``functions/<name>/handler.py`` is loaded by path under its own module name (every
function's module is called ``handler`` in AWS). Invocations of one function run on a small pool of
long-lived threads: like warm Lambda containers, each handles one request at a time and keeps its
module-level state (clients, caches) between requests.
"""

from __future__ import annotations

import importlib.util
import json
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


class FunctionRunner:
    """Invoke functions by name: synchronously (API, function URL) or fire-and-forget (S3, schedules)."""

    def __init__(self, workers_per_function: int = 4) -> None:
        self._workers = workers_per_function
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self._lock = threading.Lock()

    def _pool(self, name: str) -> ThreadPoolExecutor:
        with self._lock:
            if name not in self._pools:
                self._pools[name] = ThreadPoolExecutor(self._workers, thread_name_prefix=f"fn-{name}")
            return self._pools[name]

    def invoke(self, name: str, event: dict[str, Any], timeout: float = 60) -> Any:
        module = load_function(name)
        future = self._pool(name).submit(module.handler, event, LambdaContext(name))
        return future.result(timeout=timeout)

    def invoke_async(self, name: str, event: dict[str, Any]) -> None:
        module = load_function(name)
        self._pool(name).submit(module.handler, event, LambdaContext(name))

    def shutdown(self) -> None:
        for pool in self._pools.values():
            pool.shutdown(wait=True, cancel_futures=True)
        self._pools.clear()


def handler_path(name: str) -> Path:
    return FUNCTIONS_DIR / name / "handler.py"
