"""What a function's cold import costs, measured in an environment shaped like Lambda's, two ways.

The environment: a fresh CPython 3.13 with no site-packages at all (``-S``; the dev venv has packages the
layer does not ship, ``cryptography`` among them, which PyJWT and others import when they find it), whose
path is what Lambda's is:

- a copy of the layer's ``python/`` directory (the ``rooms`` package), compiled as ``infra.layer_build``
  compiles it (``compileall --invalidation-mode unchecked-hash``) or left as source;
- the layer's third-party packages: exactly the distributions and versions of
  ``layers/rooms/requirements.lock``, installed by pip for this host (the lock's hashes are the Lambda
  target's wheels, aarch64; these are the same versions built for the host), plus boto3 and its
  dependencies, which the Lambda runtime provides (at the versions of the dev venv). Compiled the same way,
  as the layer's are. Installed once into ``.cache/bench/`` (or ``ROOMS_BENCH_CACHE``) and reused while
  the lock is unchanged.

The two measures:

- **instructions** (Valgrind's instruction count, Ir): the instructions the interpreter executes for the
  import, minus those of an interpreter that imports nothing. Independent of the machine's load, and
  repeatable to the instruction (hash seed fixed; four runs of the baseline, two of them with address
  randomization off, gave the same count): the figure to compare and to hold goals against on a shared
  machine. ``perf stat -e instructions`` would be cheaper, but there are no hardware counters here. The
  tool is cachegrind with its cache simulation off: its Ir of the baseline is within 0.4% of callgrind's,
  in ~40% of the CPU time (no call graph to keep); ``ROOMS_BENCH_VALGRIND=callgrind`` uses callgrind.
- **wall**: the median of N fresh interpreters timing the import with ``perf_counter``. What Lambda's
  init actually waits for, but only as steady as the machine is.

Both end with ``os._exit(0)``: Lambda's init never finalizes the interpreter, so its teardown is not counted.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import re
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from infra.layer_build import LOCK_FILE, RUNTIME_PROVIDED, compile_bytecode, locked_requirements
from rooms_local.config import FUNCTIONS_DIR, ROOT

LAYER_PYTHON = ROOT / "layers" / "rooms" / "python"
# ROOMS_BENCH_CACHE: elsewhere (a worktree whose .cache is shared with another checkout).
CACHE_DIR = Path(os.environ.get("ROOMS_BENCH_CACHE") or ROOT / ".cache" / "bench")
BASELINE = "import boto3; boto3.client('dynamodb', region_name='us-east-1')"
NOTHING = "pass"
_EXIT = "\nimport os; os._exit(0)"

# What Lambda sets that our modules or Powertools read at import.
LAMBDA_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_LAMBDA_FUNCTION_NAME": "bench",
    "POWERTOOLS_TRACE_DISABLED": "true",
}


def interpreter() -> str:
    """The CPython the venv was made from: with ``-S`` it sees the standard library and nothing else."""
    base = getattr(sys, "_base_executable", None) or sys.executable
    return str(Path(base).resolve())


def import_function_code(name: str, functions_dir: Path = FUNCTIONS_DIR) -> str:
    """Python that does what Lambda's init does for a function: import its handler module."""
    path = functions_dir / name / "handler.py"
    return (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('handler', {str(path)!r})\n"
        "m = importlib.util.module_from_spec(spec); sys.modules['handler'] = m; spec.loader.exec_module(m)"
    )


# --- the environment --------------------------------------------------------------------------------------


def layer_requirements() -> str:
    """Pins of what the layer ships (the lock) and of what the runtime provides (boto3 & co)."""
    pins = locked_requirements(LOCK_FILE.read_text())
    runtime = {name: importlib.metadata.version(name) for name in sorted(RUNTIME_PROVIDED)}
    return "".join(f"{name}=={version}\n" for name, version in sorted({**pins, **runtime}.items()))


def third_party_site() -> Path:
    """The layer's third-party packages (+ the runtime's boto3), installed for this host and compiled."""
    requirements = layer_requirements()
    key = hashlib.sha256(
        f"{requirements}{sys.version}{sysconfig.get_platform()}".encode()
    ).hexdigest()[:16]
    site = CACHE_DIR / f"site-{key}"
    if site.is_dir():
        return site
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE_DIR, prefix=".site-") as tmp:
        staged = Path(tmp) / "site"
        reqs = Path(tmp) / "requirements.txt"
        reqs.write_text(requirements)
        command = [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
            "--no-deps", "--only-binary=:all:", "--target", str(staged), "-r", str(reqs),
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"pip could not install the layer's packages for this host:\n{result.stderr[-4000:]}")
        shutil.rmtree(staged / "bin", ignore_errors=True)
        compile_bytecode(staged)
        try:
            os.replace(staged, site)
        except OSError:
            if not site.is_dir():
                raise
            # another bench installed the same site meanwhile: use theirs
    return site


def code_copy(into: Path, *, bytecode: bool) -> tuple[Path, Path]:
    """Copy the functions and the layer's ``python/`` into ``into`` without any ``__pycache__``; with
    ``bytecode`` the layer copy is compiled as the layer build compiles it. The functions stay source, as
    they are deployed. Returns (functions dir, layer python dir) of the copy."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    functions = into / "functions"
    layer = into / "python"
    shutil.copytree(FUNCTIONS_DIR, functions, ignore=ignore)
    shutil.copytree(LAYER_PYTHON, layer, ignore=ignore)
    if bytecode:
        compile_bytecode(layer)
    return functions, layer


class LambdaPython:
    """Runs code in fresh interpreters whose path is ``paths`` (the layer copy, then third party)."""

    def __init__(self, paths: list[Path], cwd: Path) -> None:
        self.paths = paths
        self.cwd = cwd

    def _env(self) -> dict[str, str]:
        return {"PATH": "/usr/bin:/bin", "PYTHONPATH": os.pathsep.join(map(str, self.paths)),
                "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", **LAMBDA_ENV}

    def run(self, code: str, *, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
        result = subprocess.run([*prefix, interpreter(), "-S", "-c", code + _EXIT], cwd=self.cwd,
                                env=self._env(), capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{code!r} failed:\n{result.stderr[-3000:]}")
        return result

    def modules(self, code: str) -> set[str]:
        """The modules ``code`` leaves imported."""
        out = self.run(code + "\nimport sys; print(','.join(sorted(sys.modules)), flush=True)").stdout
        return set(out.strip().splitlines()[-1].split(","))

    def seconds(self, code: str, runs: int) -> float:
        """Median wall time of the code in ``runs`` fresh interpreters (after one to warm the file cache)."""
        timed = f"import time; _t = time.perf_counter()\n{code}\nprint(time.perf_counter() - _t, flush=True)"

        def once() -> float:
            return float(self.run(timed).stdout.strip().splitlines()[-1])

        once()
        return statistics.median(once() for _ in range(runs))

    def instructions(self, code: str) -> int:
        """Instructions executed (Valgrind's Ir) by a fresh interpreter running ``code``."""
        result = self.run(code, prefix=valgrind_command())
        match = re.search(r"I\s+refs:\s+([\d,]+)", result.stderr)
        if not match:
            raise RuntimeError(f"no instruction count in valgrind's output:\n{result.stderr[-2000:]}")
        return int(match.group(1).replace(",", ""))


def valgrind_command() -> tuple[str, ...]:
    if os.environ.get("ROOMS_BENCH_VALGRIND") == "callgrind":
        return ("valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null")
    return ("valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null")


def valgrind_available() -> bool:
    return shutil.which("valgrind") is not None


def measure_instructions(jobs: dict[str, tuple[LambdaPython, str]], *, workers: int = 2) -> dict[str, int]:
    """{name: instructions of its code minus those of an interpreter importing nothing} for jobs
    {name: (python, code)}. Counts do not depend on load, so they run side by side."""
    names = [*jobs, "<nothing>"]
    first = next(iter(jobs.values()))[0]
    work = [*jobs.values(), (first, NOTHING)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        counts = dict(zip(names, pool.map(lambda job: job[0].instructions(job[1]), work), strict=True))
    nothing = counts.pop("<nothing>")
    return {name: n - nothing for name, n in counts.items()}
