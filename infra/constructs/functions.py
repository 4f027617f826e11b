"""The shared layer and every Lambda of the service, each with its own role and only the access it needs.

One table, `FUNCTION_SPECS`, says per function: trigger, memory/timeout, table access, LiveKit, recordings,
events, SIP. Everything else (environment, IAM statements, async failure handling) is derived from it, so
a reviewer reads the least-privilege story in one place.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import AssetHashType, Duration, RemovalPolicy, Stack, Tags
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_lambda_event_sources as lambda_event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import RoomsConfig
from infra.constructs.data import DUE_INDEX, TABLE_READ_ACTIONS, TABLE_WRITE_ACTIONS
from infra.constructs.storage import RECORDINGS_PREFIX, RecordingsStorage
from infra.layer_build import LayerBuild, build_layer
from infra.nag import acknowledge

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = ROOT / "functions"

# One runtime for every function, the same Python the test suite runs (the Makefile picks python3.13);
# arm64 (Graviton) is cheaper per GB-second and the layer is built for it (infra/layer_build.py).
PYTHON_RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64
HANDLER = "handler.handler"

SERVICE_NAME = "rooms"
METRICS_NAMESPACE = "Rooms"
# How long the LiveKit gateway caches the secret (Powertools parameters) in a warm execution environment.
SECRET_CACHE_SECONDS = 300

# Tag carrying the function's project name (functions/<name>); cost reports and tests key on it.
FUNCTION_TAG = "rooms:function"

READ = "read"
READ_WRITE = "read_write"

HTTP = "http"
# an HTTP API route with no authorizer (LiveKit's signature is the check), throttled on its own
WEBHOOK = "webhook"
S3_OBJECT_CREATED = "s3"
SCHEDULE = "schedule"
EVENT_RULE = "event_rule"  # an EventBridge rule on the service's bus (infra/constructs/booking_events.py)
WEBHOOK_WORK = "webhook_work"  # the webhook follow-up queue (SQS event source, partial batch failures)

# The webhook follow-up queue (rooms.work_queue → webhook_worker); the local stack uses the same numbers
# (rooms_local/webhook_work.py). A message whose work failed comes back after the visibility timeout
# (6 x the worker's timeout, as AWS advises for SQS event sources) and goes to the dead-letter queue
# (alarmed) after MAX_RECEIVE_COUNT receives.
WEBHOOK_WORK_MAX_RECEIVE_COUNT = 3
WEBHOOK_WORK_BATCH_SIZE = 10


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    description: str
    trigger: str
    memory_mb: int
    timeout_seconds: int
    table: str = READ_WRITE
    queries_due_index: bool = False
    livekit: bool = False
    # RECORDINGS_* environment (functions that start egress or handle recording records)
    recordings_env: bool = False
    # S3 actions on recordings/* of the recordings bucket
    recordings_object_actions: tuple[str, ...] = ()
    publishes_events: bool = False
    sip_numbers: bool = False
    sip_outbound: bool = False
    # signs attendance exports or erasure proofs: reads the evidence signing key (infra/constructs/evidence.py)
    signs_evidence: bool = False
    # queues webhook follow-up work (rooms.work_queue): sqs:SendMessage on that queue, WEBHOOK_WORK_QUEUE_URL
    queues_webhook_work: bool = False

    @property
    def checks_objects(self) -> bool:
        """HeadObject/GetObject on recordings: these roles also get s3:ListBucket, without which S3
        answers a missing key with 403 instead of 404 (see rooms.recording_storage)."""
        return "s3:GetObject" in self.recordings_object_actions

    @property
    def deletes_recording_versions(self) -> bool:
        """Deletes recordings for good: every version of the object (the bucket is versioned), which it
        lists first (s3:ListBucketVersions on the recordings prefix)."""
        return "s3:DeleteObjectVersion" in self.recordings_object_actions

    @property
    def starts_egress(self) -> bool:
        """Builds egress requests (rooms.recordings.file_target): reads the egress upload credentials."""
        return self.livekit and self.recordings_env

    @property
    def user_facing(self) -> bool:
        """Serves the platform's users through the HTTP API: the functions SnapStart is offered for."""
        return self.trigger == HTTP

    @property
    def is_async(self) -> bool:
        """Invoked asynchronously (S3, schedules): failures go to a queue instead of back to a caller."""
        return self.trigger in (S3_OBJECT_CREATED, SCHEDULE, EVENT_RULE)


# Memory buys CPU on Lambda: the HTTP functions get 512 MB so cold starts (pydantic, pynamodb, the LiveKit
# client) stay short; API Gateway waits at most 30 s, so HTTP timeouts stay well under it.
FUNCTION_SPECS: tuple[FunctionSpec, ...] = (
    FunctionSpec(
        "create_room",
        "Create or return the room of a booking or service-session occurrence",
        HTTP,
        512,
        15,
        livekit=True,
        sip_numbers=True,
        # a room created inside its open window opens at once (auto-recording target: RECORDINGS_*)
        recordings_env=True,
        # applying booking events that came before the room (rooms.lifecycle.booking_events) may publish them
        publishes_events=True,
    ),
    FunctionSpec(
        "room_admin",
        "Platform administration: members, reschedule, cancel, ending rooms, templates",
        HTTP,
        512,
        20,
        livekit=True,
        # ending a room reconciles its recordings (HeadObject/GetObject) and may announce one available
        recordings_env=True,
        recordings_object_actions=("s3:GetObject",),
        publishes_events=True,
        signs_evidence=True,  # DELETE /users/{user_id}/data: the signed proof of erasure
    ),
    FunctionSpec(
        "room_query",
        "Members read a room (by id, booking or session)",
        HTTP,
        512,
        10,
        table=READ,
    ),
    FunctionSpec(
        "issue_token",
        "LiveKit join tokens; creates the LiveKit room just in time",
        HTTP,
        512,
        15,
        livekit=True,
        recordings_env=True,
        sip_numbers=True,
    ),
    FunctionSpec(
        "room_control",
        "Host controls (participants, attendance, admit, mute, remove) and quality samples",
        HTTP,
        512,
        20,
        livekit=True,
        signs_evidence=True,  # GET /rooms/{room_id}/attendance/export: the signed export
    ),
    FunctionSpec(
        "recording_control",
        "Start/stop/list recordings, consent, presigned URLs",
        HTTP,
        512,
        20,
        livekit=True,
        recordings_env=True,
        # presigned GETs, deletion with every version; it never writes (egress uploads with its own keys)
        recordings_object_actions=("s3:GetObject", "s3:DeleteObject", "s3:DeleteObjectVersion"),
    ),
    FunctionSpec(
        "sip_dial",
        "Phone dial-in details; dial-out requests (placed by dial_out) and their outcomes",
        HTTP,
        512,
        20,
        livekit=True,
        sip_numbers=True,
        sip_outbound=True,
        publishes_events=True,  # Dial-Out Requested, picked up by the dial_out_worker function
    ),
    FunctionSpec(
        "webhook_handler",
        "LiveKit webhooks: verify, record, queue the slow work (the webhook signature is the authentication)",
        WEBHOOK,
        512,
        30,
        # it only reads the LiveKit key (the signature) and records facts; calls to LiveKit, S3 and
        # EventBridge are webhook_worker's
        livekit=True,
        recordings_env=True,
        queues_webhook_work=True,
    ),
    FunctionSpec(
        "webhook_worker",
        "The slow work LiveKit webhooks leave: LiveKit calls, uploads checked, events, rooms released",
        WEBHOOK_WORK,
        512,
        60,
        livekit=True,
        recordings_env=True,
        # room_finished reconciles the room's recordings and verifies uploads whose S3 event is late
        recordings_object_actions=("s3:GetObject",),
        publishes_events=True,
    ),
    FunctionSpec(
        "recording_processor",
        "Verify uploaded recordings, mark them available, notify",
        S3_OBJECT_CREATED,
        512,
        120,
        recordings_env=True,
        recordings_object_actions=("s3:GetObject",),  # GetObject also authorizes HeadObject
        publishes_events=True,
    ),
    FunctionSpec(
        "room_sweeper",
        "Open, end and reconcile due rooms; no-shows; cleanup (scheduled)",
        # 1 GB for the LiveKit reconciliation fan-out; it must finish before the next run starts.
        SCHEDULE,
        1024,
        55,
        queries_due_index=True,
        livekit=True,
        recordings_env=True,
        # ending rooms reconciles their recordings; retention deletes them (every version)
        recordings_object_actions=("s3:GetObject", "s3:DeleteObject", "s3:DeleteObjectVersion"),
        publishes_events=True,
        sip_numbers=True,
    ),
)

# The booking platform's events (booking lifecycle): a rule on the service's bus.
FUNCTION_SPECS += (
    FunctionSpec(
        "booking_events",
        "Booking platform events: rooms created, rescheduled, cancelled; attendees granted, revoked",
        EVENT_RULE,
        512,
        30,
        livekit=True,
        # cancelling a room ends it: recordings reconciled (HeadObject/GetObject), phone released
        recordings_env=True,
        recordings_object_actions=("s3:GetObject",),
        publishes_events=True,
        sip_numbers=True,
    ),
)

# The service's own "Dial-Out Requested" event → the worker that places the call and waits while it rings
# (ringing timeout, at most 80 s, plus LiveKit's connect time: rooms.livekit_gateway.sip_service).
FUNCTION_SPECS += (
    FunctionSpec(
        "dial_out_worker",
        "Place requested dial-outs, wait for the answer, record the outcome and answered attendance",
        EVENT_RULE,
        512,
        120,
        livekit=True,
        publishes_events=True,
        sip_outbound=True,
    ),
)

SPECS_BY_NAME = {spec.name: spec for spec in FUNCTION_SPECS}

_RETENTION = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


def retention_days(days: int) -> logs.RetentionDays:
    try:
        return _RETENTION[days]
    except KeyError:
        raise ValueError(f"logRetentionDays must be one of {sorted(_RETENTION)}, got {days}") from None


class ServiceFunctions(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: RoomsConfig,
        table,
        storage: RecordingsStorage,
        livekit_secret,
        livekit_url: str,
        bus: events.IEventBus,
        evidence_secret,
        layer_build: LayerBuild | None = None,
        functions_dir: Path = FUNCTIONS_DIR,
    ) -> None:
        super().__init__(scope, construct_id)
        self.functions_dir = functions_dir
        self.layer_build = layer_build or build_layer(with_dependencies=config.layer_dependencies)
        self.layer = lambda_.LayerVersion(
            self,
            "RoomsLayer",
            code=lambda_.Code.from_asset(
                str(self.layer_build.path),
                asset_hash=self.layer_build.asset_hash,
                asset_hash_type=AssetHashType.CUSTOM,
            ),
            compatible_runtimes=[PYTHON_RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="rooms shared package and its runtime dependencies",
            removal_policy=RemovalPolicy.RETAIN if config.is_production else RemovalPolicy.DESTROY,
        )

        self.functions: dict[str, lambda_.Function] = {}
        # what API Gateway invokes: the function, or its `live` alias with SnapStart
        self.invoke_targets: dict[str, lambda_.IFunction] = {}
        self.failure_queues: dict[str, sqs.Queue] = {}
        self.log_groups: dict[str, logs.LogGroup] = {}
        self.evidence_secret = evidence_secret
        specs = FUNCTION_SPECS
        self.webhook_work_queue: sqs.Queue | None = None
        if any(spec.trigger == WEBHOOK_WORK for spec in specs):
            self._add_webhook_work_queue(config)
        for spec in specs:
            self._add_function(spec, config, table, storage, livekit_secret, livekit_url, bus)

    def _add_webhook_work_queue(self, config: RoomsConfig) -> None:
        scope = Construct(self, "WebhookWork")
        removal = RemovalPolicy.RETAIN if config.is_production else RemovalPolicy.DESTROY
        worker = SPECS_BY_NAME["webhook_worker"]
        dead_letters = sqs.Queue(
            scope,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=removal,
        )
        # (cdk-nag sees it is the follow-up queue's dead-letter queue: no SQS3 finding to acknowledge)
        self.webhook_work_queue = sqs.Queue(
            scope,
            "Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(6 * worker.timeout_seconds),
            retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=WEBHOOK_WORK_MAX_RECEIVE_COUNT,
                                                  queue=dead_letters),
            removal_policy=removal,
        )
        # alarmed as the worker's failure queue (infra/constructs/monitoring.py)
        self.failure_queues["webhook_worker"] = dead_letters

    def _environment(self, spec, config, table, storage, livekit_secret, livekit_url, bus) -> dict[str, str]:
        env = {
            "TABLE_NAME": table.table_name,
            "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            "LOG_LEVEL": config.log_level,
        }
        if spec.livekit:
            env["LIVEKIT_URL"] = livekit_url
            env["LIVEKIT_SECRET_ARN"] = livekit_secret.secret_arn
            env["LIVEKIT_SECRET_MAX_AGE_SECONDS"] = str(SECRET_CACHE_SECONDS)
        if spec.recordings_env:
            env["RECORDINGS_BUCKET"] = config.recordings_bucket_name or storage.bucket.bucket_name
            env["RECORDINGS_PREFIX"] = storage.prefix
            if storage.s3_endpoint:
                env["RECORDINGS_S3_ENDPOINT"] = storage.s3_endpoint
                env["RECORDINGS_S3_REGION"] = "auto"  # R2 and most S3-compatible stores
                # the store's keys: the functions and the egress requests sign with them
                env["RECORDINGS_S3_SECRET_ARN"] = storage.store_secret.secret_arn
            else:
                env["RECORDINGS_S3_REGION"] = Stack.of(self).region  # egress uploads to this bucket's region
            env["RECORDINGS_ARCHIVE_DAYS"] = str(config.recordings_archive_days)
            if spec.starts_egress and storage.egress_secret is not None:
                # only the egress requests carry these keys; the functions' own S3 calls use their role
                env["RECORDINGS_EGRESS_SECRET_ARN"] = storage.egress_secret.secret_arn
        if spec.publishes_events:
            env["EVENT_BUS_NAME"] = bus.event_bus_name
        if spec.trigger == EVENT_RULE:
            env["BOOKING_EVENTS_SOURCE"] = config.booking_events_source
        if spec.sip_numbers:
            env["SIP_NUMBERS"] = json.dumps(config.sip_numbers, sort_keys=True, separators=(",", ":"))
        if spec.sip_outbound:
            env["SIP_OUTBOUND_TRUNK_ID"] = config.sip_outbound_trunk_id
        if spec.signs_evidence:
            env["EVIDENCE_SIGNING_SECRET_ARN"] = self.evidence_secret.secret_arn
            env["EVIDENCE_SIGNING_SECRET_MAX_AGE_SECONDS"] = str(SECRET_CACHE_SECONDS)
        if spec.queues_webhook_work and self.webhook_work_queue is not None:
            env["WEBHOOK_WORK_QUEUE_URL"] = self.webhook_work_queue.queue_url
        return env

    def _add_function(self, spec, config, table, storage, livekit_secret, livekit_url, bus) -> None:
        scope = Construct(self, spec.name)
        removal = RemovalPolicy.RETAIN if config.is_production else RemovalPolicy.DESTROY
        log_group = logs.LogGroup(
            scope, "Logs", retention=retention_days(config.log_retention_days), removal_policy=removal
        )
        role = iam.Role(
            scope,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"rooms {spec.name}: only the table, bucket prefix, secret and bus it needs",
        )
        log_group.grant_write(role)  # instead of AWSLambdaBasicExecutionRole: only its own log group

        actions = list(TABLE_READ_ACTIONS)
        if spec.table == READ_WRITE:
            actions += TABLE_WRITE_ACTIONS
        role.add_to_policy(iam.PolicyStatement(sid="Table", actions=actions, resources=[table.table_arn]))
        if spec.queries_due_index:
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="DueIndex", actions=["dynamodb:Query"], resources=[f"{table.table_arn}/index/{DUE_INDEX}"]
                )
            )
        if spec.recordings_object_actions:
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="RecordingObjects",
                    actions=list(spec.recordings_object_actions),
                    resources=[storage.objects_arn()],
                )
            )
        if spec.checks_objects:
            # With ListBucket, HeadObject on a missing key is 404 (missing); without it S3 says 403.
            role.add_to_policy(
                iam.PolicyStatement(sid="RecordingsList", actions=["s3:ListBucket"],
                                    resources=[storage.bucket.bucket_arn])
            )
        if spec.deletes_recording_versions:
            # Deleting every version of a recording first lists them: ListBucketVersions on the bucket,
            # limited to the recordings prefix.
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="RecordingVersions",
                    actions=["s3:ListBucketVersions"],
                    resources=[storage.bucket.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{RECORDINGS_PREFIX}*"]}},
                )
            )
        if spec.recordings_env and storage.store_secret is not None:
            storage.store_secret.grant_read(role)
        if spec.starts_egress and storage.egress_secret is not None:
            storage.egress_secret.grant_read(role)
        if spec.livekit:
            livekit_secret.grant_read(role)
        if spec.signs_evidence:
            self.evidence_secret.grant_read(role)
        if spec.publishes_events:
            bus.grant_put_events_to(role)
        if spec.queues_webhook_work and self.webhook_work_queue is not None:
            self.webhook_work_queue.grant_send_messages(role)

        snap_start = config.snap_start and spec.user_facing
        async_options = {}
        if spec.is_async:
            queue = sqs.Queue(
                scope,
                "FailureQueue",
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
                retention_period=Duration.days(14),
                removal_policy=removal,  # prod keeps the failed events it holds when the stack goes
            )
            acknowledge(
                queue,
                (
                    "AwsSolutions-SQS3",
                    (
                        "This queue is itself the dead-letter (on-failure) destination of the "
                        f"{spec.name} function; a DLQ of a DLQ adds nothing. Its depth is alarmed."
                    ),
                ),
            )
            self.failure_queues[spec.name] = queue
            async_options = {
                "on_failure": destinations.SqsDestination(queue),
                # S3 and booking events are retried (idempotent processing); the sweeper is not, its next
                # run retries.
                "retry_attempts": 0 if spec.trigger == SCHEDULE else 2,
                "max_event_age": Duration.minutes(5) if spec.trigger == SCHEDULE else Duration.hours(6),
            }

        function = lambda_.Function(
            scope,
            "Function",
            description=spec.description,
            runtime=PYTHON_RUNTIME,
            architecture=ARCHITECTURE,
            handler=HANDLER,
            code=lambda_.Code.from_asset(
                str(self.functions_dir / spec.name), exclude=["__pycache__", "*.pyc", "*.pyo"]
            ),
            layers=[self.layer],
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_seconds),
            environment=self._environment(spec, config, table, storage, livekit_secret, livekit_url, bus),
            role=role,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            reserved_concurrent_executions=config.reserved_concurrency.get(spec.name),
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if snap_start else None,
            **async_options,
        )
        Tags.of(function).add(FUNCTION_TAG, spec.name)
        if spec.trigger == WEBHOOK_WORK and self.webhook_work_queue is not None:
            # grants the role only what the mapping needs on this queue (receive, delete, attributes)
            function.add_event_source(
                lambda_event_sources.SqsEventSource(
                    self.webhook_work_queue,
                    batch_size=WEBHOOK_WORK_BATCH_SIZE,
                    report_batch_item_failures=True,  # Powertools' partial batch response
                )
            )
        # SnapStart restores only published versions: the API invokes the `live` alias of the version
        # published with this deployment (a new version whenever code or configuration changes).
        self.invoke_targets[spec.name] = (
            lambda_.Alias(scope, "Live", alias_name="live", version=function.current_version)
            if snap_start
            else function
        )

        acknowledgments = [
            (
                "AwsSolutions-IAM5[Resource::*]",
                (
                    "X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords do not support "
                    "resource-level permissions (the statement CDK adds for Tracing.ACTIVE)."
                ),
            ),
            (
                "AwsSolutions-L1",
                (
                    "Pinned on purpose to Python 3.13: the runtime the test suite exercises (Makefile) and "
                    "the layer is built for (infra/layer_build.py); upgrading changes all three together."
                ),
            ),
        ]
        if spec.recordings_object_actions:
            acknowledgments.append(
                (
                    storage.objects_finding(),
                    (
                        "Recording object keys are created per recording at runtime; access is scoped to "
                        "the recordings/ prefix of the one recordings bucket."
                    ),
                )
            )
        acknowledge(scope, *acknowledgments)
        self.functions[spec.name] = function
        self.log_groups[spec.name] = log_group

