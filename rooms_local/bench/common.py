"""Helpers shared by the benchmarks: subprocess import timing and AWS call counting."""

from __future__ import annotations

import compileall
import os
import shutil
import statistics
import subprocess
import sys
import threading
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rooms_local.config import FUNCTIONS_DIR, ROOT

LAYER_PYTHON = ROOT / "layers" / "rooms" / "python"


@dataclass
class BenchContext:
    stack: object


def time_python(code: str, runs: int = 9, *, pythonpath: str | None = None) -> float:
    """Median time (s) a fresh interpreter takes to run ``code`` (its own startup not counted).

    ``pythonpath`` puts another copy of the code first on the path (see ``code_copy``); by default the
    caller's PYTHONPATH, if any, is passed on (a worktree, a branch). Bytecode is never written, so a
    copy without ``__pycache__`` is imported from source every time.
    """
    pythonpath = pythonpath or os.environ.get("PYTHONPATH")

    def once(src: str) -> float:
        out = subprocess.run(
            [sys.executable, "-c",
             "import time; t=time.perf_counter()\n" + src + "\nprint(time.perf_counter()-t)"],
            check=True, capture_output=True, text=True,
            env={"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "true",
                 "PYTHONDONTWRITEBYTECODE": "1", **({"PYTHONPATH": pythonpath} if pythonpath else {})},
        )
        return float(out.stdout.strip().splitlines()[-1])

    once(code)  # warm the OS file cache and bytecode caches once
    return statistics.median(once(code) for _ in range(runs))


def import_function_code(name: str, functions_dir: Path = FUNCTIONS_DIR) -> str:
    """Python that does what Lambda's init does for a function: import its handler module."""
    path = functions_dir / name / "handler.py"
    return (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('handler', {str(path)!r})\n"
        "m = importlib.util.module_from_spec(spec); sys.modules['handler'] = m; spec.loader.exec_module(m)"
    )


BASELINE = "import boto3; boto3.client('dynamodb', region_name='us-east-1')"


def code_copy(into: Path, *, bytecode: bool) -> tuple[Path, Path]:
    """Copy the functions and the layer's package into ``into`` (without any ``__pycache__``), compiled
    to bytecode beforehand when ``bytecode`` (as a deployed layer should be: Lambda's file system is
    read-only, so what is not compiled in the package is compiled again at every cold start).
    Returns (functions dir, layer python dir) of the copy."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    functions = into / "functions"
    layer = into / "python"
    shutil.copytree(FUNCTIONS_DIR, functions, ignore=ignore)
    shutil.copytree(LAYER_PYTHON, layer, ignore=ignore)
    if bytecode:
        for tree in (functions, layer):
            if not compileall.compile_dir(tree, quiet=1):
                raise RuntimeError(f"compileall failed in {tree}")
    return functions, layer


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
