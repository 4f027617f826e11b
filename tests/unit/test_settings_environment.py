"""The one settings object reads the environment as pydantic-settings' environment source did (the layer no
longer ships pydantic-settings: rooms/settings.py says why): a variable named like the field in any case,
JSON for the fields holding structures, keyword arguments over the environment, pydantic's validation."""

from __future__ import annotations

import pydantic
import pytest

from rooms.settings import Settings, SipNumber


@pytest.fixture
def environ(monkeypatch):
    def set_(**values: str) -> None:
        for key, value in values.items():
            monkeypatch.setenv(key, value)
    return set_


def test_variables_named_like_the_fields_in_any_case(environ):
    environ(TABLE_NAME="rooms-prod", token_ttl_seconds="900", Sip_Hide_Phone_Numbers="false",
            LIVEKIT_API_SECRET="s3cret", LIVEKIT_TIMEOUT_SECONDS="2.5")
    settings = Settings()
    assert settings.table_name == "rooms-prod"
    assert settings.token_ttl_seconds == 900
    assert settings.sip_hide_phone_numbers is False
    assert settings.livekit_api_secret.get_secret_value() == "s3cret"
    assert settings.livekit_timeout_seconds == 2.5


def test_structures_are_json(environ):
    environ(SIP_NUMBERS='{"US": {"number": "+15550001111", "trunk_id": "ST_us"}}')
    assert Settings().sip_numbers == {"US": SipNumber(number="+15550001111", trunk_id="ST_us")}
    environ(SIP_NUMBERS="{not json")
    with pytest.raises(ValueError, match="SIP_NUMBERS is not valid JSON"):
        Settings()


def test_keywords_override_the_environment_and_unknown_variables_are_ignored(environ):
    environ(TOKEN_TTL_SECONDS="900", TABLE_NAME="from-env", NOT_A_SETTING="x")
    settings = Settings(token_ttl_seconds=1200)
    assert (settings.token_ttl_seconds, settings.table_name) == (1200, "from-env")
    assert not hasattr(settings, "not_a_setting")


def test_values_are_validated_and_the_object_is_frozen(environ):
    environ(TOKEN_TTL_SECONDS="7201")
    with pytest.raises(pydantic.ValidationError, match="token_ttl_seconds"):
        Settings()
    environ(TOKEN_TTL_SECONDS="600")
    with pytest.raises(pydantic.ValidationError):
        Settings().table_name = "other"  # type: ignore[misc]
