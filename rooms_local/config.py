"""The local stack's contract (SPEC "Local stack"): ports, dev credentials, names — each overridable."""

from __future__ import annotations

import os
import socket
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

DEV_JWT_ISSUER = "http://127.0.0.1:3000/local-issuer"
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
    jwt_issuer: str = DEV_JWT_ISSUER
    jwt_audience: str = DEV_JWT_AUDIENCE
    jwt_secret: str = DEV_JWT_SECRET
    extra_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.livekit not in LIVEKIT_KINDS:
            raise ValueError(f"livekit must be one of {', '.join(LIVEKIT_KINDS)}, not {self.livekit!r}")

    @classmethod
    def from_env(cls) -> LocalConfig:
        env = os.environ
        return cls(
            host=env.get("ROOMS_HOST", "127.0.0.1"),
            api_port=int(env.get("ROOMS_API_PORT", "3000")),
            livekit_port=int(env.get("LIVEKIT_DEV_PORT", "7880")),
            moto_port=int(env.get("MOTO_PORT", "5000")),
            livekit_api_key=env.get("LIVEKIT_API_KEY", "devkey"),
            livekit_api_secret=env.get("LIVEKIT_API_SECRET", "secret"),
            livekit=env.get("ROOMS_LIVEKIT", "emulator"),
            external_livekit_url=env.get("LIVEKIT_URL") or None,
            table_name=env.get("TABLE_NAME", "rooms-local"),
            recordings_bucket=env.get("RECORDINGS_BUCKET", "rooms-recordings-local"),
            jwt_secret=env.get("ROOMS_DEV_JWT_SECRET", DEV_JWT_SECRET),
        )

    def with_free_ports(self) -> LocalConfig:
        """A copy on ports nobody uses (tests run beside a developer's running stack)."""
        return replace(self, api_port=free_port(), livekit_port=free_port(), moto_port=free_port())

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.api_port}"

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
