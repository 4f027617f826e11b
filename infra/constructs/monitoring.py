"""Alarms (errors, throttles, failure-queue depth, API 5xx, recording failures, webhook latency), the alarm
topic, and the operations dashboard.

Business metrics are emitted by the functions with Powertools Metrics (EMF) in namespace `Rooms` with the
default `service` dimension; their names are the contract below (documented in infra/README.md).
"""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import RoomsConfig
from infra.constructs.functions import METRICS_NAMESPACE, SERVICE_NAME
from rooms import metric_names

# Metric names the domain code emits: the same constants it emits them with (rooms.metric_names).
METRIC_ROOMS_CREATED = metric_names.ROOMS_CREATED
METRIC_JOINS = metric_names.PARTICIPANT_JOINS
METRIC_PHONE_JOINS = metric_names.PHONE_PARTICIPANT_JOINS
METRIC_NO_SHOWS = metric_names.NO_SHOWS
METRIC_RECONNECT_STORMS = metric_names.RECONNECT_STORMS
METRIC_RECORDING_FAILURES = metric_names.RECORDING_FAILURES
METRIC_SWEEP_DUE_ITEMS = metric_names.SWEEP_DUE_ITEMS  # emitted by every completed sweep (0 included): the heartbeat
METRIC_SWEEP_FAILURES = metric_names.SWEEP_FAILURES
METRIC_ROOMS_OPENED = metric_names.ROOMS_OPENED
METRIC_WEBHOOK_SIGNATURE_FAILURES = metric_names.WEBHOOK_SIGNATURE_FAILURES
METRIC_LIVEKIT_AUTH_FAILURES = metric_names.LIVEKIT_AUTH_FAILURES
# Phone (LiveKit SIP) failures, rooms.phone
METRIC_PHONE_FAILURES = (
    metric_names.PHONE_PINS_EXHAUSTED,
    metric_names.PHONE_DISPATCH_RULE_FAILURES,
    metric_names.PHONE_RELEASE_FAILURES,
    metric_names.PHONE_DIAL_OUT_FAILURES,
)
# A wrong webhook secret refuses every webhook (and LiveKit does not retry a 4xx): a few refusals in five
# minutes page; a single stray unsigned request does not.
WEBHOOK_SIGNATURE_FAILURES_THRESHOLD = 3
# The sweeper heartbeat: no completed sweep in this many periods pages (missing data is breaching).
SWEEPER_HEARTBEAT_PERIODS = 3

# LiveKit sends a room's webhooks one at a time and drops those queued over 30 s: the handler only records
# and queues (the slow work is webhook_worker's), so a p99 over a second means something is wrong.
WEBHOOK_P99_LATENCY_ALARM_MS = 1000
# The webhook follow-up queue's oldest message: revocations, releases and "Participant Waiting" are late.
WEBHOOK_WORK_BACKLOG_ALARM_SECONDS = 300
FIVE_MINUTES = Duration.minutes(5)


def service_metric(
    name: str, label: str | None = None, *, statistic: str = "Sum", period: Duration = FIVE_MINUTES
) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": SERVICE_NAME},
        statistic=statistic,
        period=period,
        label=label,
    )


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: RoomsConfig,
        functions: dict[str, lambda_.Function],
        failure_queues: dict[str, sqs.Queue],
        http_api: apigwv2.HttpApi,
        webhook_work_queue: sqs.Queue | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        # CloudWatch alarms cannot publish to a topic encrypted with the AWS-managed SNS key, so the topic
        # gets its own key that CloudWatch may use.
        key = kms.Key(
            self,
            "AlarmTopicKey",
            description=f"Encrypts the rooms ({config.stage}) alarm topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN if config.is_production else RemovalPolicy.DESTROY,
        )
        # Only this account's alarms in this region (CloudWatch passes aws:SourceArn/SourceAccount).
        from_our_alarms = {
            "ArnLike": {"aws:SourceArn": f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:*"},
            "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
        }
        cloudwatch_principal = iam.ServicePrincipal("cloudwatch.amazonaws.com")
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AlarmsEncryptToTheTopic",
                principals=[cloudwatch_principal],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy, "*" is this key
                conditions=from_our_alarms,
            )
        )
        self.topic = sns.Topic(
            self, "AlarmTopic", display_name=f"rooms {config.stage} alarms", master_key=key, enforce_ssl=True
        )
        # enforce_ssl gives the topic a policy of its own, which replaces SNS's default policy: without this
        # statement CloudWatch is refused sns:Publish and no alarm reaches anyone.
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AlarmsPublish",
                principals=[cloudwatch_principal],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions=from_our_alarms,
            )
        )
        if config.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        action = cw_actions.SnsAction(self.topic)

        self.alarms: list[cloudwatch.Alarm] = []

        def alarm(
            alarm_id: str,
            metric: cloudwatch.IMetric,
            description: str,
            threshold: float = 1,
            evaluation_periods: int = 1,
            comparison: cloudwatch.ComparisonOperator = (
                cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
            ),
            missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
        ) -> cloudwatch.Alarm:
            created = cloudwatch.Alarm(
                self,
                alarm_id,
                metric=metric,
                threshold=threshold,
                evaluation_periods=evaluation_periods,
                comparison_operator=comparison,
                treat_missing_data=missing,
                alarm_description=description,
            )
            created.add_alarm_action(action)
            self.alarms.append(created)
            return created

        for name, function in functions.items():
            alarm(
                f"{name}-errors",
                function.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
                f"{name}: invocation errors (unhandled exceptions or timeouts)",
            )
            alarm(
                f"{name}-throttles",
                function.metric_throttles(period=FIVE_MINUTES, statistic="Sum"),
                f"{name}: invocations throttled (concurrency limit reached)",
            )
        for name, queue in failure_queues.items():
            alarm(
                f"{name}-failures",
                queue.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES, statistic="Maximum"),
                f"{name}: work failed after retries (messages in its failure / dead-letter queue)",
            )
        if webhook_work_queue is not None:
            alarm(
                "webhook-work-backlog",
                webhook_work_queue.metric_approximate_age_of_oldest_message(period=FIVE_MINUTES, statistic="Maximum"),
                "webhook_worker is behind: the webhooks' follow-up work (removals, releases, Participant Waiting) "
                "waits in its queue",
                threshold=WEBHOOK_WORK_BACKLOG_ALARM_SECONDS,
            )
        alarm(
            "api-5xx",
            http_api.metric_server_error(period=FIVE_MINUTES, statistic="Sum"),
            "HTTP API answered 5xx (the contract is never a 500 for anything a caller can send)",
        )
        alarm(
            "recording-failures",
            service_metric(METRIC_RECORDING_FAILURES),  # no label: keeps the alarm a plain metric alarm
            "A recording failed or could not be started (egress refused, failed, or its file missing/invalid)",
        )
        webhook = functions.get("webhook_handler")
        sweeper = functions.get("room_sweeper")
        if sweeper is not None:
            alarm(
                "sweep-failures",
                service_metric(METRIC_SWEEP_FAILURES),
                "The sweeper failed due work (opening, ending or reconciling rooms); the next sweeps retry it",
            )
            heartbeat_period = Duration.minutes(max(5, config.sweep_rate_minutes))
            alarm(
                "sweeper-heartbeat",
                service_metric(METRIC_SWEEP_DUE_ITEMS, statistic="SampleCount", period=heartbeat_period),
                "No sweep completed: rooms are not opened, ended or reconciled (schedule, errors or timeouts)",
                evaluation_periods=SWEEPER_HEARTBEAT_PERIODS,
                comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                missing=cloudwatch.TreatMissingData.BREACHING,
            )
        alarm(
            "livekit-auth-failures",
            service_metric(METRIC_LIVEKIT_AUTH_FAILURES),
            "LiveKit refused the service's API key (rotated or wrong secret): rooms, tokens' rooms, "
            "recordings and phone calls all fail with 503 livekit_unauthenticated",
        )
        for name in METRIC_PHONE_FAILURES:
            alarm(f"phone-{name}", service_metric(name), f"Phone (LiveKit SIP): {name}")
        if webhook is not None:
            alarm(
                "webhook-signature-failures",
                service_metric(METRIC_WEBHOOK_SIGNATURE_FAILURES),
                "Webhooks refused for a bad signature: a wrong LiveKit key/secret stops all attendance "
                "(LiveKit does not retry a 4xx)",
                threshold=WEBHOOK_SIGNATURE_FAILURES_THRESHOLD,
            )
            alarm(
                "webhook-latency",
                webhook.metric_duration(period=FIVE_MINUTES, statistic="p99"),
                "webhook_handler p99 latency is high (LiveKit retries slow webhooks)",
                threshold=WEBHOOK_P99_LATENCY_ALARM_MS,
                evaluation_periods=3,
            )

        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            # dashboard names are account-global: the region lets two regions deploy the same stage
            dashboard_name=f"rooms-{config.stage}-{Aws.REGION}",
            default_interval=Duration.days(1),
        )

        def graph(title: str, *metrics: cloudwatch.IMetric, width: int = 8) -> cloudwatch.GraphWidget:
            return cloudwatch.GraphWidget(title=title, left=list(metrics), width=width, height=6)

        self.dashboard.add_widgets(
            graph("Rooms created", service_metric(METRIC_ROOMS_CREATED, "rooms created")),
            graph(
                "Joins",
                service_metric(METRIC_JOINS, "joins"),
                service_metric(METRIC_RECONNECT_STORMS, "reconnect storms"),
            ),
            graph("No-shows", service_metric(METRIC_NO_SHOWS, "no-shows")),
        )
        recording_failure_metrics: list[cloudwatch.IMetric] = [
            service_metric(METRIC_RECORDING_FAILURES, "recording failures")
        ]
        if "recording_processor" in failure_queues:
            recording_failure_metrics.append(
                failure_queues["recording_processor"].metric_approximate_number_of_messages_visible(
                    period=FIVE_MINUTES, statistic="Maximum", label="processor failure queue"
                )
            )
        latency: list[cloudwatch.IMetric] = []
        if webhook is not None:
            latency = [
                webhook.metric_duration(period=FIVE_MINUTES, statistic=stat, label=f"webhook {stat}")
                for stat in ("p50", "p90", "p99")
            ]
        self.dashboard.add_widgets(
            graph("Recording failures", *recording_failure_metrics),
            graph("Phone participation", service_metric(METRIC_PHONE_JOINS, "phone joins")),
            graph("Webhook latency (ms)", *latency),
        )
        sweeper_metrics: list[cloudwatch.IMetric] = [
            service_metric(METRIC_SWEEP_DUE_ITEMS, "due items"),
            service_metric(METRIC_SWEEP_FAILURES, "failures"),
            service_metric(METRIC_ROOMS_OPENED, "rooms opened"),
        ]
        if sweeper is not None:
            sweeper_metrics.append(sweeper.metric_errors(period=FIVE_MINUTES, statistic="Sum", label="errors"))
        self.dashboard.add_widgets(
            graph("Sweeper", *sweeper_metrics),
            graph(
                "Phone failures",
                *[service_metric(name, name) for name in METRIC_PHONE_FAILURES],
            ),
            graph(
                "Webhook signature failures",
                service_metric(METRIC_WEBHOOK_SIGNATURE_FAILURES, "refused webhooks"),
            ),
        )
        self.dashboard.add_widgets(
            graph(
                "HTTP API",
                http_api.metric_count(period=FIVE_MINUTES, statistic="Sum", label="requests"),
                http_api.metric_client_error(period=FIVE_MINUTES, statistic="Sum", label="4xx"),
                http_api.metric_server_error(period=FIVE_MINUTES, statistic="Sum", label="5xx"),
                width=12,
            ),
            graph(
                "Function errors",
                *[
                    f.metric_errors(period=FIVE_MINUTES, statistic="Sum", label=n)
                    for n, f in functions.items()
                ],
                width=12,
            ),
        )
