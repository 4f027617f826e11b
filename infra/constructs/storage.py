"""Recordings storage: the recordings bucket, its access-log bucket, and the egress upload policy."""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.config import RoomsConfig
from infra.nag import acknowledge

RECORDINGS_PREFIX = "recordings/"
# Deleted or overwritten recordings stay recoverable (noncurrent version) this long.
NONCURRENT_VERSION_DAYS = 30
ACCESS_LOG_DAYS = 90


class RecordingsStorage(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: RoomsConfig) -> None:
        super().__init__(scope, construct_id)
        removal = RemovalPolicy.RETAIN if config.is_production else RemovalPolicy.DESTROY
        self._removal = removal
        self._log_retention_days = config.log_retention_days
        self.prefix = RECORDINGS_PREFIX
        # With an S3-compatible store (R2), egress writes there and the functions address it through
        # RECORDINGS_S3_ENDPOINT; the AWS bucket below is then unused but harmless.
        self.s3_endpoint = config.recordings_s3_endpoint
        # R2 accepts only its own keys (not the Lambda role): the operator's secret {"access_key", "secret"}.
        self.store_secret: secretsmanager.ISecret | None = None
        if config.recordings_s3_endpoint:
            self.store_secret = secretsmanager.Secret.from_secret_complete_arn(
                self, "StoreCredentials", config.recordings_s3_secret_arn
            )

        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,  # server access logging only delivers to SSE-S3
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(id="expire-access-logs", expiration=Duration.days(ACCESS_LOG_DAYS))
            ],
            removal_policy=removal,
        )
        self.bucket = s3.Bucket(
            self,
            "Recordings",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            # SSE-S3 rather than KMS: LiveKit Cloud egress uploads with operator-provided credentials that
            # then need no KMS key grant, and presigned GET URLs keep working for any viewer.
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="recordings-bucket/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="archive-then-expire-recordings",
                    prefix=RECORDINGS_PREFIX,
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                            transition_after=Duration.days(config.recordings_archive_days),
                        )
                    ],
                    expiration=Duration.days(config.recordings_expire_days),
                    noncurrent_version_expiration=Duration.days(NONCURRENT_VERSION_DAYS),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
            removal_policy=removal,
        )

        # What an egress worker needs to upload recordings: operators attach it to the self-hosted egress
        # host role, or to the IAM identity whose credentials LiveKit Cloud egress uses.
        self.egress_upload_policy = iam.ManagedPolicy(
            self,
            "RoomsEgressUploadPolicy",
            # IAM names are account-global: the region lets two regions deploy the same stage
            managed_policy_name=f"RoomsEgressUploadPolicy-{config.stage}-{Aws.REGION}",
            description="Lets a LiveKit egress worker upload room recordings under recordings/",
            statements=[
                iam.PolicyStatement(
                    actions=["s3:PutObject"],
                    resources=[self.bucket.arn_for_objects(f"{RECORDINGS_PREFIX}*")],
                )
            ],
        )
        acknowledge(
            self.egress_upload_policy,
            (
                self.objects_finding(),
                (
                    "Egress picks a new object key per recording, so uploads are scoped to the recordings/ "
                    "prefix of this one bucket; nothing else in the bucket or account is reachable."
                ),
            ),
        )

        # LiveKit Cloud egress workers have no identity in this account: egress requests carry keys of an
        # IAM identity holding the policy above. They live in this secret, read only by the functions that
        # start egress (the functions' own S3 calls keep using their role). With R2, the store's keys serve.
        self.egress_secret: secretsmanager.Secret | None = None
        if not config.recordings_s3_endpoint and config.egress_credentials == "secret":
            self.egress_secret = secretsmanager.Secret(
                self,
                "EgressUploadCredentials",
                description=(
                    f"Keys LiveKit egress uploads recordings with (rooms {config.stage}): JSON "
                    '{"access_key": "...", "secret": "..."} of an IAM identity holding RoomsEgressUploadPolicy'
                ),
                generate_secret_string=secretsmanager.SecretStringGenerator(
                    secret_string_template='{"access_key": "SET_ME"}',
                    generate_string_key="secret",
                    exclude_punctuation=True,
                ),
                removal_policy=removal,
            )
            acknowledge(
                self.egress_secret,
                (
                    "AwsSolutions-SMG4",
                    (
                        "Holds the access key of the IAM identity the operator creates for LiveKit Cloud "
                        "egress; rotating it is an IAM access-key rotation (procedure in infra/README.md), "
                        "which a Secrets Manager rotation function of this stack cannot perform."
                    ),
                ),
            )

    @staticmethod
    def _logical_id(bucket: s3.Bucket) -> str:
        return Stack.of(bucket).resolve((bucket.node.default_child).logical_id)

    def objects_arn(self) -> str:
        return self.bucket.arn_for_objects(f"{RECORDINGS_PREFIX}*")

    def objects_finding(self) -> str:
        """The cdk-nag IAM5 finding id that a prefix-scoped object grant on this bucket produces."""
        return f"AwsSolutions-IAM5[Resource::<{self._logical_id(self.bucket)}.Arn>/{RECORDINGS_PREFIX}*]"

    def notify_on_new_recordings(self, function: lambda_.IFunction) -> None:
        """S3 object-created events under recordings/ invoke `function` (asynchronously)."""
        self.bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED,
            s3n.LambdaDestination(function),
            s3.NotificationKeyFilter(prefix=RECORDINGS_PREFIX),
        )
        stack = Stack.of(self)
        for child in stack.node.children:
            if child.node.id.startswith("BucketNotificationsHandler"):
                # CDK's singleton handler has no log group of its own: Lambda would create one that keeps
                # logs forever. It logs to this one instead, with the stack's retention.
                from infra.constructs.functions import retention_days  # (functions imports this module)

                if child.node.try_find_child("LogGroup") is None:
                    log_group = logs.LogGroup(
                        child,
                        "LogGroup",
                        retention=retention_days(self._log_retention_days),
                        removal_policy=self._removal,
                    )
                    child.node.find_child("Resource").add_property_override(
                        "LoggingConfig", {"LogGroup": log_group.log_group_name}
                    )
                acknowledge(
                    child,
                    (
                        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                        "AWSLambdaBasicExecutionRole]",
                        (
                            "CDK's own bucket-notification custom resource (runs only at deploy time to "
                            "set the bucket's notification configuration); its role is CDK-managed."
                        ),
                    ),
                )
