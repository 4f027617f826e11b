"""Python 3.13 (the Lambda runtime's) for CI too: `make python-check` refuses any other interpreter, and
CI runs it before anything else is built."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _python_check(python: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "-s", "--no-print-directory", "python-check", f"PY={python}"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )


def test_python_check_accepts_3_13():
    assert sys.version_info[:2] == (3, 13), "the suite itself runs on the Lambda runtime's Python"
    assert _python_check(sys.executable).returncode == 0


def test_python_check_refuses_another_python():
    other = next((p for p in map(shutil.which, ("python3.11", "python3.12", "python3.14")) if p), None)
    if other is None:
        pytest.skip("no Python other than 3.13 on this machine to refuse")
    result = _python_check(other)
    assert result.returncode != 0
    assert "Python 3.13 (the Lambda runtime) required" in result.stderr


def test_ci_runs_the_check_before_building():
    commands = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
                if line.strip() and not line.lstrip().startswith("#")]

    def first(text: str) -> int:
        return next(i for i, line in enumerate(commands) if text in line)

    assert first("make -s python-check") < first("make livekit") < first("make test")
