"""The Rooms service stack: a thin composition of one construct per capability."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Annotations, CfnOutput, Stack
from constructs import Construct

from infra.config import RoomsConfig
from infra.constructs.api import RoomsHttpApi
from infra.constructs.booking_events import BookingEventsRule, DialOutRule
from infra.constructs.data import RoomsTable
from infra.constructs.events import ServiceEvents
from infra.constructs.evidence import EvidenceSigningKey
from infra.constructs.functions import ServiceFunctions
from infra.constructs.livekit import LiveKitConnection
from infra.constructs.monitoring import Monitoring
from infra.constructs.schedules import SweeperSchedule
from infra.constructs.storage import RecordingsStorage
from infra.layer_build import LayerBuild


class RoomsStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: RoomsConfig,
        layer_build: LayerBuild | None = None,
        functions_dir: Path | None = None,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config

        self.data = RoomsTable(self, "Data", config=config)
        self.storage = RecordingsStorage(self, "Storage", config=config)
        self.events = ServiceEvents(self, "Events", config=config)
        self.livekit = LiveKitConnection(self, "LiveKit", config=config)
        self.evidence = EvidenceSigningKey(self, "Evidence", config=config)
        self.functions = ServiceFunctions(
            self,
            "Functions",
            config=config,
            table=self.data.table,
            storage=self.storage,
            livekit_secret=self.livekit.secret,
            livekit_url=self.livekit.url,
            bus=self.events.bus,
            evidence_secret=self.evidence.secret,
            layer_build=layer_build,
            **({"functions_dir": functions_dir} if functions_dir is not None else {}),
        )
        functions = self.functions.functions

        self.api = RoomsHttpApi(self, "Api", config=config, functions=self.functions.invoke_targets)
        if "recording_processor" in functions:
            self.storage.notify_on_new_recordings(functions["recording_processor"])
        self.schedule = None
        if "room_sweeper" in functions:
            self.schedule = SweeperSchedule(
                self,
                "Schedules",
                config=config,
                sweeper=functions["room_sweeper"],
                dead_letter_queue=self.functions.failure_queues["room_sweeper"],
            )
        self.booking_events = None
        if "booking_events" in functions:
            self.booking_events = BookingEventsRule(
                self,
                "BookingEvents",
                bus=self.events.bus,
                source=config.booking_events_source,
                function=functions["booking_events"],
                dead_letter_queue=self.functions.failure_queues["booking_events"],
            )
        self.dial_out = None
        if "dial_out_worker" in functions:
            self.dial_out = DialOutRule(
                self,
                "DialOut",
                bus=self.events.bus,
                source="rooms",
                function=functions["dial_out_worker"],
                dead_letter_queue=self.functions.failure_queues["dial_out_worker"],
            )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            config=config,
            functions=functions,
            failure_queues=self.functions.failure_queues,
            http_api=self.api.api,
            webhook_work_queue=self.functions.webhook_work_queue,
        )

        self._outputs()
        for name in config.placeholders():
            Annotations.of(self).add_warning_v2(
                f"rooms:placeholder:{name}",
                f"context '{name}' is still the shipped placeholder: set it before `cdk deploy` "
                "(see infra/README.md)",
            )
        if not config.alarm_email:
            Annotations.of(self).add_warning_v2(
                "rooms:alarms:nobody",
                "context 'alarmEmail' is empty: alarms publish to the topic but nobody is subscribed, so nobody "
                "hears them; set -c alarmEmail=... or subscribe on-call to the AlarmTopicArn output",
            )

    def _outputs(self) -> None:
        def output(name: str, value: str, description: str) -> None:
            CfnOutput(self, name, value=value, description=description)

        output("ApiUrl", self.api.url, "HTTP API base URL (JWT in the Authorization header)")
        if self.api.webhook_url is not None:
            output("WebhookUrl", self.api.webhook_url, "Give this URL to LiveKit as the webhook endpoint")
        output("TableName", self.data.table.table_name, "DynamoDB single table")
        output("RecordingsBucketName", self.storage.bucket.bucket_name, "Egress uploads under recordings/")
        output(
            "EgressUploadPolicyArn",
            self.storage.egress_upload_policy.managed_policy_arn,
            "Attach to the egress host role / the identity LiveKit Cloud egress uploads with",
        )
        if self.storage.egress_secret is not None:
            output(
                "EgressCredentialsSecretArn",
                self.storage.egress_secret.secret_arn,
                "Put the {access_key, secret} LiveKit egress uploads with here",
            )
        output("EventBusName", self.events.bus.event_bus_name, "Service events (source 'rooms')")
        output("LiveKitSecretArn", self.livekit.secret.secret_arn, "Put {api_key, api_secret} here")
        output(
            "EvidenceSigningSecretArn",
            self.evidence.secret.secret_arn,
            "{key_id, key}: the HMAC key signing attendance exports and erasure proofs (the platform verifies with it)",
        )
        output("AlarmTopicArn", self.monitoring.topic.topic_arn, "Subscribe on-call to this topic")
        output("DashboardName", self.monitoring.dashboard.dashboard_name, "CloudWatch dashboard")
        output("LayerUnzippedBytes", str(self.functions.layer_build.size_bytes), "Size of the rooms layer")
