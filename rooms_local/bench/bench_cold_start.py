"""Cold start: each function's import (what Lambda's init does) against `import boto3;
boto3.client("dynamodb")`, measured in the same run, from source and with bytecode.

From source: a copy of the code without ``__pycache__``, never written (each import compiles our
modules). With bytecode: the same copy compiled first (``compileall``). Third-party packages come
from the environment either way (already compiled by pip). Goals: issue_token ≤ 1.25x, every other
user-facing function ≤ 1.35x.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from rooms_local.bench.common import BASELINE, code_copy, import_function_code, time_python
from rooms_local.config import FUNCTIONS_DIR

GOALS = {"issue_token": 1.25}
USER_FACING_GOAL = 1.35
# Not called by users: schedules, S3 and LiveKit call them (webhook_handler answers LiveKit, so it is held
# to the user-facing goal too).
BACKGROUND = {"room_sweeper", "recording_processor"}
RUNS = 7


def functions() -> list[str]:
    return sorted(json.loads((FUNCTIONS_DIR / "routes.json").read_text()).keys()
                  | {p.parent.name for p in FUNCTIONS_DIR.glob("*/handler.py")})


def measure(runs: int = RUNS) -> dict[str, dict[str, float]]:
    """{mode: {function or "baseline": seconds}} for mode in ("source", "bytecode")."""
    out: dict[str, dict[str, float]] = {}
    for mode in ("source", "bytecode"):
        with tempfile.TemporaryDirectory(prefix=f"rooms-cold-{mode}-") as tmp:
            fdir, layer = code_copy(Path(tmp), bytecode=mode == "bytecode")
            times = {"baseline": time_python(BASELINE, runs, pythonpath=str(layer))}
            for name in functions():
                times[name] = time_python(import_function_code(name, fdir), runs, pythonpath=str(layer))
            out[mode] = times
    return out


def report(times: dict[str, dict[str, float]]) -> list[str]:
    lines = [f"baseline `{BASELINE}`: source {times['source']['baseline'] * 1000:.0f} ms, "
             f"bytecode {times['bytecode']['baseline'] * 1000:.0f} ms (median of {RUNS} fresh interpreters)"]
    lines.append(f"{'function':<20} {'source':>8} {'ratio':>6} {'bytecode':>9} {'ratio':>6}  goal")
    for name in functions():
        src, byte = times["source"][name], times["bytecode"][name]
        r_src, r_byte = src / times["source"]["baseline"], byte / times["bytecode"]["baseline"]
        goal = None if name in BACKGROUND else GOALS.get(name, USER_FACING_GOAL)
        verdict = "-" if goal is None else (f"≤{goal:.2f} " + ("ok" if max(r_src, r_byte) <= goal else "MISSED"))
        lines.append(f"{name:<20} {src * 1000:6.0f}ms {r_src:6.2f} {byte * 1000:7.0f}ms {r_byte:6.2f}  {verdict}")
    return lines


def run(ctx) -> list[str]:
    return report(measure())


if __name__ == "__main__":  # without the local stack: python -m rooms_local.bench.bench_cold_start
    print("\n".join(report(measure())))
