"""EventBridge schedule driving the room sweeper."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import RoomsConfig


class SweeperSchedule(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: RoomsConfig,
        sweeper: lambda_.IFunction,
        dead_letter_queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self.rule = events.Rule(
            self,
            "Rule",
            description="Runs the room sweeper (open, end, reconcile due rooms)",
            schedule=events.Schedule.rate(Duration.minutes(config.sweep_rate_minutes)),
            targets=[
                targets.LambdaFunction(
                    sweeper,
                    # Delivery failures (throttled or unavailable Lambda) land in the sweeper's failure queue;
                    # stale runs are dropped: the next scheduled run does the same work.
                    dead_letter_queue=dead_letter_queue,
                    retry_attempts=2,
                    max_event_age=Duration.minutes(max(2, config.sweep_rate_minutes)),
                )
            ],
        )
