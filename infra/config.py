"""Deployment parameters: CDK context (cdk.json defaults, `-c key=value` overrides), parsed once.

Values given with `-c` on the command line arrive as strings, so every field is coerced here
(`-c recordingsArchiveDays=60`, `-c sipNumbers='{"US": {...}}'`, `-c layerDependencies=false`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from constructs import Node

PLACEHOLDER_HOSTS = ("example.com", "example.org", "your-project.livekit.cloud")
EGRESS_CREDENTIALS = frozenset({"secret", "host"})


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _int(value: Any, name: str, minimum: int = 0) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"context {name!r} must be an integer, got {value!r}") from None
    if number < minimum:
        raise ValueError(f"context {name!r} must be >= {minimum}, got {number}")
    return number


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


def _str_list(value: Any) -> list[str]:
    value = _json(value) if isinstance(value, str) and value.strip().startswith("[") else value
    if value in (None, ""):
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value]


def _check_origin(origin: str, *, production: bool) -> None:
    """A browser origin the HTTP API's CORS allows (the web app's, or the platform's): scheme://host[:port],
    https in prod, never `*` there (any site could then call the API with a user's token)."""
    if origin == "*":
        if production:
            raise ValueError("context 'corsAllowOrigins' must list the app's origins in prod, not '*'")
        return
    scheme, _, rest = origin.partition("://")
    if scheme not in ("https", "http") or not rest or "/" in rest or "*" in rest:
        raise ValueError(f"context 'corsAllowOrigins' entry {origin!r} must be an origin like https://app.example.com")
    if production and scheme != "https":
        raise ValueError(f"context 'corsAllowOrigins' entry {origin!r} must be https:// in prod")


@dataclass(frozen=True)
class RoomsConfig:
    stage: str = "dev"
    jwt_issuer: str = "https://issuer.example.com/"
    jwt_audience: list[str] = field(default_factory=lambda: ["rooms-api"])
    livekit_url: str = "wss://your-project.livekit.cloud"
    log_level: str = "INFO"
    log_retention_days: int = 30
    recordings_archive_days: int = 30
    recordings_expire_days: int = 365
    recordings_s3_endpoint: str = ""
    recordings_bucket_name: str = ""
    # ARN of a Secrets Manager secret {"access_key", "secret"} for the S3-compatible store (R2): R2 does
    # not accept requests signed by the Lambda role, so functions and egress both sign with these keys.
    recordings_s3_secret_arn: str = ""
    # How LiveKit egress authenticates its uploads to the AWS bucket: "secret" (keys in a Secrets Manager
    # secret the stack creates, read only by the functions that start egress: LiveKit Cloud) or "host"
    # (no keys in the request: a self-hosted egress uses its host's IAM role).
    egress_credentials: str = "secret"
    # ARN of an existing Secrets Manager secret {"key_id", "key"} signing attendance exports and erasure
    # proofs (the platform verifies with the same key); empty: the stack generates one.
    evidence_signing_secret_arn: str = ""
    snap_start: bool = False
    sweep_rate_minutes: int = 1
    booking_events_source: str = "booking-platform"
    alarm_email: str = ""
    sip_numbers: dict[str, Any] = field(default_factory=dict)
    sip_outbound_trunk_id: str = ""
    api_throttle_rate_limit: int = 50
    api_throttle_burst_limit: int = 100
    webhook_throttle_rate_limit: int = 50
    webhook_throttle_burst_limit: int = 100
    cors_allow_origins: list[str] = field(default_factory=list)
    reserved_concurrency: dict[str, int] = field(default_factory=dict)
    layer_dependencies: bool = True

    @property
    def is_production(self) -> bool:
        return self.stage == "prod"

    @property
    def stack_name(self) -> str:
        return f"Rooms-{self.stage}"

    def placeholders(self) -> list[str]:
        """Settings still at their shipped placeholder values (fine to synth, wrong to deploy)."""
        found = []
        if any(host in self.jwt_issuer for host in PLACEHOLDER_HOSTS):
            found.append("jwtIssuer")
        if any(host in self.livekit_url for host in PLACEHOLDER_HOSTS):
            found.append("livekitUrl")
        return found

    @classmethod
    def from_node(cls, node: Node) -> RoomsConfig:
        def get(name: str, default: Any) -> Any:
            value = node.try_get_context(name)
            return default if value is None else value

        d = cls()
        config = cls(
            stage=str(get("stage", d.stage)),
            jwt_issuer=str(get("jwtIssuer", d.jwt_issuer)),
            jwt_audience=_str_list(get("jwtAudience", d.jwt_audience)),
            livekit_url=str(get("livekitUrl", d.livekit_url)),
            log_level=str(get("logLevel", d.log_level)).upper(),
            log_retention_days=_int(get("logRetentionDays", d.log_retention_days), "logRetentionDays", 1),
            recordings_archive_days=_int(
                get("recordingsArchiveDays", d.recordings_archive_days), "recordingsArchiveDays", 1
            ),
            recordings_expire_days=_int(
                get("recordingsExpireDays", d.recordings_expire_days), "recordingsExpireDays", 1
            ),
            recordings_s3_endpoint=str(get("recordingsS3Endpoint", "")),
            recordings_bucket_name=str(get("recordingsBucketName", "")),
            recordings_s3_secret_arn=str(get("recordingsS3SecretArn", "")),
            egress_credentials=str(get("egressCredentials", d.egress_credentials)).strip().lower(),
            evidence_signing_secret_arn=str(get("evidenceSigningSecretArn", "")).strip(),
            snap_start=_bool(get("snapStart", False)),
            sweep_rate_minutes=_int(get("sweepRateMinutes", d.sweep_rate_minutes), "sweepRateMinutes", 1),
            booking_events_source=str(get("bookingEventsSource", d.booking_events_source)),
            alarm_email=str(get("alarmEmail", "")),
            sip_numbers=dict(_json(get("sipNumbers", {})) or {}),
            sip_outbound_trunk_id=str(get("sipOutboundTrunkId", "")),
            api_throttle_rate_limit=_int(
                get("apiThrottleRateLimit", d.api_throttle_rate_limit), "apiThrottleRateLimit", 1
            ),
            api_throttle_burst_limit=_int(
                get("apiThrottleBurstLimit", d.api_throttle_burst_limit), "apiThrottleBurstLimit", 1
            ),
            webhook_throttle_rate_limit=_int(
                get("webhookThrottleRateLimit", d.webhook_throttle_rate_limit), "webhookThrottleRateLimit", 1
            ),
            webhook_throttle_burst_limit=_int(
                get("webhookThrottleBurstLimit", d.webhook_throttle_burst_limit), "webhookThrottleBurstLimit", 1
            ),
            cors_allow_origins=_str_list(get("corsAllowOrigins", [])),
            reserved_concurrency={
                name: _int(count, f"reservedConcurrency.{name}")
                for name, count in (_json(get("reservedConcurrency", {})) or {}).items()
            },
            layer_dependencies=_bool(get("layerDependencies", True)),
        )
        config.validate()
        return config

    def validate(self) -> None:
        if not self.jwt_issuer.startswith("https://"):
            raise ValueError("context 'jwtIssuer' must be an https:// URL (API Gateway requires it)")
        if not self.jwt_audience:
            raise ValueError("context 'jwtAudience' must name at least one audience")
        if not self.livekit_url.startswith(("https://", "wss://", "http://", "ws://")):
            raise ValueError("context 'livekitUrl' must be a http(s):// or ws(s):// URL")
        if self.recordings_expire_days <= self.recordings_archive_days:
            raise ValueError("context 'recordingsExpireDays' must be greater than 'recordingsArchiveDays'")
        if self.recordings_s3_endpoint and not self.recordings_bucket_name:
            raise ValueError("context 'recordingsS3Endpoint' (R2) needs 'recordingsBucketName' too")
        if self.recordings_s3_endpoint and not self.recordings_s3_secret_arn.startswith("arn:"):
            # R2 refuses requests signed by the Lambda role: without the store's keys nothing works
            raise ValueError(
                "context 'recordingsS3Endpoint' (R2) needs 'recordingsS3SecretArn': the ARN of a Secrets "
                'Manager secret {"access_key": ..., "secret": ...} holding the store\'s API token'
            )
        if self.recordings_s3_secret_arn and not self.recordings_s3_endpoint:
            raise ValueError("context 'recordingsS3SecretArn' is only for an S3-compatible store: set "
                             "'recordingsS3Endpoint' too (the AWS bucket is reached with the functions' role)")
        if self.evidence_signing_secret_arn and not self.evidence_signing_secret_arn.startswith("arn:"):
            raise ValueError(
                "context 'evidenceSigningSecretArn' must be the complete ARN of a Secrets Manager secret "
                '{"key_id": ..., "key": ...} (empty: the stack generates the key)'
            )
        if self.egress_credentials not in EGRESS_CREDENTIALS:
            raise ValueError(
                f"context 'egressCredentials' must be one of {sorted(EGRESS_CREDENTIALS)}, "
                f"got {self.egress_credentials!r}"
            )
        if self.is_production and self.placeholders():
            # a stack deployed with them answers 401 to every request
            raise ValueError(
                f"stage=prod with placeholder context {', '.join(repr(p) for p in self.placeholders())}: "
                "set the real JWT issuer and LiveKit URL (infra/README.md, Deploying)"
            )
        if self.log_level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"context 'logLevel' {self.log_level!r} is not a Python log level")
        for origin in self.cors_allow_origins:
            _check_origin(origin, production=self.is_production)
        for region, entry in self.sip_numbers.items():
            if not isinstance(entry, dict) or not entry.get("number") or not entry.get("trunk_id"):
                # the functions' Settings refuse an entry without either, so fail at synth, not at runtime
                raise ValueError(
                    f"context 'sipNumbers.{region}' must be an object with a 'number' and a LiveKit 'trunk_id'"
                )
