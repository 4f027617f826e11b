"""LiveKit webhooks in: check the signature, then read the body into our ``WebhookEvent`` dataclass.

LiveKit signs a webhook with a JWT (HS256, the API secret, issuer = the API key) in the Authorization
header whose ``sha256`` claim is the base64 SHA-256 of the raw body. livekit-api's ``WebhookReceiver``
does exactly that; we do the same checks with PyJWT directly because ``livekit.api`` costs ~0.5 s of
cold start (aiohttp and every service client) that a webhook never needs. A parity test holds the two
to the same accept/reject answers. The body is parsed with LiveKit's own generated ``WebhookEvent``
message (``google.protobuf.json_format``), and converted here so no domain module reads protobuf.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import jwt

from rooms.livekit_gateway.egress_service import EgressState, egress_state
from rooms.livekit_gateway.room_service import LiveParticipantInfo, LiveTrackInfo, participant_info, track_info

# livekit-api's TokenVerifier default
LEEWAY = timedelta(minutes=1)


class InvalidWebhook(Exception):
    """The signature is missing, does not verify, or does not cover this body."""


class InvalidWebhookBody(InvalidWebhook):
    """The signature verifies, but the body is not a LiveKit webhook event we can read (not an event
    message, no event type, or times outside ``MAX_UNIX_SECONDS``)."""


# Event times are unix seconds; anything past 2100-01-01 is not a time LiveKit sends (and 10**12 would
# overflow datetime), so it is refused rather than stored.
MAX_UNIX_SECONDS = 4_102_444_800


@dataclass(frozen=True)
class WebhookEvent:
    """What a LiveKit webhook says, in our vocabulary. ``participant`` and ``track`` are empty (not None)
    when the event carries none, as in LiveKit's message."""

    id: str
    event: str
    created_at: int  # unix seconds; 0 when absent
    room_name: str | None  # of the room, the egress or the ingress
    room_sid: str
    participant: LiveParticipantInfo = field(default_factory=lambda: EMPTY_PARTICIPANT)
    track: LiveTrackInfo = field(default_factory=lambda: EMPTY_TRACK)
    egress: EgressState | None = None


EMPTY_PARTICIPANT = LiveParticipantInfo(sid="", identity="", name="", kind="standard", joined_at=0,
                                        can_publish=False, can_subscribe=False, can_publish_data=False)
EMPTY_TRACK = LiveTrackInfo(sid="", type="unknown", source="unknown", muted=False)


def verify_signature(body: str, authorization: str, *, api_key: str, api_secret: str) -> None:
    """The checks of livekit-api's ``WebhookReceiver.receive`` (``TokenVerifier.verify`` + body hash)."""
    try:
        claims = jwt.decode(authorization, key=api_secret, issuer=api_key, algorithms=["HS256"],
                            leeway=LEEWAY.total_seconds(), options={"verify_signature": True, "require": ["exp"]})
    except jwt.PyJWTError as err:
        raise InvalidWebhook(str(err)) from err
    digest = claims.get("sha256") if isinstance(claims, dict) else None
    if not digest:
        raise InvalidWebhook("sha256 was not found in the token")
    try:
        claimed = base64.b64decode(digest)
    except (ValueError, TypeError) as err:
        raise InvalidWebhook("sha256 claim is not base64") from err
    if hashlib.sha256(body.encode()).digest() != claimed:
        raise InvalidWebhook("hash mismatch")


def parse_event(body: str) -> WebhookEvent:
    """A verified body → ``WebhookEvent`` (unknown fields ignored, as livekit-api does)."""
    from google.protobuf.json_format import Parse as parse_json
    from google.protobuf.json_format import ParseError
    from livekit.protocol.webhook import WebhookEvent as ProtoWebhookEvent

    try:
        message = parse_json(body, ProtoWebhookEvent(), ignore_unknown_fields=True)
    except (ParseError, TypeError, AttributeError, ValueError, RecursionError) as err:  # `null`, `[]`, ...
        raise InvalidWebhookBody(f"body is not a LiveKit webhook event: {err}") from err
    if not message.event:
        raise InvalidWebhookBody("body is not a LiveKit webhook event: no `event`")
    event = webhook_event(message)
    for name, value in (("createdAt", event.created_at), ("participant.joinedAt", event.participant.joined_at)):
        if not 0 <= value <= MAX_UNIX_SECONDS:
            raise InvalidWebhookBody(f"{name} {value} is not a unix time in seconds before 2100")
    if not event.id:
        # LiveKit always sets an id; without one, every id-less event would share one dedupe marker, so
        # the content stands in for it (a redelivery of the same body is still a duplicate).
        event = dataclasses.replace(event, id="sha256:" + hashlib.sha256(body.encode()).hexdigest())
    return event


def receive(body: str, authorization: str, *, api_key: str, api_secret: str) -> WebhookEvent:
    verify_signature(body, authorization, api_key=api_key, api_secret=api_secret)
    return parse_event(body)


def webhook_event(message: Any) -> WebhookEvent:
    """Our view of a ``livekit.WebhookEvent`` message."""
    return WebhookEvent(
        id=message.id,
        event=message.event,
        created_at=int(message.created_at),
        room_name=_room_name_of(message),
        room_sid=message.room.sid,
        participant=participant_info(message.participant) if message.HasField("participant") else EMPTY_PARTICIPANT,
        track=track_info(message.track) if message.HasField("track") else EMPTY_TRACK,
        egress=egress_state(message.egress_info) if message.HasField("egress_info") else None,
    )


def _room_name_of(message: Any) -> str | None:
    if message.HasField("room") and message.room.name:
        return message.room.name
    if message.HasField("egress_info") and message.egress_info.room_name:
        return message.egress_info.room_name
    if message.HasField("ingress_info") and message.ingress_info.room_name:
        return message.ingress_info.room_name
    return None
