"""The evidence signing key in AWS: read from Secrets Manager (the secret the stack creates, moto's
Secrets Manager here) through the settings object, cached by Powertools parameters, refused when the
secret lacks a field (503, never an unsigned export)."""

from __future__ import annotations

import json

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from rooms.errors import UpstreamUnavailable
from rooms.evidence.export import signing_key
from rooms.settings import Settings


@pytest.fixture
def secrets(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    parameters.clear_caches()  # the next read makes a provider (boto3 client) inside the mock
    with mock_aws():
        yield boto3.client("secretsmanager")
    parameters.clear_caches()


def test_the_key_comes_from_the_secret_and_is_cached(secrets):
    arn = secrets.create_secret(Name="rooms-evidence", SecretString=json.dumps({"key_id": "dev-1", "key": "k1"}))["ARN"]
    settings = Settings(evidence_signing_secret_arn=arn, evidence_signing_secret_max_age_seconds=300)
    assert signing_key(settings) == ("dev-1", b"k1")
    # rotated in Secrets Manager: a warm function keeps the cached key until max_age passes
    secrets.put_secret_value(SecretId=arn, SecretString=json.dumps({"key_id": "dev-2", "key": "k2"}))
    assert signing_key(settings) == ("dev-1", b"k1")
    parameters.clear_caches()
    assert signing_key(settings) == ("dev-2", b"k2")


@pytest.mark.parametrize("value", [{"key": "k"}, {"key_id": "dev-1"}, {"key_id": "dev-1", "key": ""}, ["k"]])
def test_a_secret_without_both_fields_is_refused(secrets, value):
    arn = secrets.create_secret(Name="rooms-evidence-bad", SecretString=json.dumps(value))["ARN"]
    with pytest.raises(UpstreamUnavailable) as raised:
        signing_key(Settings(evidence_signing_secret_arn=arn))
    assert raised.value.code == "signing_key_missing"


def test_the_local_key_is_used_only_without_a_secret():
    assert signing_key(Settings(evidence_signing_key="local-key", evidence_signing_key_id="local")) == (
        "local", b"local-key")
    with pytest.raises(UpstreamUnavailable):
        signing_key(Settings(evidence_signing_key=None))
