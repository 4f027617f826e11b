"""The service's own EventBridge bus: what the platform subscribes to.

Events the service publishes (source `rooms`), for the platform to match with rules on this bus:
`Recording Available`, `Room No-Show`, `Room Ended`, `Room Rescheduled`, `Room Cancelled` (see
infra/README.md). The booking platform's own events come in on the same bus (constructs/booking_events.py).
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_events as events
from constructs import Construct

from infra.config import RoomsConfig

EVENT_SOURCE = "rooms"
DETAIL_TYPES = ("Recording Available", "Room No-Show", "Room Ended", "Room Rescheduled", "Room Cancelled")


class ServiceEvents(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: RoomsConfig) -> None:
        super().__init__(scope, construct_id)
        self.bus = events.EventBus(
            self,
            "Bus",
            description=f"Rooms service events ({config.stage}): {', '.join(DETAIL_TYPES)}",
        )
        # A replay window: a consumer that was down (or a rule added late) can replay what it missed.
        self.archive = self.bus.archive(
            "Archive",
            description="Rooms service events, for replay",
            event_pattern=events.EventPattern(source=[EVENT_SOURCE]),
            retention=Duration.days(30),
        )
        if not config.is_production:
            self.bus.apply_removal_policy(RemovalPolicy.DESTROY)
        # prod keeps the archived events (the replay source) when the stack is deleted
        self.archive.apply_removal_policy(RemovalPolicy.RETAIN if config.is_production else RemovalPolicy.DESTROY)
