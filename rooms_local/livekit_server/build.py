"""Build the pinned livekit-server from LiveKit's own Go module (``make livekit``).

    go install github.com/livekit/livekit-server/cmd/server@v1.13.5     (CGO off)

into ``.cache/livekit/bin`` (or ``$ROOMS_LIVEKIT_BIN_DIR``), with a stamp file holding the pin: it
rebuilds only when the pin changes or the binary is gone. v1.13.5 because v1.13.0-1 and master carry
``replace`` directives that break ``go install pkg@version``.

livekit-sip is not built: the Go module proxy here answers 403 "This module version is not available"
for every version of github.com/livekit/sip, so SIP calls stay on our emulator (README "Real LiveKit").
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from rooms_local.config import ROOT

MODULE = "github.com/livekit/livekit-server/cmd/server"
VERSION = "v1.13.5"
PIN = f"{MODULE}@{VERSION}"


def bin_dir() -> Path:
    return Path(os.environ.get("ROOMS_LIVEKIT_BIN_DIR") or ROOT / ".cache" / "livekit" / "bin")


def server_binary() -> Path:
    return bin_dir() / "server"


def _stamp() -> Path:
    return bin_dir() / "server.version"


def is_current() -> bool:
    """The binary exists and was built from the current pin (its stamp says so; a binary without a
    stamp that reports the pinned version, e.g. one built by hand with the same command, is stamped)."""
    stamp, binary = _stamp(), server_binary()
    if not binary.is_file():
        return False
    if stamp.is_file():
        return stamp.read_text().strip() == PIN
    try:
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    if out.split()[-1:] == [VERSION.removeprefix("v")]:
        stamp.write_text(PIN + "\n")
        return True
    return False


def missing_reason() -> str | None:
    """Why the real tier cannot run the server here, or None. (An existing binary without a stamp, e.g.
    one dropped in by hand, is used as it is; `make livekit` stamps what it builds.)"""
    if not server_binary().is_file():
        return f"no livekit-server at {server_binary()} (build it: make livekit)"
    return None


def build(force: bool = False) -> Path:
    if is_current() and not force:
        print(f"livekit-server {VERSION} is current: {server_binary()}")
        return server_binary()
    go = shutil.which("go")
    if go is None:
        raise SystemExit("go is not installed (https://go.dev/dl/, 1.26+): cannot build livekit-server")
    target = bin_dir()
    target.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CGO_ENABLED": "0", "GOBIN": str(target), "GOFLAGS": "-buildvcs=false"}
    print(f"building {PIN} into {target} (first build: ~5 min with module downloads)", flush=True)
    started = time.monotonic()
    subprocess.run([go, "install", PIN], env=env, check=True)
    _stamp().write_text(PIN + "\n")
    print(f"built livekit-server {VERSION} in {time.monotonic() - started:.0f} s: {server_binary()}")
    return server_binary()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    build(force="--force" in args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
