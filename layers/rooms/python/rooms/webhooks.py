"""LiveKit webhooks: verify, route to the domain handler for the event, apply at most once.

LiveKit delivers at least once and not always in order (LIVEKIT.md). So:
- the signature is checked over the raw body with livekit-api's ``WebhookReceiver``;
- every handler writes its effects inside ``ctx.transaction()``, which carries the event-id marker, so a
  redelivered event changes nothing and a failed one can be retried;
- handlers use the event's own timestamps, never arrival time;
- events for rooms we don't know, and event types nobody handles, are acknowledged and logged.

Domain modules register handlers with ``@on("event_name")``; ``rooms.webhook_routes`` imports them all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from rooms import store
from rooms.clock import iso
from rooms.errors import Unauthorized
from rooms.observability import logger

Handler = Callable[[Any, "WebhookContext"], None]
HANDLERS: dict[str, Handler] = {}


def on(*event_names: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for name in event_names:
            if name in HANDLERS:
                raise RuntimeError(f"two handlers for webhook event {name!r}")
            HANDLERS[name] = fn
        return fn

    return register


def verify_webhook(body: str, authorization: str | None) -> Any:
    """The ``WebhookEvent`` of a correctly signed body, else Unauthorized."""
    from livekit import api

    from rooms.livekit_gateway import livekit_credentials

    if not authorization:
        raise Unauthorized("missing Authorization header", code="missing_signature")
    creds = livekit_credentials()
    receiver = api.WebhookReceiver(api.TokenVerifier(creds.api_key, creds.api_secret))
    try:
        return receiver.receive(body, authorization)
    except Exception as err:  # livekit-api raises bare Exception / jwt errors for every failure kind
        raise Unauthorized(f"invalid webhook signature: {err}", code="invalid_signature") from err


def room_name_of(event: Any) -> str | None:
    if event.HasField("room") and event.room.name:
        return event.room.name
    if event.HasField("egress_info") and event.egress_info.room_name:
        return event.egress_info.room_name
    if event.HasField("ingress_info") and event.ingress_info.room_name:
        return event.ingress_info.room_name
    return None


@dataclass
class WebhookContext:
    event: Any
    room: store.RoomItem
    received_at: datetime

    @property
    def event_time(self) -> datetime:
        """When LiveKit says the event happened (``created_at``, unix seconds)."""
        if self.event.created_at:
            return datetime.fromtimestamp(self.event.created_at, UTC)
        return self.received_at

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """Apply this event's writes exactly once (raises store.DuplicateEvent on a redelivery)."""
        with store.applying_event(
            self.event.id,
            event=self.event.event,
            room_name=self.room.livekit_room,
            received_at=iso(self.received_at),
            expires_at=self.received_at + timedelta(seconds=store.webhook_events.EVENT_RETENTION_SECONDS),
        ) as tx:
            yield tx


def process_webhook(event: Any, *, now: datetime) -> str:
    """Apply one verified event. Returns the outcome: handled, duplicate, stale, ignored or unknown_room."""
    log = {"event": event.event, "event_id": event.id}
    handler = HANDLERS.get(event.event)
    if handler is None:
        logger.info("webhook ignored: no handler", extra=log)
        return "ignored"
    name = room_name_of(event)
    room = store.get_room(name) if name else None
    if room is None:
        logger.info("webhook for a room we don't know", extra={**log, "livekit_room": name})
        return "unknown_room"
    try:
        handler(event, WebhookContext(event=event, room=room, received_at=now))
    except store.DuplicateEvent:
        logger.info("webhook duplicate", extra={**log, "room_id": room.room_id})
        return "duplicate"
    except store.StaleEvent:
        logger.info("webhook stale: state already past it", extra={**log, "room_id": room.room_id})
        return "stale"
    return "handled"
