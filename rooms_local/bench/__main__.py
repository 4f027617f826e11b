from __future__ import annotations

import importlib
import pkgutil
import sys
import uuid

from rooms_local.bench.common import BenchContext


def main(argv: list[str]) -> int:
    from rooms_local.config import LocalConfig
    from rooms_local.stack import LocalStack

    wanted = set(argv)
    import rooms_local.bench as pkg

    modules = sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if m.name.startswith("bench_"))
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    config = LocalConfig(table_name=f"rooms-bench-{uuid.uuid4().hex[:6]}",
                         extra_env={"POWERTOOLS_LOG_LEVEL": "WARNING"}).with_free_ports()
    with LocalStack(config) as stack:
        ctx = BenchContext(stack)
        for name in modules:
            if wanted and name.removeprefix("bench_") not in wanted:
                continue
            module = importlib.import_module(f"rooms_local.bench.{name}")
            print(f"\n== {name.removeprefix('bench_')} ==", flush=True)
            for line in module.run(ctx):
                print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
