"""LiveKit webhooks: verify, route to the domain handler for the event, apply at most once.

LiveKit delivers at least once and not always in order. So:
- the signature is checked over the raw body (``livekit_gateway.webhook``, as livekit-api's
  ``WebhookReceiver`` does);
- every handler writes its effects inside ``ctx.transaction()``, which carries the event-id marker, so a
  redelivered event changes nothing and a failed one can be retried;
- handlers use the event's own timestamps, never arrival time;
- events for rooms we don't know, and event types nobody handles, are acknowledged and logged.

Webhooks are answered fast (LiveKit sends a room's webhooks one at a time, without a timeout, and drops
those queued over 30 s behind a slow answer): a handler records the event's facts in DynamoDB only, and
leaves the slow work (calls to LiveKit, S3, EventBridge; a room's ending) with ``ctx.defer(kind, ...)``.
The work list is written in the event's own transaction (the marker's ``follow_up``: an outbox), then
queued (``rooms.work_queue``) for the ``webhook_worker`` function, which runs ``run_follow_up``: each
item by its kind through ``FOLLOW_UPS`` (the same domain functions, given the event, the room as it is
now, the item's arguments and the settings). Every follow-up is idempotent: SQS delivers at least once, and a
redelivered webhook whose follow-up is not done yet queues it again.

Which handler applies which event is the explicit table ``HANDLERS`` at the end of this module, which
follow-up does what the table ``FOLLOW_UPS``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from rooms import store, work_queue
from rooms.clock import iso, parse_iso
from rooms.errors import RoomsError, Unauthorized
from rooms.livekit_gateway import webhook as livekit_webhook
from rooms.livekit_gateway.client import livekit_credentials
from rooms.livekit_gateway.webhook import WebhookEvent
from rooms.observability import logger
from rooms.settings import Settings

Handler = Callable[[WebhookEvent, "WebhookContext"], None]
# a follow-up: (the event, the room as it is now, when the webhook was received, the item's arguments,
# settings=...)
FollowUp = Callable[..., None]


def verify_webhook(body: str, authorization: str | None, *, settings: Settings) -> WebhookEvent:
    """The ``WebhookEvent`` of a correctly signed body; Unauthorized for a bad signature, RoomsError (400
    ``invalid_event``) for a signed body that is not an event."""
    if not authorization:
        raise Unauthorized("missing Authorization header", code="missing_signature")
    creds = livekit_credentials(settings=settings)
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
    settings: Settings
    # the slow work this event leaves for the webhook worker: {"kind": ..., **arguments}
    follow_up: list[dict[str, Any]] = field(default_factory=list)

    def defer(self, kind: str, **arguments: Any) -> None:
        """Leave work for the webhook worker (``FOLLOW_UPS[kind]``). Call it before ``transaction()``:
        the work is written with the event's marker."""
        item = {"kind": kind, **arguments}
        if item not in self.follow_up:
            self.follow_up.append(item)

    def undefer(self, kind: str) -> None:
        self.follow_up = [w for w in self.follow_up if w["kind"] != kind]

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
            follow_up=json.dumps(self.follow_up, separators=(",", ":")) if self.follow_up else None,
        ) as tx:
            yield tx


def process_webhook(event: WebhookEvent, *, body: str, now: datetime, settings: Settings) -> str:
    """Apply one verified event (``body``: its raw JSON, which the follow-up message carries). Returns
    the outcome: handled, duplicate, stale, ignored or unknown_room."""
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
    ctx = WebhookContext(event=event, room=room, received_at=now, settings=settings)
    try:
        handler(event, ctx)
    except store.DuplicateEvent as dup:
        logger.info("webhook duplicate", extra={**log, "room_id": room.room_id})
        if dup.pending_follow_up:  # applied, but its follow-up may never have reached the queue
            _queue_follow_up(event, body, json.loads(dup.pending_follow_up), room_id=room.room_id, received_at=now)
        return "duplicate"
    except store.StaleEvent:
        logger.info("webhook stale: state already past it", extra={**log, "room_id": room.room_id})
        return "stale"
    if ctx.follow_up:
        _queue_follow_up(event, body, ctx.follow_up, room_id=room.room_id, received_at=now)
    return "handled"


def _queue_follow_up(event: WebhookEvent, body: str, work: list[dict[str, Any]], *, room_id: str,
                     received_at: datetime) -> None:
    work_queue.send({"event_id": event.id, "room_id": room_id, "received_at": iso(received_at), "body": body,
                     "work": work})
    logger.info("webhook follow-up queued", extra={"event_id": event.id, "event": event.event, "room_id": room_id,
                                                   "work": [w["kind"] for w in work]})


def run_follow_up(message: dict[str, Any], *, now: datetime, settings: Settings) -> list[str]:
    """The webhook worker's part: do a message's work items, in order, each through ``FOLLOW_UPS``, then
    note the marker's follow-up done. Raises when an item fails (the message is delivered again and every
    item runs again: they are idempotent). Returns the kinds done."""
    event = livekit_webhook.parse_event(message["body"])
    room = store.get_room(message["room_id"], consistent=True)
    if room is None:  # deleted meanwhile (erasure): nothing left to act on
        logger.info("webhook follow-up for a room that is gone", extra={"room_id": message["room_id"]})
        return []
    received_at = parse_iso(message["received_at"])
    done = []
    for item in message["work"]:
        arguments = {k: v for k, v in item.items() if k != "kind"}
        FOLLOW_UPS[item["kind"]](event, room, received_at, arguments, settings=settings)
        done.append(item["kind"])
    store.webhook_events.follow_up_done(event.id, at=iso(now))
    logger.info("webhook follow-up done", extra={"event_id": event.id, "room_id": room.room_id, "work": done})
    return done


# --- which handler applies which event -----------------------------------------------------------------

from rooms.attendance import webhooks as attendance_webhooks  # noqa: E402  (they import WebhookContext only for typing)
from rooms.lifecycle import room_webhooks  # noqa: E402
from rooms.recordings import egress_sync, ensure  # noqa: E402


def track_published(event: WebhookEvent, ctx: WebhookContext) -> None:
    """Attendance notes the track; an automatic/compliance room's egress is verified by the worker (started
    if LiveKit has none): the first publish is when a room composite starts recording."""
    if ensure.records_by_itself(ctx.room, ctx.settings):
        ctx.defer("verify_recording", reason="track_published")  # ListEgress (+ StartEgress): slow work
    attendance_webhooks.track_changed(event, ctx)


def verify_recording(event: WebhookEvent, room: store.RoomItem, received_at: datetime,
                     arguments: dict[str, Any], *, settings: Settings) -> None:
    """The worker's follow-up of room_started / track_published (``rooms.recordings.ensure``): reads the
    room as it is now, so a room that ended meanwhile is left alone; never raises for LiveKit's faults."""
    ensure.verify_recording(room, settings=settings, now=received_at,
                            reason=arguments.get("reason") or event.event)


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

FOLLOW_UPS: dict[str, FollowUp] = {
    "delete_livekit_room": room_webhooks.delete_livekit_room,
    "release_room": room_webhooks.release_finished_room,
    "remove_revoked": attendance_webhooks.remove_revoked,
    "remove_superseded": attendance_webhooks.remove_superseded,
    "readmit": attendance_webhooks.readmit,
    "publish_waiting": attendance_webhooks.publish_waiting,
    "check_egress_upload": egress_sync.check_egress_upload,
    "verify_recording": verify_recording,
}
