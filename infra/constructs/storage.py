"""Recordings storage: the recordings bucket, its access-log bucket, and the egress upload policy."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
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
        self.prefix = RECORDINGS_PREFIX
        # With an S3-compatible store (R2), egress writes there and the functions address it through
        # RECORDINGS_S3_ENDPOINT; the AWS bucket below is then unused but harmless.
        self.s3_endpoint = config.recordings_s3_endpoint

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
            managed_policy_name=f"RoomsEgressUploadPolicy-{config.stage}",
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
