from __future__ import annotations

import importlib
import pkgutil
import sys
import uuid
from contextlib import nullcontext

from rooms_local.bench.common import BenchContext


def main(argv: list[str]) -> int:
    from rooms_local.config import LocalConfig
    from rooms_local.stack import LocalStack

    wanted = set(argv)
    import rooms_local.bench as pkg

    names = sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if m.name.startswith("bench_"))
    unknown = wanted - {n.removeprefix("bench_") for n in names}
    if unknown:
        print(f"no such benchmark: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    modules = [importlib.import_module(f"rooms_local.bench.{name}") for name in names
               if not wanted or name.removeprefix("bench_") in wanted]
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    config = LocalConfig(table_name=f"rooms-bench-{uuid.uuid4().hex[:6]}",
                         extra_env={"POWERTOOLS_LOG_LEVEL": "WARNING"}).with_free_ports()
    # A section with NEEDS_STACK = False (cold_start) runs without starting the local stack.
    needs_stack = any(getattr(m, "NEEDS_STACK", True) for m in modules)
    with LocalStack(config) if needs_stack else nullcontext() as stack:
        ctx = BenchContext(stack)
        for module in modules:
            print(f"\n== {module.__name__.rsplit('.', 1)[-1].removeprefix('bench_')} ==", flush=True)
            for line in module.run(ctx):
                print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
