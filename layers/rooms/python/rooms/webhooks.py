"""LiveKit webhooks: verify, route to the domain handler for the event, apply at most once.

LiveKit delivers at least once and not always in order. So:
- the signature is checked over the raw body (``livekit_gateway.webhook``, as livekit-api's
  ``WebhookReceiver`` does);
- every handler writes its effects inside ``ctx.transaction()``, which carries the event-id marker, so a
  redelivered event changes nothing and a failed one can be retried;
- handlers use the event's own timestamps, never arrival time;
- events for rooms we don't know, and event types nobody handles, are acknowledged and logged.

Which handler applies which event is the explicit table ``HANDLERS`` at the end of this module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from rooms import store
from rooms.clock import iso
from rooms.errors import RoomsError, Unauthorized
from rooms.livekit_gateway import webhook as livekit_webhook
from rooms.livekit_gateway.client import livekit_credentials
from rooms.livekit_gateway.webhook import WebhookEvent
from rooms.observability import logger

Handler = Callable[[WebhookEvent, "WebhookContext"], None]


def verify_webhook(body: str, authorization: str | None) -> WebhookEvent:
    """The ``WebhookEvent`` of a correctly signed body; Unauthorized for a bad signature, RoomsError (400
    ``invalid_event``) for a signed body that is not an event."""
    if not authorization:
        raise Unauthorized("missing Authorization header", code="missing_signature")
    creds = livekit_credentials()
    try:
        return livekit_webhook.receive(body, authorization, api_key=creds.api_key, api_secret=creds.api_secret)
    except livekit_webhook.InvalidWebhookBody as err:  # signed by LiveKit's key, but not an event we can read
        raise RoomsError(str(err), code="invalid_event", field="body") from err
    except Exception as err:  # a bad signature
        raise Unauthorized(f"invalid webhook signature: {err}", code="invalid_signature") from err


@dataclass
class WebhookContext:
    event: WebhookEvent
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


def process_webhook(event: WebhookEvent, *, now: datetime) -> str:
    """Apply one verified event. Returns the outcome: handled, duplicate, stale, ignored or unknown_room."""
    log = {"event": event.event, "event_id": event.id}
    handler = HANDLERS.get(event.event)
    if handler is None:
        logger.info("webhook ignored: no handler", extra=log)
        return "ignored"
    name = event.room_name
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


# --- which handler applies which event -----------------------------------------------------------------

from rooms.attendance import webhooks as attendance_webhooks  # noqa: E402  (they import WebhookContext only for typing)
from rooms.lifecycle import room_webhooks  # noqa: E402
from rooms.recordings import egress_sync, ensure  # noqa: E402
from rooms.settings import get_settings  # noqa: E402


def track_published(event: WebhookEvent, ctx: WebhookContext) -> None:
    """Attendance notes the track; then an automatic/compliance room's egress is verified (started if
    LiveKit has none): the first publish is when a room composite starts recording."""
    attendance_webhooks.track_changed(event, ctx)
    ensure.verify_recording(ctx.room, settings=get_settings(), now=ctx.received_at, reason="track_published")


HANDLERS: dict[str, Handler] = {
    "room_started": room_webhooks.room_started,
    "room_finished": room_webhooks.room_finished,
    "participant_joined": attendance_webhooks.participant_joined,
    "participant_left": attendance_webhooks.participant_left,
    "participant_connection_aborted": attendance_webhooks.participant_left,
    "track_published": track_published,
    "track_unpublished": attendance_webhooks.track_changed,
    "egress_started": egress_sync.egress_event,
    "egress_updated": egress_sync.egress_event,
    "egress_ended": egress_sync.egress_event,
}
