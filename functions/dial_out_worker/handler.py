"""dial_out_worker: places a requested dial-out (the service's own ``Dial-Out Requested`` event, through an
EventBridge rule) and records its outcome (``rooms.phone.dial_out.place_dial_out``).

Asynchronous: it waits while the phone rings (``wait_until_answered``), which no HTTP request could. A
redelivered event never rings the phone twice (the attempt is claimed conditionally); an exception fails
the invocation, Lambda retries it, then the event goes to this function's failure queue.
"""

from rooms.clock import utcnow
from rooms.event_sources import EventBridgeEvent, event_source
from rooms.observability import logger, metrics, tracer
from rooms.phone.dial_out import place_dial_out
from rooms.settings import get_settings


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=EventBridgeEvent)
def handler(event: EventBridgeEvent, context):
    detail = event.detail
    room_id, dial_out_id = str(detail.get("room_id") or ""), str(detail.get("dial_out_id") or "")
    if not room_id or not dial_out_id:
        raise ValueError("Dial-Out Requested needs detail.room_id and detail.dial_out_id")
    logger.append_keys(room_id=room_id, dial_out_id=dial_out_id)
    return {"outcome": place_dial_out(room_id, dial_out_id, clock=utcnow, settings=get_settings())}
