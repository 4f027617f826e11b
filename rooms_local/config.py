"""The local stack's contract: ports, dev credentials, names — each overridable."""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = ROOT / "functions"
EVENTS_DIR = ROOT / "events"

# Dial-in numbers of the emulator's inbound trunks (numbers reserved for fiction in each region),
# and the caller id of its outbound trunk.
DEV_SIP_NUMBERS = {"US": "+12025550100", "UK": "+442079460000", "AU": "+61255500000"}
DEV_SIP_OUTBOUND_NUMBER = "+12025550199"

LIVEKIT_KINDS = ("emulator", "server")

DEV_JWT_AUDIENCE = "rooms"
DEV_JWT_SECRET = "rooms-local-dev-signing-secret-not-for-production"


@dataclass(frozen=True)
class LocalConfig:
    host: str = "127.0.0.1"
    api_port: int = 3000
    livekit_port: int = 7880
    moto_port: int = 5000
    livekit_api_key: str = "devkey"
    livekit_api_secret: str = "secret"
    # Which LiveKit the stack starts: "emulator" (ours, in process: the default) or "server" (the real
    # livekit-server + Redis in a network namespace: rooms_local/livekit_server, needs root and the
    # binary from `make livekit`). A LiveKit the stack does not start: set LIVEKIT_URL (+ key/secret).
    livekit: str = "emulator"
    external_livekit_url: str | None = None
    # Extra addresses the gateway listens on besides `host` (the real server's namespace reaches us there).
    gateway_extra_hosts: tuple[str, ...] = ()
    table_name: str = "rooms-local"
    recordings_bucket: str = "rooms-recordings-local"
    event_bus_name: str = "default"
    region: str = "us-east-1"
    jwt_issuer_override: str | None = None  # default: the local API's own URL (follows the port)
    jwt_audience: str = DEV_JWT_AUDIENCE
    jwt_secret: str = DEV_JWT_SECRET
    extra_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.livekit not in LIVEKIT_KINDS:
            raise ValueError(f"livekit must be one of {', '.join(LIVEKIT_KINDS)}, not {self.livekit!r}")

    @classmethod
    def from_env(cls, base: LocalConfig | None = None) -> LocalConfig:
        """Settings from the environment; what it does not set comes from ``base`` (the running stack's,
        see ``for_cli``) or the defaults."""
        env = os.environ
        b = base or cls()
        return cls(
            host=env.get("ROOMS_HOST", b.host),
            api_port=int(env.get("ROOMS_API_PORT", b.api_port)),
            livekit_port=int(env.get("LIVEKIT_DEV_PORT", b.livekit_port)),
            moto_port=int(env.get("MOTO_PORT", b.moto_port)),
            livekit_api_key=env.get("LIVEKIT_API_KEY", b.livekit_api_key),
            livekit_api_secret=env.get("LIVEKIT_API_SECRET", b.livekit_api_secret),
            livekit=env.get("ROOMS_LIVEKIT", b.livekit),
            external_livekit_url=env.get("LIVEKIT_URL") or b.external_livekit_url,
            table_name=env.get("TABLE_NAME", b.table_name),
            recordings_bucket=env.get("RECORDINGS_BUCKET", b.recordings_bucket),
            jwt_secret=env.get("ROOMS_DEV_JWT_SECRET", b.jwt_secret),
        )

    @classmethod
    def for_cli(cls) -> LocalConfig:
        """What `rooms token/invoke/join/state` talk to: the stack `rooms up` runs (its state file), with
        any setting the environment gives taking precedence; the defaults when no stack runs."""
        running = read_running_state()
        return cls.from_env(cls.from_state(running) if running else None)

    @classmethod
    def from_state(cls, state: dict) -> LocalConfig:
        return cls(**{k: v for k, v in state["config"].items() if k in _STATE_FIELDS})

    def with_free_ports(self) -> LocalConfig:
        """A copy on ports nobody uses (tests run beside a developer's running stack)."""
        return replace(self, api_port=free_port(), livekit_port=free_port(), moto_port=free_port())

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.api_port}"

    @property
    def jwt_issuer(self) -> str:
        """The dev tokens' issuer, which the local gateway's authorizer requires: on the API's own URL."""
        return self.jwt_issuer_override or f"{self.api_url}/local-issuer"

    @property
    def webhook_url(self) -> str:
        return f"{self.api_url}/livekit/webhook"

    @property
    def livekit_url(self) -> str:
        return self.external_livekit_url or f"http://{self.host}:{self.livekit_port}"

    @property
    def moto_url(self) -> str:
        return f"http://{self.host}:{self.moto_port}"

    def function_env(self) -> dict[str, str]:
        """The environment every function gets, as the CDK app gives it in AWS (plus moto's endpoint)."""
        return {
            "TABLE_NAME": self.table_name,
            "LIVEKIT_URL": self.livekit_url,
            "LIVEKIT_API_KEY": self.livekit_api_key,
            "LIVEKIT_API_SECRET": self.livekit_api_secret,
            "RECORDINGS_BUCKET": self.recordings_bucket,
            # The egress uploads to moto as it would to R2: an explicit endpoint, path style and keys.
            "RECORDINGS_S3_ENDPOINT": self.moto_url,
            "RECORDINGS_S3_REGION": self.region,
            "RECORDINGS_S3_FORCE_PATH_STYLE": "true",
            "RECORDINGS_S3_ACCESS_KEY": "testing",
            "RECORDINGS_S3_SECRET": "testing",
            "EVENT_BUS_NAME": self.event_bus_name,
            # The attendance export's HMAC key (in AWS: EVIDENCE_SIGNING_SECRET_ARN, a Secrets Manager secret)
            "EVIDENCE_SIGNING_KEY": "local-evidence-signing-key",
            "EVIDENCE_SIGNING_KEY_ID": "local",
            "AWS_ENDPOINT_URL": self.moto_url,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "POWERTOOLS_SERVICE_NAME": "rooms",
            "POWERTOOLS_METRICS_NAMESPACE": "Rooms",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_DEV": os.environ.get("POWERTOOLS_DEV", "false"),
            **self.extra_env,
        }


# -- the state file: how commands in another shell find the running stack ---------------------------------
_STATE_FIELDS = ("host", "api_port", "livekit_port", "moto_port", "livekit_api_key", "livekit_api_secret",
                 "external_livekit_url", "table_name", "recordings_bucket", "jwt_secret")


def state_file() -> Path:
    """Written by `rooms up` while it runs (ROOMS_STATE_FILE moves it, e.g. for a second stack)."""
    return Path(os.environ.get("ROOMS_STATE_FILE") or ROOT / ".local-stack" / "state.json")


def write_state(config: LocalConfig, provisioned_env: dict[str, str], path: Path | None = None, *,
                livekit_server: dict[str, str] | None = None) -> Path:
    """``provisioned_env``: the functions' variables the running stack created (SIP trunk ids).
    ``livekit_server``: with the real server, its namespace and addresses (``LocalStack.livekit_server_info``:
    netns, host_ip, inside_ip, url, ws_url, api_url, log), for scripts that start a client inside it."""
    path = path or state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"pid": os.getpid(), "started_at": time.time(),
             "config": {k: getattr(config, k) for k in _STATE_FIELDS},
             "urls": {"api": config.api_url, "webhook": config.webhook_url, "livekit": config.livekit_url,
                      "moto": config.moto_url},
             "provisioned_env": provisioned_env,
             "livekit_server": livekit_server}
    tmp = path.with_name(path.name + ".tmp")
    # 0600: it holds the (dev) signing secrets. Written whole then renamed: a reader never sees half.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(state, f, indent=2)
    os.replace(tmp, path)
    return path


def read_running_state(path: Path | None = None) -> dict | None:
    """The running stack's state, or None: no file, an unreadable one, or a stale one (its process is gone)."""
    path = path or state_file()
    try:
        state = json.loads(path.read_text())
        pid = int(state["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return state if pid_alive(pid) else None


def remove_state(path: Path | None = None) -> None:
    """Remove the state file if this process wrote it."""
    path = path or state_file()
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


class PortInUse(RuntimeError):
    """A port the local stack needs is taken: said before anything starts, rather than hanging."""


def ensure_port_free(host: str, port: int, what: str, env_var: str) -> None:
    # SO_REUSEADDR as werkzeug's servers bind: a port only in TIME_WAIT is free for them too.
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as err:
            raise PortInUse(f"{what} needs {host}:{port}, which is in use ({err.strerror}): stop what "
                            f"listens there, or pick another port with {env_var}=...") from None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
