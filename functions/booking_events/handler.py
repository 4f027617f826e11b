"""booking_events: the booking platform's events (EventBridge rule on the service's bus, source
``booking-platform``) → the same domain functions as the API (``rooms.lifecycle.booking_events``).

Invoked asynchronously by EventBridge: an exception fails the invocation, Lambda retries it, and then
the event goes to this function's failure queue with the exception's message (a malformed event: its
reason, naming the field). A success means applied, kept for a room that does not exist yet, or a
duplicate or stale delivery that changes nothing.
"""

from rooms.clock import utcnow
from rooms.event_sources import EventBridgeEvent, event_source
from rooms.lifecycle.booking_events import handle_booking_event
from rooms.observability import logger, metrics, tracer
from rooms.settings import get_settings


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=EventBridgeEvent)
def handler(event: EventBridgeEvent, context):
    logger.append_keys(booking_event_id=event.get_id, detail_type=event.detail_type)
    return {"outcome": handle_booking_event(event.raw_event, now=utcnow(), settings=get_settings())}
