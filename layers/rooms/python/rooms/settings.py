"""One typed settings object, parsed once from the environment.

Every knob of a deployment lives here; nothing else in the package reads ``os.environ``.

The environment is read here rather than by pydantic-settings' ``BaseSettings``: importing
pydantic-settings costs ~200 M instructions of every cold start (a fifth of ``import boto3;
boto3.client("dynamodb")``; its sources package imports argparse, asyncio, python-dotenv and the cloud
providers' sources, `make bench BENCH=cold_start`), and of it we used only the environment source, which
is ``_environment`` below: a variable named like the field in any case, JSON for fields holding a
structure, keyword arguments over the environment. Pydantic validates as before.
"""

import json
import os
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, get_origin

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class SipNumber(BaseModel):
    """One regional dial-in number and the LiveKit SIP inbound trunk that receives its calls."""

    number: str = Field(pattern=r"^\+[1-9]\d{6,14}$", description="E.164")
    trunk_id: str = Field(min_length=1, description="LiveKit SIP inbound trunk id (ST_…)")


class Settings(BaseModel):
    """``Settings()`` reads the environment; keyword arguments override it (as ``BaseSettings`` did)."""

    model_config = ConfigDict(extra="ignore", frozen=True, validate_default=True)

    def __init__(self, **values: Any) -> None:
        super().__init__(**{**_environment(os.environ, type(self)), **values})

    table_name: str = Field("rooms", description="The single DynamoDB table")

    # LiveKit: in AWS the key/secret come from Secrets Manager (LIVEKIT_SECRET_ARN, a JSON secret
    # {"api_key", "api_secret"}); the plain variables are for the local stack only.
    livekit_url: str = "http://127.0.0.1:7880"
    livekit_client_url: str | None = Field(
        None, description="URL handed to clients in token responses; defaults to LIVEKIT_URL as ws(s)://"
    )
    livekit_secret_arn: str | None = None
    livekit_api_key: str | None = None
    livekit_api_secret: SecretStr | None = None
    livekit_secret_max_age_seconds: int = 300
    livekit_timeout_seconds: float = Field(
        8.0, gt=0, le=60, description="Bound on every LiveKit API call (livekit-api itself waits forever)"
    )

    # Join tokens gate only the first connection (LiveKit refreshes connected clients' tokens), and
    # self-hosted LiveKit ignores revoke_token_ts: a short lifetime bounds how long a revoked or removed
    # member's token can be used to try again. Two hours is the ceiling.
    token_ttl_seconds: int = Field(600, ge=60, le=7200, description="Join-token lifetime (s); at most 2 h")
    empty_timeout_seconds: int = Field(600, ge=10)
    departure_timeout_seconds: int = Field(20, ge=0)
    open_lead_minutes: int = Field(15, ge=0, description="LiveKit rooms open this long before start")
    end_grace_minutes: int = Field(30, ge=0, description="Rooms end this long after scheduled end")
    # The sweeper: how many past days' due buckets it reads (work left behind by an outage longer than
    # this is not picked up), how long a claimed item is reserved before another sweep may retry it,
    # and how many due items one invocation handles (the rest waits for the next run).
    sweep_lookback_days: int = Field(2, ge=0, le=31)
    sweep_lease_seconds: int = Field(300, ge=30)
    sweep_max_items: int = Field(500, ge=1)
    live_check_minutes: int = Field(
        5, ge=1, description="How often the sweeper reconciles an open room that has no scheduled end"
    )

    recordings_bucket: str | None = None
    recordings_prefix: str = "recordings/"
    # An S3-compatible store instead of S3 (R2: https://<account>.r2.cloudflarestorage.com, region
    # "auto", path style). Keys: from Secrets Manager (RECORDINGS_S3_SECRET_ARN, JSON {"access_key",
    # "secret"}), or the plain variables (local stack); none → IAM role (and egress host credentials).
    recordings_s3_endpoint: str | None = None
    recordings_s3_region: str | None = None
    recordings_s3_force_path_style: bool = False
    recordings_s3_secret_arn: str | None = None
    recordings_s3_access_key: str | None = None
    recordings_s3_secret: SecretStr | None = None
    # Keys the egress requests carry to upload to S3 (LiveKit Cloud egress has no identity in the
    # account); JSON {"access_key", "secret"}. Only egress uses them: the functions keep their IAM role.
    recordings_egress_secret_arn: str | None = None
    recordings_url_ttl_seconds: int = Field(300, ge=30, le=43200, description="Presigned recording URL lifetime")
    recordings_archive_days: int = Field(30, ge=1, description="Recordings move to archive storage after this")
    recordings_archive_storage_class: str = "GLACIER_IR"
    event_bus_name: str = "default"
    webhook_work_queue_url: str | None = Field(
        None, description="SQS queue of the webhooks' follow-up work, for webhook_worker (rooms.work_queue)")
    booking_events_source: str = Field(
        "booking-platform",
        description="The EventBridge source of the booking platform's events (rooms.lifecycle.booking_events)",
    )

    # Phone (LiveKit SIP). SIP_NUMBERS is JSON: {"US": {"number": "+1…", "trunk_id": "ST_…"}, "UK": …, "AU": …}
    sip_numbers: dict[str, SipNumber] = Field(default_factory=dict)
    sip_outbound_trunk_id: str | None = Field(None, description="LiveKit SIP outbound trunk for dial-out")
    sip_pin_length: int = Field(6, ge=1, le=12, description="Dial-in PIN digits (LiveKit accepts up to 16)")
    sip_hide_phone_numbers: bool = Field(
        True, description="Hide callers' numbers from other participants (LiveKit hide_phone_number)"
    )
    sip_dial_out_limit: int = Field(5, ge=1, description="Dial-outs allowed per room per window")
    sip_dial_out_window_seconds: int = Field(600, ge=10)
    sip_call_me_limit: int = Field(2, ge=1, description="Calls a member may ask for themselves (sip.call_me) per "
                                                        "window, besides the room's limit (toll-fraud guard)")
    sip_ringing_timeout_seconds: int = Field(30, ge=1, le=80)

    # Evidence. Retention periods count from the room's end; the sweeper enforces them
    # through the due index (rooms.evidence.retention); audit entries also carry a DynamoDB TTL. A legal hold
    # on a room blocks all of it. Defaults: 6 years for billing/audit evidence (HIPAA 45 CFR
    # 164.316(b)(2) keeps documentation 6 years), a year of recordings, 90 days of quality samples.
    audit_retention_days: int = Field(2190, ge=1)
    attendance_retention_days: int = Field(2190, ge=1)
    quality_retention_days: int = Field(90, ge=1)
    recordings_retention_days: int = Field(365, ge=1)
    # The attendance export's HMAC-SHA256 key: from Secrets Manager (EVIDENCE_SIGNING_SECRET_ARN, JSON
    # {"key_id", "key"}; read and cached by rooms.evidence.export.signing_key) in AWS, the plain variables locally.
    evidence_signing_secret_arn: str | None = None
    evidence_signing_secret_max_age_seconds: int = Field(300, ge=0, description="Cache age of the key (s)")
    evidence_signing_key: SecretStr | None = None
    evidence_signing_key_id: str = "local"

    @property
    def client_url(self) -> str:
        if self.livekit_client_url:
            return self.livekit_client_url
        url = self.livekit_url
        if url.startswith("https://"):
            return "wss://" + url.removeprefix("https://")
        if url.startswith("http://"):
            return "ws://" + url.removeprefix("http://")
        return url


def _environment(environ: Mapping[str, str], model: type[BaseModel]) -> dict[str, Any]:
    """The fields' values in ``environ``: the variable named like the field, case-insensitively (as
    pydantic-settings' environment source reads it), decoded from JSON for a field holding a dict or list."""
    by_name = {key.lower(): value for key, value in environ.items()}
    values: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name not in by_name:
            continue
        raw = by_name[name]
        if get_origin(info.annotation) in (dict, list):
            try:
                values[name] = json.loads(raw)
            except ValueError as err:
                raise ValueError(f"{name.upper()} is not valid JSON: {err}") from err
        else:
            values[name] = raw
    return values


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
