"""LiveKit join tokens.

Why PyJWT and not ``livekit.api.AccessToken``: importing ``livekit.api`` loads aiohttp and every
LiveKit protocol module (~0.5 s, as long as boto3 itself), and the token route is the most called
user-facing path. The claims below are exactly what ``AccessToken.to_jwt`` writes (HS256, iss=API key,
sub=identity, nbf/exp, camelCase ``video`` grants, empty values left out); a unit test signs the same
grants with ``AccessToken`` and checks both decode identically with LiveKit's ``TokenVerifier``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from rooms.room.grants import Role, video_grants


@dataclass(frozen=True)
class JoinToken:
    jwt: str
    jti: str
    identity: str
    role: Role
    issued_at: datetime
    expires_at: datetime


def mint_join_token(
    *,
    api_key: str,
    api_secret: str,
    room: str,
    identity: str,
    name: str,
    role: Role,
    jti: str,
    now: datetime,
    ttl: timedelta,
    waiting: bool = False,
    metadata: dict | None = None,
    attributes: dict[str, str] | None = None,
    room_config: dict[str, object] | None = None,
) -> JoinToken:
    issued = now.replace(microsecond=0)
    expires = issued + ttl
    claims: dict[str, object] = {
        "video": video_grants(role, room, waiting=waiting),
        "sub": identity,
        "iss": api_key,
        "nbf": int(issued.timestamp()),
        "exp": int(expires.timestamp()),
        "jti": jti,
    }
    if name:
        claims["name"] = name
    if metadata:
        claims["metadata"] = json.dumps(metadata, separators=(",", ":"), sort_keys=True)
    if attributes:
        claims["attributes"] = attributes
    if room_config:  # LiveKit auto-creates a missing room with it (``RoomConfig.claim``)
        claims["roomConfig"] = room_config
    token = jwt.encode(claims, api_secret, algorithm="HS256")
    return JoinToken(jwt=token, jti=jti, identity=identity, role=role, issued_at=issued, expires_at=expires)
