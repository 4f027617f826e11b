"""``rooms.lazy_imports``: Powertools' re-exporting packages load only the submodules used, and every
name they re-export still resolves to the very object the eager package would give."""

from __future__ import annotations

import json
import subprocess
import sys

from rooms.lazy_imports import POWERTOOLS_DATA_CLASSES, POWERTOOLS_EVENT_HANDLER, reexports

_PROBE = """
import json, sys
import rooms.http  # installs both lazy packages, then imports the resolver's submodules
loaded = sorted(m for m in sys.modules if m.startswith(("aws_lambda_powertools.event_handler.",
                                                        "aws_lambda_powertools.utilities.data_classes.")))
print(json.dumps(loaded))
"""
# Where each name a package exports comes from (module and qualified name), after ``prelude``.
_ORIGINS = """
import importlib, json, sys
exec(sys.argv[1])
def origin(value):
    return f"{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', type(value).__name__)}"
print(json.dumps({name: {attr: origin(getattr(importlib.import_module(name), attr))
                         for attr in importlib.import_module(name).__all__} for name in sys.argv[2:]}))
"""
PACKAGES = (POWERTOOLS_EVENT_HANDLER, POWERTOOLS_DATA_CLASSES)


def _run(code: str, *args: str):
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_http_functions_import_only_the_resolver_submodules_they_use():
    loaded = set(_run(_PROBE))
    assert "aws_lambda_powertools.event_handler.api_gateway" in loaded
    for unused in ("appsync", "bedrock_agent", "vpc_lattice", "lambda_function_url", "events_appsync.appsync_events"):
        assert f"{POWERTOOLS_EVENT_HANDLER}.{unused}" not in loaded, unused
    for unused in ("code_pipeline_job_event", "kafka_event", "cloud_watch_logs_event", "s3_event"):
        assert f"{POWERTOOLS_DATA_CLASSES}.{unused}" not in loaded, unused


def test_every_reexported_name_resolves_to_what_the_eager_package_gives():
    eager = _run(_ORIGINS, "pass", *PACKAGES)
    lazy = _run(_ORIGINS, "import rooms.http", *PACKAGES)
    for name in PACKAGES:
        assert len(eager[name]) > 10 and eager[name] == {attr: lazy[name][attr] for attr in eager[name]}, name


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
