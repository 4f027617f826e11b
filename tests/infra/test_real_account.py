"""What a real AWS account (and LiveKit Cloud) would break although synth, cdk-nag and cfn-lint pass:
alarm delivery, egress and R2 credentials, HeadObject on missing keys, the unthrottled webhook, grants
wider than used, prod retention, account-global names, operations alarms, SnapStart."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match

from infra.constructs.api import WEBHOOK_PATH, WEBHOOK_ROUTE_KEY
from infra.constructs.functions import SPECS_BY_NAME
from tests.infra.conftest import R2_SECRET_ARN
from tests.infra.test_iam import _as_list, statements_of

pytestmark = pytest.mark.infra

OUR_ALARMS = {
    "ArnLike": {
        "aws:SourceArn": {
            "Fn::Join": [
                "",
                ["arn:", {"Ref": "AWS::Partition"}, ":cloudwatch:", {"Ref": "AWS::Region"}, ":",
                 {"Ref": "AWS::AccountId"}, ":alarm:*"],
            ]
        }
    },
    "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
}  # fmt: skip


def _alarms(synth) -> dict[str, dict]:
    return {k: v["Properties"] for k, v in synth.resources("AWS::CloudWatch::Alarm").items()}


def _alarm_on(synth, metric_name: str) -> list[dict]:
    return [p for p in _alarms(synth).values() if p.get("MetricName") == metric_name]


# --- 1. alarms can page someone ---------------------------------------------------------------------------


def test_cloudwatch_may_publish_to_the_alarm_topic(dev):
    (topic_id,) = dev.resources("AWS::SNS::Topic")
    (policy,) = dev.resources("AWS::SNS::TopicPolicy").values()
    assert policy["Properties"]["Topics"] == [{"Ref": topic_id}]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    (publish,) = [s for s in statements if s["Effect"] == "Allow"]
    assert publish["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert publish["Action"] == "sns:Publish"
    assert publish["Resource"] == {"Ref": topic_id}
    assert publish["Condition"] == OUR_ALARMS
    # the TLS-only deny stays
    assert any(s["Effect"] == "Deny" and "aws:SecureTransport" in json.dumps(s) for s in statements)


def test_cloudwatch_key_grant_is_conditioned_on_our_alarms(dev):
    (key,) = dev.resources("AWS::KMS::Key").values()
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    (cloudwatch,) = [s for s in statements if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
    assert set(_as_list(cloudwatch["Action"])) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert cloudwatch["Condition"] == OUR_ALARMS


def test_an_empty_alarm_email_is_reported_at_synth(dev, prod):
    def warnings(synth):
        stack = synth.app.node.find_child(synth.stack_name)
        return [
            entry.data
            for entry in stack.node.metadata
            if entry.type == "aws:cdk:warning"
        ]

    assert any("alarmEmail" in w for w in warnings(dev))
    assert not any("alarmEmail" in w for w in warnings(prod))


# --- 2. LiveKit Cloud egress has its own credentials --------------------------------------------------------


def _egress_secret_id(synth) -> str:
    (secret_id,) = [k for k in synth.resources("AWS::SecretsManager::Secret") if "EgressUploadCredentials" in k]
    return secret_id


def test_egress_credentials_secret_is_read_only_by_functions_that_start_egress(dev):
    secret_id = _egress_secret_id(dev)
    (secret,) = [dev.template_dict["Resources"][secret_id]]
    assert "SecretString" not in secret["Properties"]  # the operator puts the keys
    assert "EgressCredentialsSecretArn" in dev.template_dict["Outputs"]
    for name, (_, props) in dev.functions_by_name().items():
        env = props["Environment"]["Variables"]
        reads = [
            s
            for s in statements_of(dev, name)
            if "secretsmanager:GetSecretValue" in _as_list(s["Action"])
            and {"Ref": secret_id} in _as_list(s["Resource"])
        ]
        if SPECS_BY_NAME[name].starts_egress:
            assert env["RECORDINGS_EGRESS_SECRET_ARN"] == {"Ref": secret_id}, name
            assert len(reads) == 1, name
        else:
            assert "RECORDINGS_EGRESS_SECRET_ARN" not in env and not reads, name
        # the functions' own S3 access stays their role: no store keys in AWS mode
        assert "RECORDINGS_S3_SECRET_ARN" not in env


def test_self_hosted_egress_uses_its_host_role(tmp_path_factory, layer_build, functions_dir):
    from tests.infra.conftest import _synth

    synth = _synth({"egressCredentials": "host"}, tmp_path_factory, layer_build, functions_dir)
    assert not [k for k in synth.resources("AWS::SecretsManager::Secret") if "EgressUploadCredentials" in k]
    for _, props in synth.functions_by_name().values():
        assert "RECORDINGS_EGRESS_SECRET_ARN" not in props["Environment"]["Variables"]


# --- 3. R2: the store's secret ------------------------------------------------------------------------------


def test_r2_store_secret_reaches_env_and_grants(prod):
    for name, (_, props) in prod.functions_by_name().items():
        env = props["Environment"]["Variables"]
        if SPECS_BY_NAME[name].recordings_env:
            assert env["RECORDINGS_S3_SECRET_ARN"] == R2_SECRET_ARN, name
            reads = [
                s
                for s in statements_of(prod, name)
                if "secretsmanager:GetSecretValue" in _as_list(s["Action"]) and R2_SECRET_ARN in _as_list(s["Resource"])
            ]
            assert len(reads) == 1, name
        else:
            assert "RECORDINGS_S3_SECRET_ARN" not in env, name
        # with R2 the egress signs with the store's keys: no separate egress secret
        assert "RECORDINGS_EGRESS_SECRET_ARN" not in env
    assert not [k for k in prod.resources("AWS::SecretsManager::Secret") if "EgressUploadCredentials" in k]


# --- 4. HeadObject on a missing key is 404, not 403 ---------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SPECS_BY_NAME))
def test_roles_that_check_objects_may_list_the_bucket(dev, name):
    bucket_id = next(k for k in dev.resources("AWS::S3::Bucket") if k.startswith("StorageRecordings"))
    listing = [s for s in statements_of(dev, name) if "s3:ListBucket" in _as_list(s["Action"])]
    if "s3:GetObject" in SPECS_BY_NAME[name].recordings_object_actions:
        (statement,) = listing
        assert statement["Resource"] == {"Fn::GetAtt": [bucket_id, "Arn"]}
        # (deleting every version of a recording lists them in a statement of its own, prefix-scoped: test_iam)
        assert _as_list(statement["Action"]) == ["s3:ListBucket"]
    else:
        assert not listing


# --- security: the webhook route, grants as used -----------------------------------------------------------


def test_webhook_is_an_unauthorized_throttled_api_route(dev, prod):
    dev.template.resource_count_is("AWS::Lambda::Url", 0)
    routes = {r["Properties"]["RouteKey"]: r["Properties"] for r in dev.resources("AWS::ApiGatewayV2::Route").values()}
    webhook = routes[WEBHOOK_ROUTE_KEY]
    assert webhook["AuthorizationType"] == "NONE"
    assert "AuthorizerId" not in webhook
    assert WEBHOOK_ROUTE_KEY == "POST /livekit/webhook"  # the local stack's contract (rooms_local)
    for synth, (rate, burst) in ((dev, (50, 100)), (prod, (80, 160))):
        (stage,) = synth.resources("AWS::ApiGatewayV2::Stage").values()
        assert stage["Properties"]["RouteSettings"] == {
            WEBHOOK_ROUTE_KEY: {"ThrottlingRateLimit": rate, "ThrottlingBurstLimit": burst}
        }
    url = json.dumps(dev.template_dict["Outputs"]["WebhookUrl"]["Value"])
    assert WEBHOOK_PATH.lstrip("/") in url


def test_local_gateway_serves_the_same_webhook_path():
    from rooms_local.gateway import WEBHOOK_PATH as LOCAL_WEBHOOK_PATH

    assert LOCAL_WEBHOOK_PATH == WEBHOOK_PATH


def test_recording_control_does_not_write_objects_and_may_erase_versions(dev):
    actions = {a for s in statements_of(dev, "recording_control") for a in _as_list(s["Action"])}
    assert "s3:PutObject" not in actions
    assert {"s3:GetObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:ListBucketVersions"} <= actions


def test_sweeper_index_grant_is_query_on_gsi1(dev):
    table_id = next(iter(dev.resources("AWS::DynamoDB::Table")))
    index = [s for s in statements_of(dev, "room_sweeper") if "/index/" in json.dumps(s["Resource"])]
    (statement,) = index
    assert _as_list(statement["Action"]) == ["dynamodb:Query"]
    assert statement["Resource"] == {"Fn::Join": ["", [{"Fn::GetAtt": [table_id, "Arn"]}, "/index/gsi1"]]}


# --- operations ---------------------------------------------------------------------------------------------


def test_sweep_failures_signature_failures_and_phone_failures_are_alarmed(dev):
    for metric in (
        "SweepFailures",
        "WebhookSignatureFailures",
        "PhonePinsExhausted",
        "PhoneDispatchRuleFailures",
        "PhoneReleaseFailures",
        "PhoneDialOutFailures",
    ):
        (alarm,) = _alarm_on(dev, metric)
        assert alarm["Namespace"] == "Rooms"
        assert alarm["Dimensions"] == [{"Name": "service", "Value": "rooms"}]
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["AlarmActions"] == [{"Ref": next(iter(dev.resources("AWS::SNS::Topic")))}]


def test_sweeper_heartbeat_breaches_on_missing_data(dev, prod):
    for synth, period in ((dev, 300), (prod, 300)):
        (heartbeat,) = _alarm_on(synth, "SweepDueItems")
        assert heartbeat["Statistic"] == "SampleCount"
        assert heartbeat["ComparisonOperator"] == "LessThanThreshold"
        assert heartbeat["Threshold"] == 1
        assert heartbeat["TreatMissingData"] == "breaching"
        assert heartbeat["Period"] == period
        assert heartbeat["EvaluationPeriods"] >= 2


def test_bucket_notification_handler_logs_with_retention(dev, prod):
    for synth, days in ((dev, 30), (prod, 90)):
        handlers = {
            k: v
            for k, v in synth.resources("AWS::Lambda::Function").items()
            if k.startswith("BucketNotificationsHandler")
        }
        ((_, handler),) = handlers.items()
        log_group_id = handler["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        log_group = synth.template_dict["Resources"][log_group_id]
        assert log_group["Type"] == "AWS::Logs::LogGroup"
        assert log_group["Properties"]["RetentionInDays"] == days


def test_dashboard_has_a_sweeper_widget(dev):
    (dashboard,) = dev.resources("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    assert '\\"title\\":\\"Sweeper\\"' in body
    for metric in ("SweepDueItems", "SweepFailures", "RoomsOpened"):
        assert f'\\"Rooms\\",\\"{metric}\\"' in body


def test_prod_keeps_failure_queues_and_event_archive(dev, prod):
    for synth, policy in ((dev, "Delete"), (prod, "Retain")):
        queues = synth.resources("AWS::SQS::Queue").values()
        assert queues and all(q["DeletionPolicy"] == policy for q in queues)
        (archive,) = synth.resources("AWS::Events::Archive").values()
        assert archive["DeletionPolicy"] == policy


def test_account_global_names_include_the_region(dev):
    (policy,) = dev.resources("AWS::IAM::ManagedPolicy").values()
    name = json.dumps(policy["Properties"]["ManagedPolicyName"])
    assert "RoomsEgressUploadPolicy-dev-" in name and '{"Ref": "AWS::Region"}' in name
    (dashboard,) = dev.resources("AWS::CloudWatch::Dashboard").values()
    name = json.dumps(dashboard["Properties"]["DashboardName"])
    assert "rooms-dev-" in name and '{"Ref": "AWS::Region"}' in name


# --- runtime and SnapStart ----------------------------------------------------------------------------------


def test_functions_run_python_3_13_on_arm64(dev):
    for _, props in dev.functions_by_name().values():
        assert (props["Runtime"], props["Architectures"]) == ("python3.13", ["arm64"])
    dev.template.has_resource_properties("AWS::Lambda::LayerVersion", {"CompatibleRuntimes": ["python3.13"]})


def test_snap_start_is_a_context_option_for_user_facing_functions(dev, prod):
    for _, props in dev.functions_by_name().values():
        assert "SnapStart" not in props
    dev.template.resource_count_is("AWS::Lambda::Alias", 0)
    functions = prod.functions_by_name()
    aliases = {
        a["Properties"]["FunctionName"]["Ref"]: a["Properties"] for a in prod.resources("AWS::Lambda::Alias").values()
    }
    for name, (logical_id, props) in functions.items():
        if SPECS_BY_NAME[name].trigger == "http":
            assert props["SnapStart"] == {"ApplyOn": "PublishedVersions"}, name
            assert aliases[logical_id]["Name"] == "live"
        else:
            assert "SnapStart" not in props, name
            assert logical_id not in aliases
    # API Gateway invokes the alias (SnapStart restores only published versions)
    alias_ids = set(prod.resources("AWS::Lambda::Alias"))
    integrations = prod.resources("AWS::ApiGatewayV2::Integration").values()
    targets = {json.dumps(i["Properties"]["IntegrationUri"]) for i in integrations}
    assert sum(any(a in t for a in alias_ids) for t in targets) == len(aliases)
    prod.template.has_resource_properties(
        "AWS::Lambda::Permission",
        {"FunctionName": {"Ref": Match.string_like_regexp("|".join(sorted(alias_ids)))}},
    )
