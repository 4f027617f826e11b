"""The table and the recordings bucket."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match

pytestmark = pytest.mark.infra


def test_table_keys_billing_pitr_ttl_encryption(dev):
    dev.template.resource_count_is("AWS::DynamoDB::Table", 1)
    dev.template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": Match.array_with(
                [
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"},
                    {"AttributeName": "gsi1pk", "AttributeType": "S"},
                    {"AttributeName": "gsi1sk", "AttributeType": "S"},
                ]
            ),
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
            "TimeToLiveSpecification": {"AttributeName": "ttl", "Enabled": True},
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": "gsi1",
                    "KeySchema": [
                        {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                        {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        },
    )


def test_table_is_protected_in_production_only(dev, prod):
    (dev_table,) = dev.resources("AWS::DynamoDB::Table").values()
    (prod_table,) = prod.resources("AWS::DynamoDB::Table").values()
    assert dev_table["DeletionPolicy"] == "Delete"
    assert dev_table["Properties"].get("DeletionProtectionEnabled", False) is False
    assert prod_table["DeletionPolicy"] == "Retain"
    assert prod_table["UpdateReplacePolicy"] == "Retain"
    assert prod_table["Properties"]["DeletionProtectionEnabled"] is True


def _recordings_bucket(synth):
    ((logical_id, bucket),) = [
        (k, v) for k, v in synth.resources("AWS::S3::Bucket").items() if k.startswith("StorageRecordings")
    ]
    return logical_id, bucket["Properties"]


def test_recordings_bucket_is_private_encrypted_versioned_and_logged(dev):
    _, props = _recordings_bucket(dev)
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ] == {"SSEAlgorithm": "AES256"}
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["LoggingConfiguration"]["DestinationBucketName"]["Ref"].startswith("StorageAccessLogs")


def test_every_bucket_denies_non_tls_requests(dev):
    policies = dev.resources("AWS::S3::BucketPolicy").values()
    assert len(policies) == len(dev.resources("AWS::S3::Bucket"))
    for policy in policies:
        assert {
            "Action": "s3:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
        }.items() <= policy["Properties"]["PolicyDocument"]["Statement"][0].items()


@pytest.mark.parametrize(("fixture", "archive", "expire"), [("dev", 30, 365), ("prod", 60, 730)])
def test_lifecycle_archives_then_expires_from_context(request, fixture, archive, expire):
    _, props = _recordings_bucket(request.getfixturevalue(fixture))
    (rule,) = props["LifecycleConfiguration"]["Rules"]
    assert rule["Prefix"] == "recordings/"
    assert rule["Status"] == "Enabled"
    assert rule["Transitions"] == [{"StorageClass": "GLACIER_IR", "TransitionInDays": archive}]
    assert rule["ExpirationInDays"] == expire
    assert rule["NoncurrentVersionExpiration"]["NoncurrentDays"] > 0
    assert rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 7


def test_new_recordings_notify_the_processor_for_the_prefix_only(dev):
    processor_id, _ = dev.functions_by_name()["recording_processor"]
    bucket_id, _ = _recordings_bucket(dev)
    dev.template.has_resource_properties(
        "Custom::S3BucketNotifications",
        {
            "BucketName": {"Ref": bucket_id},
            "NotificationConfiguration": {
                "LambdaFunctionConfigurations": [
                    {
                        "Events": ["s3:ObjectCreated:*"],
                        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "recordings/"}]}},
                        "LambdaFunctionArn": {"Fn::GetAtt": [processor_id, "Arn"]},
                    }
                ]
            },
        },
    )
    dev.template.has_resource_properties(
        "AWS::Lambda::Permission",
        {
            "Action": "lambda:InvokeFunction",
            "Principal": "s3.amazonaws.com",
            "FunctionName": {"Fn::GetAtt": [processor_id, "Arn"]},
            "SourceArn": {"Fn::GetAtt": [bucket_id, "Arn"]},
        },
    )
