"""A network namespace of our own for real WebRTC: libwebrtc and pion ignore loopback interfaces, so
livekit-server, Redis and the real clients run in a namespace joined to the host by a veth pair on a
private /24 (10.213.N.0/24: host side .1, namespace side .2). The namespace has no default route, so
nothing inside it can reach anything but the host side of its own veth.

One namespace per process (``rooms-lk-<pid>``). N is picked under a lock so that concurrent runs never
share a subnet; namespaces left behind by a dead process (crash, SIGKILL) are removed at the next start.
Needs root (``ip netns add``); the harness says so instead of failing obscurely.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import ipaddress
import os
import re
import shutil
import signal
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "rooms-lk-"
SUBNET = ipaddress.ip_network("10.213.0.0/16")  # /24s of ours: 10.213.1.0/24 … 10.213.254.0/24
# Namespaces and addresses are machine-wide, so is the lock (root-only /run, as `ip netns` needs root).
LOCK_FILE = Path("/run/rooms-lk-netns.lock")
_NAME_RE = re.compile(rf"^{PREFIX}(\d+)(?:-(\d+))?$")


class NetnsUnavailable(RuntimeError):
    """This machine cannot give us a namespace (not root, no `ip`)."""


def unavailable_reason() -> str | None:
    """Why no namespace can be made here, or None when it can."""
    if shutil.which("ip") is None:
        return "`ip` (iproute2) is not installed"
    if os.geteuid() != 0:
        return "network namespaces need root (ip netns add)"
    return None


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    ip = shutil.which("ip") or "/usr/sbin/ip"
    return subprocess.run([ip, *args], check=check, capture_output=True, text=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _veth_names(pid: int, serial: int) -> tuple[str, str]:
    # Interface names have at most 15 characters: "rlk" + pid (≤ 7 digits) + serial + side.
    tag = f"rlk{pid}" + (f"x{serial}" if serial else "")
    return f"{tag}h", f"{tag}n"


def list_namespaces() -> list[str]:
    out = _ip("netns", "list", check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def remove_namespace(name: str) -> None:
    """Kill whatever still runs in ``name``, then delete it and its veth (the host end; the peer goes
    with it). Tolerates half-made or half-removed namespaces."""
    pids = _ip("netns", "pids", name, check=False).stdout.split()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)
    match = _NAME_RE.match(name)
    if match:
        host_veth, _ = _veth_names(int(match.group(1)), int(match.group(2) or 0))
        _ip("link", "del", host_veth, check=False)
    _ip("netns", "del", name, check=False)


def cleanup_stale() -> list[str]:
    """Remove every rooms-lk-<pid> namespace (and veth) whose pid is dead. Returns the names removed."""
    removed = []
    for name in list_namespaces():
        match = _NAME_RE.match(name)
        if match and not _pid_alive(int(match.group(1))):
            remove_namespace(name)
            removed.append(name)
    # A veth whose namespace is gone already but whose host end survived (crash between steps).
    for line in _ip("-o", "link", "show", check=False).stdout.splitlines():
        veth = re.match(r"^\d+:\s+(rlk(\d+)(?:x\d+)?h)[@:]", line)
        if veth and not _pid_alive(int(veth.group(2))):
            _ip("link", "del", veth.group(1), check=False)
    return removed


def _subnets_in_use() -> set[int]:
    used = set()
    for line in _ip("-o", "-4", "addr", "show", check=False).stdout.splitlines():
        for addr in re.findall(r"inet (\d+\.\d+\.\d+\.\d+)/", line):
            ip = ipaddress.ip_address(addr)
            if ip in SUBNET:
                used.add(int(ip.packed[2]))
    for line in _ip("-4", "route", "show", check=False).stdout.splitlines():
        for addr in re.findall(r"^(\d+\.\d+\.\d+\.\d+)", line):
            ip = ipaddress.ip_address(addr)
            if ip in SUBNET:
                used.add(int(ip.packed[2]))
    return used


@dataclass
class Netns:
    """One namespace with its veth pair. ``exec_argv`` / ``run`` / ``popen`` run commands inside it."""

    name: str
    index: int
    host_veth: str
    ns_veth: str
    _removed: bool = field(default=False, repr=False)

    @property
    def host_ip(self) -> str:
        """The host side of the veth: the host's services (our gateway) listen here for the namespace."""
        return f"10.213.{self.index}.1"

    @property
    def inside_ip(self) -> str:
        """The namespace side: livekit-server's node_ip and the address clients inside connect to."""
        return f"10.213.{self.index}.2"

    @property
    def subnet(self) -> str:
        return f"10.213.{self.index}.0/24"

    # -- running things inside ----------------------------------------------------------------------
    def exec_argv(self, cmd: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.name, *cmd]

    def run(self, cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(self.exec_argv(cmd), **kwargs)

    def popen(self, cmd: list[str], **kwargs) -> subprocess.Popen:
        """Start ``cmd`` inside the namespace; it is killed if this process dies (PR_SET_PDEATHSIG)."""
        kwargs.setdefault("preexec_fn", _die_with_parent)
        return subprocess.Popen(self.exec_argv(cmd), **kwargs)

    # -- lifecycle ----------------------------------------------------------------------------------
    @classmethod
    def create(cls) -> Netns:
        reason = unavailable_reason()
        if reason:
            raise NetnsUnavailable(reason)
        pid = os.getpid()
        LOCK_FILE.touch(exist_ok=True)
        with LOCK_FILE.open("r") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # pick N and claim it atomically w.r.t. other runs
            cleanup_stale()
            existing = set(list_namespaces())
            serial = 0
            while (name := f"{PREFIX}{pid}" + (f"-{serial}" if serial else "")) in existing:
                serial += 1
            free = sorted(set(range(1, 255)) - _subnets_in_use())
            if not free:
                raise NetnsUnavailable("no free 10.213.N.0/24 left for a namespace")
            netns = cls(name, free[0], *_veth_names(pid, serial))
            try:
                netns._build()
            except subprocess.CalledProcessError as err:
                netns.remove()
                raise NetnsUnavailable(f"could not create namespace {name}: {err.stderr.strip()}") from err
        _register_cleanup(netns)
        return netns

    def _build(self) -> None:
        _ip("netns", "add", self.name)
        _ip("link", "add", self.host_veth, "type", "veth", "peer", "name", self.ns_veth)
        _ip("link", "set", self.ns_veth, "netns", self.name)
        _ip("addr", "add", f"{self.host_ip}/24", "dev", self.host_veth)
        _ip("link", "set", self.host_veth, "up")
        _ip("-n", self.name, "addr", "add", f"{self.inside_ip}/24", "dev", self.ns_veth)
        _ip("-n", self.name, "link", "set", self.ns_veth, "up")
        _ip("-n", self.name, "link", "set", "lo", "up")

    def remove(self) -> None:
        if self._removed:
            return
        self._removed = True
        remove_namespace(self.name)
        _ip("link", "del", self.host_veth, check=False)

    def __enter__(self) -> Netns:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def _die_with_parent() -> None:
    import ctypes

    PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


_live: list[Netns] = []
_hooks_installed = False
_hooks_lock = threading.Lock()


def _remove_live() -> None:
    while _live:
        _live.pop().remove()


def _register_cleanup(netns: Netns) -> None:
    """Remove on interpreter exit, and on SIGTERM/SIGHUP (whose default action skips atexit). SIGINT
    already raises KeyboardInterrupt, which unwinds through atexit. SIGKILL: the next start cleans up."""
    global _hooks_installed
    _live.append(netns)
    with _hooks_lock:
        if _hooks_installed:
            return
        _hooks_installed = True
        atexit.register(_remove_live)
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(sig) in (signal.SIG_DFL, None):
                signal.signal(sig, _exit_on_signal)


def _exit_on_signal(signum, _frame) -> None:
    _remove_live()
    raise SystemExit(128 + signum)
