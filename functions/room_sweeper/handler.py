"""room_sweeper: the EventBridge schedule (every minute) → open, end and settle the rooms that are due.

The time is the schedule event's own ``time``, not the clock: a delayed or retried delivery does the
work of the minute it was scheduled for (and tests freeze time by choosing it).
"""

from rooms.clock import parse_iso
from rooms.event_sources import EventBridgeEvent, event_source
from rooms.lifecycle.sweeper import sweep
from rooms.observability import logger, metrics, tracer
from rooms.settings import get_settings


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=EventBridgeEvent)
def handler(event: EventBridgeEvent, context):
    logger.append_keys(schedule_event_id=event.get_id, scheduled_time=event.time)
    return sweep(parse_iso(event.time), get_settings())
