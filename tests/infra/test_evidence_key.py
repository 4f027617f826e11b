"""The evidence signing key (infra/constructs/evidence.py): generated (dev) or imported (prod's context),
read only by the functions that sign (the attendance export's room_control, the erasure proof's
room_admin), never a value in the template, and its rotation acknowledged with a reason."""

from __future__ import annotations

import json

import pytest

from infra.constructs.functions import SPECS_BY_NAME
from rooms.settings import Settings
from tests.infra.conftest import EVIDENCE_SECRET_ARN
from tests.infra.test_iam import NAMES, _as_list, statements_of

pytestmark = pytest.mark.infra

SIGNERS = {"room_admin", "room_control"}


def _evidence_secret_id(synth) -> str:
    (secret_id,) = [k for k in synth.resources("AWS::SecretsManager::Secret") if k.startswith("Evidence")]
    return secret_id


def _reads(statements, resource) -> bool:
    return any("secretsmanager:GetSecretValue" in _as_list(s["Action"]) and resource in _as_list(s["Resource"])
               for s in statements)


def test_the_signers_are_the_functions_that_sign():
    assert {name for name, spec in SPECS_BY_NAME.items() if spec.signs_evidence} == SIGNERS


def test_dev_generates_the_key_in_the_template_never_its_value(dev):
    secret = dev.template_dict["Resources"][_evidence_secret_id(dev)]
    assert "SecretString" not in secret["Properties"]
    generated = secret["Properties"]["GenerateSecretString"]
    assert generated["GenerateStringKey"] == "key" and generated["PasswordLength"] >= 32
    assert json.loads(generated["SecretStringTemplate"]) == {"key_id": "dev-1"}  # the signatures name it
    assert secret["DeletionPolicy"] == "Delete"  # dev; prod imports (or would retain) the key
    output = dev.template_dict["Outputs"]["EvidenceSigningSecretArn"]
    assert output["Value"] == {"Ref": _evidence_secret_id(dev)}


@pytest.mark.parametrize("name", NAMES)
def test_only_the_signers_get_the_secret_and_can_read_it(dev, name):
    secret = {"Ref": _evidence_secret_id(dev)}
    env = dev.functions_by_name()[name][1]["Environment"]["Variables"]
    assert _reads(statements_of(dev, name), secret) == (name in SIGNERS)
    if name in SIGNERS:
        assert env["EVIDENCE_SIGNING_SECRET_ARN"] == secret
        assert int(env["EVIDENCE_SIGNING_SECRET_MAX_AGE_SECONDS"]) > 0  # cached read
        assert "EVIDENCE_SIGNING_KEY" not in env  # the key itself only ever in Secrets Manager
    else:
        assert not {k for k in env if k.startswith("EVIDENCE_")}


def test_an_imported_key_is_used_as_given_and_not_created(prod):
    assert not [k for k in prod.resources("AWS::SecretsManager::Secret") if k.startswith("Evidence")]
    functions = prod.functions_by_name()
    for name in NAMES:
        env = functions[name][1]["Environment"]["Variables"]
        assert (env.get("EVIDENCE_SIGNING_SECRET_ARN") == EVIDENCE_SECRET_ARN) == (name in SIGNERS)
        assert _reads(statements_of(prod, name), EVIDENCE_SECRET_ARN) == (name in SIGNERS)
    assert prod.template_dict["Outputs"]["EvidenceSigningSecretArn"]["Value"] == EVIDENCE_SECRET_ARN


def test_the_variables_the_stack_sets_are_the_ones_the_settings_read(dev):
    env = dev.functions_by_name()["room_control"][1]["Environment"]["Variables"]
    evidence = {k.lower() for k in env if k.startswith("EVIDENCE_")}
    assert evidence == {"evidence_signing_secret_arn", "evidence_signing_secret_max_age_seconds"}
    assert evidence <= set(Settings.model_fields)


def test_not_rotating_is_acknowledged_with_the_reason(raw_nag):
    # (tests/infra/test_compliance.py: every acknowledgment matches a real finding)
    (ack,) = [a for a in raw_nag.acknowledgments if a.path.endswith("Evidence/SigningKey")]
    assert ack.rule == "AwsSolutions-SMG4" and "key_id" in ack.reason
