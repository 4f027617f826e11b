"""Synthesize the app once per session (dev defaults and a fully configured prod) and share the results.

Every function of the design is synthesized whatever handlers exist yet: functions/ is mirrored into a
temporary directory where missing handlers get a stub, so the template tests cover the whole service at
every stage of the project.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks

from infra.app import build_app
from infra.constructs.functions import FUNCTION_SPECS, FUNCTION_TAG, FUNCTIONS_DIR
from infra.layer_build import build_layer
from infra.nag import ACKNOWLEDGMENTS

R2_SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rooms-r2-keys-AbCdEf"
# prod imports the evidence signing key the platform already holds; dev lets the stack generate one
EVIDENCE_SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rooms-evidence-key-GhIjKl"

PROD_CONTEXT = {
    "stage": "prod",
    "jwtIssuer": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Rooms123",
    "jwtAudience": "rooms-api,rooms-web",
    "livekitUrl": "wss://rooms-prod.livekit.cloud",
    "alarmEmail": "oncall@bookings.test",
    "logRetentionDays": "90",
    "recordingsArchiveDays": "60",
    "recordingsExpireDays": "730",
    "sweepRateMinutes": "2",
    "sipNumbers": json.dumps({"US": {"number": "+15550100", "trunk_id": "ST_us"}}),
    "sipOutboundTrunkId": "ST_out",
    "recordingsS3Endpoint": "https://acct.r2.cloudflarestorage.com",
    "recordingsBucketName": "rooms-recordings-r2",
    "recordingsS3SecretArn": R2_SECRET_ARN,
    "evidenceSigningSecretArn": EVIDENCE_SECRET_ARN,
    "snapStart": "true",
    "webhookThrottleRateLimit": "80",
    "webhookThrottleBurstLimit": "160",
    "corsAllowOrigins": "https://app.bookings.test",
    "reservedConcurrency": json.dumps({"room_sweeper": 1, "webhook_handler": 50}),
    "apiThrottleRateLimit": "200",
    "apiThrottleBurstLimit": "400",
}


@dataclass
class Synth:
    app: App
    stack_name: str
    template_dict: dict
    template: Template

    def resources(self, type_: str) -> dict[str, dict]:
        return {k: v for k, v in self.template_dict["Resources"].items() if v["Type"] == type_}

    def functions_by_name(self) -> dict[str, tuple[str, dict]]:
        """{project function name: (logical id, properties)} via the rooms:function tag."""
        found = {}
        for logical_id, resource in self.resources("AWS::Lambda::Function").items():
            tags = {t["Key"]: t["Value"] for t in resource["Properties"].get("Tags", [])}
            if FUNCTION_TAG in tags:
                found[tags[FUNCTION_TAG]] = (logical_id, resource["Properties"])
        return found


@pytest.fixture(scope="session")
def functions_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("functions")
    for spec in FUNCTION_SPECS:
        target = root / spec.name
        shutil.copytree(FUNCTIONS_DIR / spec.name, target, ignore=shutil.ignore_patterns("__pycache__"))
    return root


@pytest.fixture(scope="session")
def layer_build():
    return build_layer()


def _synth(context, tmp_path_factory, layer_build, functions_dir) -> Synth:
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = build_app(context, outdir=str(outdir), layer_build=layer_build, functions_dir=functions_dir)
    assembly = app.synth()  # cdk-nag runs here: an unacknowledged finding fails the synth
    stack_name = f"Rooms-{context.get('stage', 'dev')}"
    template_dict = assembly.get_stack_by_name(stack_name).template
    return Synth(app, stack_name, template_dict, Template.from_json(template_dict))


@pytest.fixture(scope="session")
def dev(tmp_path_factory, layer_build, functions_dir) -> Synth:
    return _synth({}, tmp_path_factory, layer_build, functions_dir)


@pytest.fixture(scope="session")
def prod(tmp_path_factory, layer_build, functions_dir) -> Synth:
    return _synth(PROD_CONTEXT, tmp_path_factory, layer_build, functions_dir)


@dataclass
class RawNag:
    findings: list[tuple[str, str]]  # (rule id incl. finding, construct path)
    acknowledgments: list  # RecordedAcknowledgment


@pytest.fixture(scope="session")
def raw_nag(layer_build, functions_dir, dev) -> RawNag:
    """The dev app built with no acknowledgments: what cdk-nag finds, and what we acknowledge."""
    ACKNOWLEDGMENTS.enabled = False
    ACKNOWLEDGMENTS.records.clear()
    try:
        app = build_app({}, layer_build=layer_build, functions_dir=functions_dir, nag=False)
        report = AwsSolutionsChecks().validate_scope(app)
        acknowledgments = list(ACKNOWLEDGMENTS.records)
    finally:
        ACKNOWLEDGMENTS.enabled = True
    findings = [
        (violation.rule_name, resource.construct_path)
        for violation in report.violations
        for resource in violation.violating_resources
    ]
    return RawNag(findings, acknowledgments)
