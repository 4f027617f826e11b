"""Every Lambda: arm64, Python 3.13, the layer, Powertools env, tracing, log groups, sizes, concurrency,
failure destinations for asynchronous triggers; and the env each one gets."""

from __future__ import annotations

import json

import pytest

from infra.constructs.functions import (
    FUNCTION_SPECS,
    FUNCTIONS_DIR,
    SPECS_BY_NAME,
    WEBHOOK_WORK_BATCH_SIZE,
    WEBHOOK_WORK_MAX_RECEIVE_COUNT,
)

pytestmark = pytest.mark.infra

ALL = {spec.name for spec in FUNCTION_SPECS}
DESIGN = {
    "create_room", "room_admin", "room_query", "issue_token", "room_control", "recording_control",
    "sip_dial", "webhook_handler", "webhook_worker", "recording_processor", "room_sweeper", "booking_events",
    "dial_out_worker",
}  # fmt: skip


def test_the_design_has_twelve_functions():
    assert ALL == DESIGN


def test_every_function_of_the_design_has_its_handler():
    assert {n for n in ALL if (FUNCTIONS_DIR / n / "handler.py").exists()} == ALL


def test_every_function_is_synthesized_once(dev):
    assert set(dev.functions_by_name()) == ALL
    # the project's functions plus CDK's bucket-notification handler
    dev.template.resource_count_is("AWS::Lambda::Function", len(ALL) + 1)


@pytest.mark.parametrize("name", sorted(DESIGN))
def test_runtime_architecture_handler_layer_tracing(dev, name):
    _, props = dev.functions_by_name()[name]
    (layer_id,) = dev.resources("AWS::Lambda::LayerVersion")
    assert props["Runtime"] == "python3.13"
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == "handler.handler"
    assert props["Layers"] == [{"Ref": layer_id}]
    assert props["TracingConfig"] == {"Mode": "Active"}
    spec = SPECS_BY_NAME[name]
    assert props["MemorySize"] == spec.memory_mb
    assert props["Timeout"] == spec.timeout_seconds
    assert props["Timeout"] < 30 or spec.trigger != "http"  # API Gateway gives up at 30 s
    env = props["Environment"]["Variables"]
    assert env["POWERTOOLS_SERVICE_NAME"] == "rooms"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "Rooms"
    assert env["LOG_LEVEL"] == "INFO"
    assert env["TABLE_NAME"] == {"Ref": next(iter(dev.resources("AWS::DynamoDB::Table")))}


def test_layer_targets_the_same_runtime_and_architecture(dev):
    dev.template.resource_count_is("AWS::Lambda::LayerVersion", 1)
    dev.template.has_resource_properties(
        "AWS::Lambda::LayerVersion",
        {"CompatibleRuntimes": ["python3.13"], "CompatibleArchitectures": ["arm64"]},
    )


@pytest.mark.parametrize("name", sorted(DESIGN))
def test_explicit_log_group_with_retention(dev, prod, name):
    for synth, days in ((dev, 30), (prod, 90)):
        _, props = synth.functions_by_name()[name]
        log_group_id = props["LoggingConfig"]["LogGroup"]["Ref"]
        log_group = synth.template_dict["Resources"][log_group_id]
        assert log_group["Type"] == "AWS::Logs::LogGroup"
        assert log_group["Properties"]["RetentionInDays"] == days
        assert log_group["DeletionPolicy"] == ("Retain" if synth is prod else "Delete")


def test_livekit_credentials_are_never_plaintext_env(dev, prod):
    (secret_id,) = [k for k in dev.resources("AWS::SecretsManager::Secret") if k.startswith("LiveKit")]
    for synth in (dev, prod):
        for name, (_, props) in synth.functions_by_name().items():
            env = props["Environment"]["Variables"]
            assert not {"LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"} & set(env), name
            if SPECS_BY_NAME[name].livekit:
                assert env["LIVEKIT_SECRET_ARN"] == {"Ref": secret_id}
                assert env["LIVEKIT_SECRET_MAX_AGE_SECONDS"].isdigit()  # cached read
            else:
                assert "LIVEKIT_SECRET_ARN" not in env and "LIVEKIT_URL" not in env
    # the secret value is generated at deploy time, not written into the template
    secret = dev.template_dict["Resources"][secret_id]
    assert "SecretString" not in secret["Properties"]
    assert secret["Properties"]["GenerateSecretString"]["GenerateStringKey"] == "api_secret"


EXPECTED_ENV = {
    "create_room": {"LIVEKIT_URL", "SIP_NUMBERS", "EVENT_BUS_NAME", "RECORDINGS_BUCKET"},
    "room_admin": {"LIVEKIT_URL", "RECORDINGS_BUCKET", "EVENT_BUS_NAME", "EVIDENCE_SIGNING_SECRET_ARN"},
    "room_query": set(),
    "issue_token": {"LIVEKIT_URL", "RECORDINGS_BUCKET", "SIP_NUMBERS"},
    "room_control": {"LIVEKIT_URL", "EVIDENCE_SIGNING_SECRET_ARN"},
    "recording_control": {"LIVEKIT_URL", "RECORDINGS_BUCKET"},
    "sip_dial": {"LIVEKIT_URL", "SIP_NUMBERS", "SIP_OUTBOUND_TRUNK_ID", "EVENT_BUS_NAME"},
    "dial_out_worker": {"LIVEKIT_URL", "SIP_OUTBOUND_TRUNK_ID", "EVENT_BUS_NAME"},
    # verifies and records; the slow work goes to webhook_worker's queue
    "webhook_handler": {"LIVEKIT_URL", "RECORDINGS_BUCKET", "WEBHOOK_WORK_QUEUE_URL"},
    "webhook_worker": {"LIVEKIT_URL", "RECORDINGS_BUCKET", "EVENT_BUS_NAME"},
    "recording_processor": {"RECORDINGS_BUCKET", "EVENT_BUS_NAME"},
    "room_sweeper": {"LIVEKIT_URL", "RECORDINGS_BUCKET", "EVENT_BUS_NAME", "SIP_NUMBERS"},
    "booking_events": {"LIVEKIT_URL", "RECORDINGS_BUCKET", "EVENT_BUS_NAME", "SIP_NUMBERS"},
}
OPTIONAL_ENV = {"LIVEKIT_URL", "RECORDINGS_BUCKET", "EVENT_BUS_NAME", "SIP_NUMBERS", "SIP_OUTBOUND_TRUNK_ID",
                "EVIDENCE_SIGNING_SECRET_ARN", "WEBHOOK_WORK_QUEUE_URL"}


@pytest.mark.parametrize("name", sorted(DESIGN))
def test_each_function_gets_only_the_env_it_needs(dev, name):
    env = dev.functions_by_name()[name][1]["Environment"]["Variables"]
    assert set(env) & OPTIONAL_ENV == EXPECTED_ENV[name]
    if "RECORDINGS_BUCKET" in env:
        assert env["RECORDINGS_PREFIX"] == "recordings/"
        assert "RECORDINGS_S3_ENDPOINT" not in env  # only with an R2 endpoint
        assert env["RECORDINGS_S3_REGION"] == {"Ref": "AWS::Region"}  # egress uploads to the bucket's region


def test_context_values_reach_the_environment(prod):
    functions = prod.functions_by_name()
    env = {name: props["Environment"]["Variables"] for name, (_, props) in functions.items()}
    assert env["issue_token"]["LIVEKIT_URL"] == "wss://rooms-prod.livekit.cloud"
    assert json.loads(env["sip_dial"]["SIP_NUMBERS"]) == {"US": {"number": "+15550100", "trunk_id": "ST_us"}}
    assert env["sip_dial"]["SIP_OUTBOUND_TRUNK_ID"] == "ST_out"
    # R2: the functions address the S3-compatible store by endpoint and bucket name
    assert env["recording_control"]["RECORDINGS_S3_ENDPOINT"] == "https://acct.r2.cloudflarestorage.com"
    assert env["recording_control"]["RECORDINGS_BUCKET"] == "rooms-recordings-r2"


def test_reserved_concurrency_from_context(dev, prod):
    assert dev.functions_by_name()["room_sweeper"][1]["ReservedConcurrentExecutions"] == 1
    assert "ReservedConcurrentExecutions" not in dev.functions_by_name()["webhook_handler"][1]
    assert prod.functions_by_name()["webhook_handler"][1]["ReservedConcurrentExecutions"] == 50


def test_asynchronous_functions_send_failures_to_a_queue(dev):
    configs = dev.resources("AWS::Lambda::EventInvokeConfig")
    by_function = {c["Properties"]["FunctionName"]["Ref"]: c["Properties"] for c in configs.values()}
    functions = dev.functions_by_name()
    expected = {"recording_processor": 2, "room_sweeper": 0, "booking_events": 2, "dial_out_worker": 2}
    assert {lid for lid, _ in (functions[n] for n in expected)} == set(by_function)
    for name, retries in expected.items():
        config = by_function[functions[name][0]]
        assert config["MaximumRetryAttempts"] == retries
        queue_id = config["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
        queue = dev.template_dict["Resources"][queue_id]
        assert queue["Type"] == "AWS::SQS::Queue"
        assert queue["Properties"]["SqsManagedSseEnabled"] is True
    # the four failure queues, and the webhook follow-up queue with its dead-letter queue
    dev.template.resource_count_is("AWS::SQS::Queue", 6)


def test_webhook_worker_takes_the_follow_up_queue_with_partial_batch_failures(dev):
    functions = dev.functions_by_name()
    (mapping,) = dev.resources("AWS::Lambda::EventSourceMapping").values()
    props = mapping["Properties"]
    assert props["FunctionName"] == {"Ref": functions["webhook_worker"][0]}
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["BatchSize"] == WEBHOOK_WORK_BATCH_SIZE
    queue_id = props["EventSourceArn"]["Fn::GetAtt"][0]
    queue = dev.template_dict["Resources"][queue_id]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    # a message comes back after 6 x the worker's timeout, then goes to the dead-letter queue
    assert queue["VisibilityTimeout"] == 6 * SPECS_BY_NAME["webhook_worker"].timeout_seconds
    assert queue["RedrivePolicy"]["maxReceiveCount"] == WEBHOOK_WORK_MAX_RECEIVE_COUNT
    dlq_id = queue["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
    assert dev.template_dict["Resources"][dlq_id]["Properties"]["SqsManagedSseEnabled"] is True
    # the handler is told the queue's URL
    env = functions["webhook_handler"][1]["Environment"]["Variables"]
    assert env["WEBHOOK_WORK_QUEUE_URL"] == {"Ref": queue_id}


def test_the_local_stack_uses_the_same_queue_numbers():
    from rooms_local import webhook_work

    assert webhook_work.MAX_RECEIVE_COUNT == WEBHOOK_WORK_MAX_RECEIVE_COUNT
    assert webhook_work.BATCH_SIZE == WEBHOOK_WORK_BATCH_SIZE


def test_function_roles_use_no_managed_policies(dev):
    roles = dev.resources("AWS::IAM::Role")
    function_roles = {props["Role"]["Fn::GetAtt"][0] for _, props in dev.functions_by_name().values()}
    assert len(function_roles) == len(DESIGN)  # one role each
    for role_id in function_roles:
        assert "ManagedPolicyArns" not in roles[role_id]["Properties"]


def test_a_dial_out_counts_as_stale_only_after_its_worker_can_no_longer_be_running():
    """The sweeper settles an attempt still without an outcome ``STALE_AFTER`` past its last step
    (rooms.phone.dial_out): by then the worker that claimed it must have timed out, with room to spare."""
    from rooms.phone.dial_out import STALE_AFTER

    assert 2 * SPECS_BY_NAME["dial_out_worker"].timeout_seconds <= STALE_AFTER.total_seconds()
