"""Roles → LiveKit grants, and our hand-signed join token against LiveKit's own AccessToken/TokenVerifier."""

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from livekit import api

from rooms.room.grants import admitted_permission, video_grants
from rooms.room.tokens import mint_join_token

KEY, SECRET = "devkey", "secret"


def _verify(token: str) -> api.access_token.Claims:
    return api.TokenVerifier(KEY, SECRET).verify(token)


def _mint(role, waiting=False, now=None):
    return mint_join_token(
        api_key=KEY, api_secret=SECRET, room="r1", identity="u1", name="User One", role=role, jti="j1",
        now=now or datetime.now(UTC), ttl=timedelta(hours=2), waiting=waiting,
        metadata={"room_id": "r1", "booking_id": "b1"}, attributes={"rooms.role": role},
    )


EXPECTED = {
    "host": dict(room_join=True, can_publish=True, can_subscribe=True, can_publish_data=True,
                 room_admin=None, room_record=None, recorder=None, hidden=None),
    "participant": dict(room_join=True, can_publish=True, can_subscribe=True, can_publish_data=True,
                        room_admin=None, room_record=None, recorder=None, hidden=None),
    "viewer": dict(room_join=True, can_publish=False, can_subscribe=True, can_publish_data=False,
                   room_admin=None, room_record=None, recorder=None, hidden=None),
    "recorder": dict(room_join=True, can_publish=False, can_subscribe=True, can_publish_data=False,
                     room_admin=None, room_record=None, recorder=True, hidden=True),
}


@pytest.mark.parametrize("role", list(EXPECTED))
def test_each_role_carries_exactly_the_spec_grants(role):
    claims = _verify(_mint(role).jwt)
    got = {k: getattr(claims.video, k) for k in EXPECTED[role]}
    assert got == EXPECTED[role]
    assert claims.video.room == "r1"
    assert claims.video.room_create is None and claims.video.room_list is None
    assert not claims.video.ingress_admin and not (claims.sip and (claims.sip.admin or claims.sip.call))
    assert claims.identity == "u1" and claims.name == "User One"


@pytest.mark.parametrize("role", ["participant", "viewer"])
def test_waiting_room_token_can_neither_publish_nor_subscribe(role):
    video = _verify(_mint(role, waiting=True).jwt).video
    assert (video.room_join, video.can_publish, video.can_subscribe, video.can_publish_data) == (
        True, False, False, False)


def test_host_never_waits():
    video = _verify(_mint("host", waiting=True).jwt).video
    assert video.can_publish and video.can_subscribe and not video.room_admin


def test_same_claims_as_livekit_access_token():
    """Our PyJWT signing writes what livekit-api's AccessToken writes for the same grants."""
    now = datetime.now(UTC)
    ours = jwt.decode(_mint("host", now=now).jwt, SECRET, algorithms=["HS256"], options={"verify_aud": False})
    theirs_token = (
        api.AccessToken(KEY, SECRET)
        .with_identity("u1").with_name("User One")
        .with_grants(api.VideoGrants(room_join=True, room="r1", can_publish=True, can_subscribe=True,
                                     can_publish_data=True))
        .with_metadata('{"booking_id":"b1","room_id":"r1"}')
        .with_attributes({"rooms.role": "host"})
        .with_ttl(timedelta(hours=2)).to_jwt()
    )
    theirs = jwt.decode(theirs_token, SECRET, algorithms=["HS256"])
    ours.pop("jti")
    for claims in (ours, theirs):
        claims.pop("nbf"), claims.pop("exp")
    assert ours == theirs


def test_expiry_is_the_ttl_and_expired_tokens_fail_verification():
    issued = datetime.now(UTC) - timedelta(hours=3)
    token = _mint("participant", now=issued)
    assert token.expires_at - token.issued_at == timedelta(hours=2)
    with pytest.raises(jwt.ExpiredSignatureError):
        _verify(token.jwt)


def test_wrong_secret_fails_verification():
    with pytest.raises(jwt.InvalidSignatureError):
        api.TokenVerifier(KEY, "other-secret").verify(_mint("host").jwt)


def test_admitted_permission_matches_role_grants():
    assert admitted_permission("participant") == {"can_publish": True, "can_subscribe": True,
                                                  "can_publish_data": True}
    assert admitted_permission("viewer") == {"can_publish": False, "can_subscribe": True,
                                             "can_publish_data": False}
    assert video_grants("viewer", "x")["room"] == "x"


def test_room_config_claim_is_what_access_token_writes_and_livekit_reads():
    """The roomConfig claim (LiveKit auto-creates a missing room with it) equals AccessToken's
    with_room_config for the same RoomConfiguration, and TokenVerifier parses it back to it."""
    from livekit.protocol.room import RoomConfiguration

    from rooms.livekit_gateway.room_service import RoomConfig

    config = RoomConfig(name="r1", max_participants=3, empty_timeout=1200, departure_timeout=20,
                        metadata='{"room_id":"r1"}')
    ours = mint_join_token(api_key=KEY, api_secret=SECRET, room="r1", identity="u1", name="", role="participant",
                           jti="j1", now=datetime.now(UTC), ttl=timedelta(minutes=10),
                           room_config=config.claim()).jwt
    expected = RoomConfiguration(name="r1", max_participants=3, empty_timeout=1200, departure_timeout=20,
                                 metadata='{"room_id":"r1"}')
    theirs = (api.AccessToken(KEY, SECRET).with_identity("u1")
              .with_grants(api.VideoGrants(room_join=True, room="r1")).with_room_config(expected).to_jwt())
    decode = lambda t: jwt.decode(t, SECRET, algorithms=["HS256"])["roomConfig"]  # noqa: E731
    assert decode(ours) == decode(theirs)
    assert _verify(ours).room_config == expected
    assert config.message(api) == expected


def test_join_tokens_are_short_lived_by_default_and_two_hours_at_most(monkeypatch):
    """Self-hosted LiveKit ignores revoke_token_ts: a join token's lifetime bounds its reuse."""
    import pydantic

    from rooms.settings import Settings

    monkeypatch.delenv("TOKEN_TTL_SECONDS", raising=False)
    assert Settings().token_ttl_seconds == 600
    assert Settings(token_ttl_seconds=7200).token_ttl_seconds == 7200
    with pytest.raises(pydantic.ValidationError):
        Settings(token_ttl_seconds=7201)
