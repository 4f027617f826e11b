"""``rooms.lazy_imports``: Powertools' re-exporting packages load only the submodules used, and every
name they re-export still resolves to the very object the eager package would give."""

from __future__ import annotations

import json
import subprocess
import sys

from rooms.lazy_imports import POWERTOOLS_DATA_CLASSES, POWERTOOLS_EVENT_HANDLER, reexports

_PROBE = """
import importlib, json, sys
import rooms.http  # installs both lazy packages, then imports the resolver's submodules
loaded = sorted(m for m in sys.modules if m.startswith(("aws_lambda_powertools.event_handler.",
                                                        "aws_lambda_powertools.utilities.data_classes.")))
lazy = {name: sys.modules[name] for name in sys.argv[1:]}
resolved = {name: {attr: getattr(module, attr) for attr in module.__all__} for name, module in lazy.items()}
print(json.dumps({"loaded": loaded, "mismatches": [
    f"{name}.{attr}" for name, attrs in resolved.items() for attr, value in attrs.items()
    if value is not getattr(importlib.import_module(value.__module__), getattr(value, "__name__", attr), value)
]}))
"""


def _probe() -> dict:
    out = subprocess.run([sys.executable, "-c", _PROBE, POWERTOOLS_EVENT_HANDLER, POWERTOOLS_DATA_CLASSES],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_http_functions_import_only_the_resolver_submodules_they_use():
    loaded = set(_probe()["loaded"])
    assert "aws_lambda_powertools.event_handler.api_gateway" in loaded
    for unused in ("appsync", "bedrock_agent", "vpc_lattice", "lambda_function_url", "events_appsync.appsync_events"):
        assert f"{POWERTOOLS_EVENT_HANDLER}.{unused}" not in loaded, unused
    for unused in ("code_pipeline_job_event", "kafka_event", "cloud_watch_logs_event", "s3_event"):
        assert f"{POWERTOOLS_DATA_CLASSES}.{unused}" not in loaded, unused
    assert "asyncio" not in subprocess.run(
        [sys.executable, "-c", "import sys, rooms.http; print(sorted(sys.modules))"],
        capture_output=True, text=True, check=True).stdout


def test_every_reexported_name_resolves_to_the_eager_packages_object():
    assert _probe()["mismatches"] == []
    eager = subprocess.run(
        [sys.executable, "-c", "import json, importlib, sys\n"
         "print(json.dumps({n: sorted(importlib.import_module(n).__all__) for n in sys.argv[1:]}))",
         POWERTOOLS_EVENT_HANDLER, POWERTOOLS_DATA_CLASSES], capture_output=True, text=True, check=True)
    for name, names in json.loads(eager.stdout).items():
        lazy_names = subprocess.run(
            [sys.executable, "-c", f"import json, rooms.http, sys; print(json.dumps(sys.modules[{name!r}].__all__))"],
            capture_output=True, text=True, check=True).stdout
        assert set(names) <= set(json.loads(lazy_names)), name


def test_the_locked_powertools_packages_are_pure_reexports():
    """If a Powertools upgrade puts code in these ``__init__`` files, the package is imported eagerly again
    (correct, only slower): this test says so, and the bench shows the cost."""
    import importlib.util

    for name in (POWERTOOLS_EVENT_HANDLER, POWERTOOLS_DATA_CLASSES):
        with open(importlib.util.find_spec(name).origin, encoding="utf-8") as init:
            assert reexports(name, init.read()), name


def test_an_init_with_code_of_its_own_is_not_made_lazy():
    assert reexports("pkg", '"""doc"""\nfrom .a import A\n__all__ = ["A"]\n') == {"A": "pkg.a"}
    assert reexports("pkg", "from .a import A\nSETTING = A()\n") is None
    assert reexports("pkg", "from .a import *\n") is None
    assert reexports("pkg", "from pkg.a import A as B\nimport os\n") is None
