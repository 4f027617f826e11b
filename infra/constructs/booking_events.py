"""The booking platform's events → ``booking_events``: one rule on the service's bus.

The platform puts its events (`DETAIL_TYPES`) with its source (context `bookingEventsSource`, default
`booking-platform`) on this bus. EventBridge invokes the function asynchronously: the function's own
failures (a malformed event, with its reason) go to its failure queue after Lambda's retries
(infra/constructs/functions.py); delivery failures (Lambda throttled or unavailable past the rule's
retries) go to the same queue from the rule's target. The local stack delivers with the same pattern
(rooms_local/event_bus.py), and a test keeps the two and the layer's list equal.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

DETAIL_TYPES = (
    "Booking Confirmed",
    "Booking Rescheduled",
    "Booking Cancelled",
    "Session Scheduled",
    "Session Rescheduled",
    "Session Cancelled",
    "Attendee Confirmed",
    "Attendee Cancelled",
)


def booking_event_pattern(source: str) -> dict[str, list[str]]:
    """The rule's event pattern, as EventBridge JSON (also what the local stack's rule uses)."""
    return {"source": [source], "detail-type": list(DETAIL_TYPES)}


def _function_rule(scope: Construct, *, description: str, bus: events.IEventBus, pattern: dict[str, list[str]],
                   function: lambda_.IFunction, dead_letter_queue: sqs.IQueue, retry_attempts: int,
                   max_event_age: Duration) -> events.Rule:
    """A rule on the service's bus invoking ``function`` asynchronously; what the rule cannot deliver goes
    to the function's failure queue, as the function's own failures do."""
    return events.Rule(
        scope,
        "Rule",
        description=description,
        event_bus=bus,
        event_pattern=events.EventPattern(source=pattern["source"], detail_type=pattern["detail-type"]),
        targets=[targets.LambdaFunction(function, dead_letter_queue=dead_letter_queue,
                                        retry_attempts=retry_attempts, max_event_age=max_event_age)],
    )


class BookingEventsRule(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, bus: events.IEventBus, source: str,
                 function: lambda_.IFunction, dead_letter_queue: sqs.IQueue) -> None:
        super().__init__(scope, construct_id)
        self.rule = _function_rule(
            self, description="Booking platform events (booking lifecycle) to the booking_events function",
            bus=bus, pattern=booking_event_pattern(source), function=function, dead_letter_queue=dead_letter_queue,
            # A booking change must not be dropped while Lambda is throttled: retry for a day.
            retry_attempts=8, max_event_age=Duration.hours(24),
        )


DIAL_OUT_DETAIL_TYPES = ("Dial-Out Requested",)


def dial_out_event_pattern(source: str) -> dict[str, list[str]]:
    """The dial-out rule's pattern: the service's own request events (rooms.phone.dial_out)."""
    return {"source": [source], "detail-type": list(DIAL_OUT_DETAIL_TYPES)}


class DialOutRule(Construct):
    """``Dial-Out Requested`` (published by sip_dial) → the dial_out_worker function, asynchronously. No retry
    from the rule past an hour: a call placed much later than asked is no longer wanted."""

    def __init__(self, scope: Construct, construct_id: str, *, bus: events.IEventBus, source: str,
                 function: lambda_.IFunction, dead_letter_queue: sqs.IQueue) -> None:
        super().__init__(scope, construct_id)
        self.rule = _function_rule(
            self, description="Dial-out requests to the dial_out_worker function", bus=bus,
            pattern=dial_out_event_pattern(source), function=function, dead_letter_queue=dead_letter_queue,
            retry_attempts=3, max_event_age=Duration.hours(1),
        )
