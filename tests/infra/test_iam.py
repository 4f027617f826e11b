"""Least privilege: per function, only the table actions, bucket prefix, secret and bus it needs."""

from __future__ import annotations

import json

import pytest

from infra.constructs.data import TABLE_READ_ACTIONS, TABLE_WRITE_ACTIONS

pytestmark = pytest.mark.infra

READ = set(TABLE_READ_ACTIONS)
READ_WRITE = READ | set(TABLE_WRITE_ACTIONS)
NAMES = [
    "create_room", "room_admin", "room_query", "issue_token", "room_control", "recording_control",
    "sip_dial", "webhook_handler", "webhook_worker", "recording_processor", "room_sweeper", "booking_events",
]  # fmt: skip

TABLE_ACCESS = {name: READ_WRITE for name in NAMES} | {"room_query": READ}
USES_DUE_INDEX = {"room_sweeper"}
# Deleting a recording deletes every version of it (the bucket is versioned): listed with
# s3:ListBucketVersions on the bucket, limited to the recordings/ prefix by an s3:prefix condition.
DELETES_VERSIONS = {"recording_control", "room_sweeper"}
RECORDING_OBJECT_ACTIONS = {
    # never writes (egress uploads); deleting a recording removes every version of it
    "recording_control": {"s3:GetObject", "s3:DeleteObject", "s3:DeleteObjectVersion"},
    "recording_processor": {"s3:GetObject"},
    # functions that end rooms reconcile the room's recordings and verify late uploads
    "room_admin": {"s3:GetObject"},
    "webhook_worker": {"s3:GetObject"},  # (the webhook's follow-up: room_finished, egress uploads checked)
    # ... and the sweeper deletes recordings whose retention ran out (every version)
    "room_sweeper": {"s3:GetObject", "s3:DeleteObject", "s3:DeleteObjectVersion"},
    "booking_events": {"s3:GetObject"},  # cancelling a room ends it
}
READS_LIVEKIT_SECRET = set(NAMES) - {"recording_processor", "room_query"}
PUTS_EVENTS = {"webhook_worker", "recording_processor", "room_sweeper", "room_admin", "create_room",
               "booking_events", "sip_dial", "dial_out_worker"}


def _as_list(value):
    return value if isinstance(value, list) else [value]


def statements_of(synth, name) -> list[dict]:
    _, props = synth.functions_by_name()[name]
    role_id = props["Role"]["Fn::GetAtt"][0]
    statements = []
    for policy in synth.resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _refs(resource) -> str:
    return json.dumps(resource, sort_keys=True)


def _logical(synth, type_):
    (logical_id,) = synth.resources(type_)
    return logical_id


def test_no_statement_allows_scan_or_wildcard_actions(dev, prod):
    for synth in (dev, prod):
        for policy in synth.resources("AWS::IAM::Policy").values():
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                for action in _as_list(statement["Action"]):
                    assert action != "dynamodb:Scan"
                    assert not action.endswith("*") or action == "kms:GenerateDataKey*", action


@pytest.mark.parametrize("name", NAMES)
def test_table_access(dev, name):
    table_id = _logical(dev, "AWS::DynamoDB::Table")
    actions, resources = set(), []
    for statement in statements_of(dev, name):
        if any(a.startswith("dynamodb:") for a in _as_list(statement["Action"])):
            actions |= set(_as_list(statement["Action"]))
            resources += _as_list(statement["Resource"])
    assert actions == TABLE_ACCESS[name]
    assert {"Fn::GetAtt": [table_id, "Arn"]} in resources
    index_grant = any("/index/gsi1" in _refs(r) for r in resources)
    assert index_grant == (name in USES_DUE_INDEX)
    assert not any("/index/*" in _refs(r) for r in resources)
    assert len(resources) == (2 if name in USES_DUE_INDEX else 1)


@pytest.mark.parametrize("name", NAMES)
def test_recordings_bucket_access_is_prefix_scoped(dev, name):
    s3_statements = [
        s
        for s in statements_of(dev, name)
        if any(a.startswith("s3:") and not a.startswith("s3:ListBucket") for a in _as_list(s["Action"]))
    ]
    actions = {a for s in s3_statements for a in _as_list(s["Action"])}
    assert actions == RECORDING_OBJECT_ACTIONS.get(name, set())
    for statement in s3_statements:
        (resource,) = _as_list(statement["Resource"])
        assert resource["Fn::Join"][1][-1] == "/recordings/*"
    versions = [s for s in statements_of(dev, name) if "s3:ListBucketVersions" in _as_list(s["Action"])]
    if name in DELETES_VERSIONS:
        (statement,) = versions
        assert _as_list(statement["Action"]) == ["s3:ListBucketVersions"]
        assert "Fn::GetAtt" in statement["Resource"]  # the bucket itself ...
        assert statement["Condition"] == {"StringLike": {"s3:prefix": ["recordings/*"]}}  # ... its prefix
    else:
        assert not versions


@pytest.mark.parametrize("name", NAMES)
def test_secret_and_bus_access(dev, name):
    (secret_id,) = [k for k in dev.resources("AWS::SecretsManager::Secret") if k.startswith("LiveKit")]
    bus_id = _logical(dev, "AWS::Events::EventBus")
    statements = statements_of(dev, name)
    secret = [
        s
        for s in statements
        if "secretsmanager:GetSecretValue" in _as_list(s["Action"]) and {"Ref": secret_id} in _as_list(s["Resource"])
    ]
    events = [s for s in statements if "events:PutEvents" in _as_list(s["Action"])]
    if name in READS_LIVEKIT_SECRET:
        (statement,) = secret  # (IAM policy minimization may list the egress secret beside it)
    else:
        assert not secret
    if name in PUTS_EVENTS:
        (statement,) = events
        assert statement["Resource"] == {"Fn::GetAtt": [bus_id, "Arn"]}
    else:
        assert not events


@pytest.mark.parametrize("name", NAMES)
def test_wildcard_resources_are_only_xray(dev, name):
    for statement in statements_of(dev, name):
        if statement["Resource"] == "*":
            assert set(_as_list(statement["Action"])) == {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}


@pytest.mark.parametrize("name", NAMES)
def test_logs_only_to_its_own_log_group(dev, name):
    _, props = dev.functions_by_name()[name]
    log_group_id = props["LoggingConfig"]["LogGroup"]["Ref"]
    log_statements = [
        s for s in statements_of(dev, name) if any(a.startswith("logs:") for a in _as_list(s["Action"]))
    ]
    (statement,) = log_statements
    assert set(_as_list(statement["Action"])) == {"logs:CreateLogStream", "logs:PutLogEvents"}
    assert statement["Resource"] == {"Fn::GetAtt": [log_group_id, "Arn"]}


def test_egress_upload_policy_for_operators(dev):
    bucket_id = next(k for k in dev.resources("AWS::S3::Bucket") if k.startswith("StorageRecordings"))
    dev.template.has_resource_properties(
        "AWS::IAM::ManagedPolicy",
        {
            "ManagedPolicyName": {"Fn::Join": ["", ["RoomsEgressUploadPolicy-dev-", {"Ref": "AWS::Region"}]]},
            "PolicyDocument": {
                "Statement": [
                    {
                        "Action": "s3:PutObject",
                        "Effect": "Allow",
                        "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/recordings/*"]]},
                    }
                ]
            },
        },
    )
    assert "EgressUploadPolicyArn" in dev.template_dict["Outputs"]
    # operators attach it; the stack creates no IAM user or access key for egress
    dev.template.resource_count_is("AWS::IAM::User", 0)
    dev.template.resource_count_is("AWS::IAM::AccessKey", 0)


@pytest.mark.parametrize("name", NAMES)
def test_only_the_webhook_functions_touch_the_follow_up_queue(dev, name):
    (mapping,) = dev.resources("AWS::Lambda::EventSourceMapping").values()
    queue_arn = mapping["Properties"]["EventSourceArn"]
    on_queue = [s for s in statements_of(dev, name) if queue_arn in _as_list(s["Resource"])]
    for statement in on_queue:
        assert statement["Resource"] == queue_arn  # that queue only, in statements of its own
    actions = {a for s in on_queue for a in _as_list(s["Action"])}
    if name == "webhook_handler":
        assert actions == {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}
    elif name == "webhook_worker":
        assert {"sqs:ReceiveMessage", "sqs:DeleteMessage"} <= actions and "sqs:SendMessage" not in actions
    else:
        assert not actions
