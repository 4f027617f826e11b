"""Context parsing: cdk.json defaults and `-c key=value` strings give the same typed settings."""

from __future__ import annotations

import pytest
from aws_cdk import App

from infra.app import cdk_json_context
from infra.config import RoomsConfig

pytestmark = pytest.mark.infra


def config_for(context: dict) -> RoomsConfig:
    return RoomsConfig.from_node(App(context={**cdk_json_context(), **context}).node)


def test_cdk_json_defaults():
    config = config_for({})
    assert config.stage == "dev"
    assert not config.is_production
    assert config.recordings_archive_days == 30
    assert config.recordings_expire_days == 365
    assert config.sweep_rate_minutes == 1
    assert config.sip_numbers == {}
    assert config.reserved_concurrency == {"room_sweeper": 1}
    assert set(config.placeholders()) == {"jwtIssuer", "livekitUrl"}
    assert config.snap_start is False and config.egress_credentials == "secret"


def test_command_line_strings_are_coerced():
    config = config_for(
        {
            "stage": "prod",
            "recordingsArchiveDays": "10",
            "recordingsExpireDays": "20",
            "sipNumbers": '{"UK": {"number": "+442000000000", "trunk_id": "ST_uk"}}',
            "jwtAudience": "a,b",
            "reservedConcurrency": "{}",
            "layerDependencies": "false",
            "jwtIssuer": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_X",
            "livekitUrl": "wss://p.livekit.cloud",
            "snapStart": "true",
            "egressCredentials": "host",
        }
    )
    assert config.is_production and config.stack_name == "Rooms-prod"
    assert (config.recordings_archive_days, config.recordings_expire_days) == (10, 20)
    assert config.sip_numbers["UK"]["trunk_id"] == "ST_uk"
    assert config.jwt_audience == ["a", "b"]
    assert config.reserved_concurrency == {}
    assert config.layer_dependencies is False
    assert config.snap_start is True and config.egress_credentials == "host"


def test_placeholders_are_only_warnings_outside_prod():
    config = config_for({"stage": "staging"})
    assert set(config.placeholders()) == {"jwtIssuer", "livekitUrl"}


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"jwtIssuer": "http://insecure"}, "jwtIssuer"),
        ({"recordingsArchiveDays": "400", "recordingsExpireDays": "365"}, "recordingsExpireDays"),
        ({"recordingsS3Endpoint": "https://r2.example"}, "recordingsBucketName"),
        # R2 refuses the Lambda role's signatures: the store's keys are required
        ({"recordingsS3Endpoint": "https://r2.example", "recordingsBucketName": "b"}, "recordingsS3SecretArn"),
        (
            {"recordingsS3Endpoint": "https://r2.example", "recordingsBucketName": "b",
             "recordingsS3SecretArn": "not-an-arn"},
            "recordingsS3SecretArn",
        ),
        ({"recordingsS3SecretArn": "arn:aws:secretsmanager:eu-west-1:1:secret:x"}, "recordingsS3Endpoint"),
        ({"egressCredentials": "keys"}, "egressCredentials"),
        # a prod stack with placeholders answers 401 to everything: an error, not a warning
        ({"stage": "prod"}, "jwtIssuer"),
        ({"stage": "prod", "jwtIssuer": "https://cognito-idp.eu-west-1.amazonaws.com/x"}, "livekitUrl"),
        ({"stage": "prod", "livekitUrl": "wss://p.livekit.cloud"}, "jwtIssuer"),
        ({"sweepRateMinutes": "0"}, "sweepRateMinutes"),
        ({"sipNumbers": '{"US": "+1555"}'}, "sipNumbers"),
        ({"sipNumbers": '{"US": {"number": "+15550100"}}'}, "trunk_id"),
    ],
)
def test_bad_settings_fail_the_synth_with_the_setting_named(context, message):
    with pytest.raises(ValueError, match=message):
        config_for(context)


# prod refuses placeholders: the CORS cases need a deployable issuer and LiveKit URL around them
_DEPLOYABLE = {"jwtIssuer": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_X",
               "livekitUrl": "wss://p.livekit.cloud"}


@pytest.mark.parametrize("origins, stage, error", [
    ("*", "prod", "not '*'"),
    ("http://app.bookings.test", "prod", "https:// in prod"),
    ("https://app.bookings.test/room/", "dev", "must be an origin"),
    ("app.bookings.test", "dev", "must be an origin"),
    ("https://*.bookings.test", "prod", "must be an origin"),
])
def test_cors_origins_are_origins_and_never_any_in_prod(origins, stage, error):
    with pytest.raises(ValueError, match=error):
        config_for({**_DEPLOYABLE, "stage": stage, "corsAllowOrigins": origins}).validate()


def test_cors_origins_the_web_app_needs_are_accepted():
    config_for({**_DEPLOYABLE, "stage": "prod",
                "corsAllowOrigins": "https://app.bookings.test,https://rooms.bookings.test:8443"}).validate()
    config_for({"stage": "dev", "corsAllowOrigins": "http://127.0.0.1:5173,*"}).validate()
