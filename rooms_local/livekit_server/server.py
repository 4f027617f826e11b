"""Redis + the real livekit-server, inside a namespace of ours (``netns.Netns``), with a generated
config: the stack's keys, our webhook route, the stack's room timeouts, node_ip = the namespace
address, and no public STUN server anywhere.

Why ``rtc.stun_servers`` is set (livekit-server v1.13.5, ``pkg/service/roommanager.go``
``iceServersForParticipant``): when no STUN server is configured (and no TURN), the server hands every
client ``rtcconfig.DefaultStunServers`` — global.stun.twilio.com, stun.l.google.com, stun1.l.google.com.
So we configure one that lives in the namespace (its address, a port nothing listens on): clients are
only ever told about it. With ``node_ip`` set and ``use_external_ip`` off the server itself uses no STUN
(mediatransportutil ``rtcconfig/webrtc_config.go``). And the namespace has no default route, so a client
that tried a public server anyway would get "network unreachable".

Redis is there for the SIP Twirp API (trunks, dispatch rules are stored in Redis); livekit-sip itself
cannot be built here (see build.py), so no call ever reaches those trunks.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from rooms_local.livekit_server import build
from rooms_local.livekit_server.netns import Netns

HTTP_PORT = 7880  # signalling + Twirp (inside the namespace, so no clash between runs)
RTC_TCP_PORT = 7881
RTC_UDP_PORT = 7882
REDIS_PORT = 6379
UNUSED_STUN_PORT = 3478  # nothing listens there: see the module docstring


def missing_reason() -> str | None:
    """Why the real server cannot run here (binary or Redis missing), or None."""
    if reason := build.missing_reason():
        return reason
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        return "redis-server/redis-cli are not installed (Debian: apt-get install redis-server)"
    return None


def server_config(netns: Netns, *, api_key: str, api_secret: str, webhook_url: str,
                  empty_timeout: int, departure_timeout: int) -> dict:
    return {
        "port": HTTP_PORT,
        "bind_addresses": [netns.inside_ip, "127.0.0.1"],
        "rtc": {
            "tcp_port": RTC_TCP_PORT,
            "udp_port": RTC_UDP_PORT,
            "node_ip": netns.inside_ip,
            "use_external_ip": False,
            "stun_servers": [f"{netns.inside_ip}:{UNUSED_STUN_PORT}"],
        },
        "redis": {"address": f"127.0.0.1:{REDIS_PORT}"},
        "keys": {api_key: api_secret},
        "webhook": {"api_key": api_key, "urls": [webhook_url]},
        "room": {"auto_create": True, "empty_timeout": empty_timeout, "departure_timeout": departure_timeout},
        "logging": {"level": "info", "json": False},
    }


@dataclass
class LiveKitServer:
    netns: Netns
    api_key: str
    api_secret: str
    webhook_url: str
    empty_timeout: int = 600
    departure_timeout: int = 20
    run_dir: Path | None = None
    binary: Path = field(default_factory=build.server_binary)
    _redis: subprocess.Popen | None = None
    _server: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """The server's URL from the host and from inside the namespace alike."""
        return f"http://{self.netns.inside_ip}:{HTTP_PORT}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.netns.inside_ip}:{HTTP_PORT}"

    @property
    def log_path(self) -> Path:
        return self._run_dir / "livekit-server.log"

    @property
    def redis_log_path(self) -> Path:
        return self._run_dir / "redis.log"

    @property
    def config_path(self) -> Path:
        return self._run_dir / "livekit.yaml"

    @property
    def _run_dir(self) -> Path:
        if self.run_dir is None:
            from rooms_local.config import ROOT

            self.run_dir = ROOT / ".local-stack" / self.netns.name
        return self.run_dir

    def config(self) -> dict:
        return server_config(self.netns, api_key=self.api_key, api_secret=self.api_secret,
                             webhook_url=self.webhook_url, empty_timeout=self.empty_timeout,
                             departure_timeout=self.departure_timeout)

    def start(self, timeout: float = 60.0) -> LiveKitServer:
        if reason := missing_reason():
            raise RuntimeError(reason)
        self._run_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._start_redis(timeout)
            self._start_server(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_redis(self, timeout: float) -> None:
        self._redis = self.netns.popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(REDIS_PORT), "--save", "", "--appendonly", "no",
             "--dir", str(self._run_dir), "--logfile", str(self.redis_log_path), "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        self._wait(lambda: self.netns.run(["redis-cli", "-p", str(REDIS_PORT), "ping"], capture_output=True,
                                          text=True, timeout=5).stdout.strip() == "PONG",
                   self._redis, "redis-server", self.redis_log_path, timeout)

    def _start_server(self, timeout: float) -> None:
        # YAML is a superset of JSON: the generated config is written as JSON (no YAML library needed).
        self.config_path.write_text(json.dumps(self.config(), indent=2) + "\n")
        with self.log_path.open("ab") as log:
            self._server = self.netns.popen([str(self.binary), "--config", str(self.config_path)],
                                            stdout=log, stderr=subprocess.STDOUT)
        self._wait(self._answers, self._server, "livekit-server", self.log_path, timeout)

    def _answers(self) -> bool:
        with urllib.request.urlopen(f"{self.url}/", timeout=2) as response:  # noqa: S310 - our namespace
            return response.status == 200

    @staticmethod
    def _wait(ready, proc: subprocess.Popen, what: str, log: Path, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{what} exited with {proc.returncode}:\n{_tail(log)}")
            try:
                if ready():
                    return
            except (OSError, subprocess.SubprocessError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} not ready after {timeout:.0f} s:\n{_tail(log)}")
            time.sleep(0.1)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        for proc in (self._server, self._redis):
            if proc is None or proc.poll() is not None:
                continue
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        self._server = self._redis = None


def _tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return f"(no log at {path})"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
