"""The S3 owner module against AWS's real answers (botocore Stubber): HeadObject 404 vs 403, and which
credentials the egress request carries versus the functions' own S3 calls."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber

from rooms.recordings import storage
from rooms.settings import get_settings

BUCKET, KEY = "rooms-recordings", "recordings/room/room.abc.mp4"


@pytest.fixture
def s3(monkeypatch):
    client = boto3.client(
        "s3", region_name="eu-west-1", aws_access_key_id="AKIATEST", aws_secret_access_key="secret"
    )
    with Stubber(client) as stubber:
        monkeypatch.setattr(storage, "client", lambda: client)
        yield stubber
        stubber.assert_no_pending_responses()


def test_missing_key_with_list_bucket_reads_as_missing(s3):
    # with s3:ListBucket (granted by infra/) S3 answers a missing key with 404
    s3.add_client_error("head_object", service_error_code="404", http_status_code=404)
    s3.add_client_error("head_object", service_error_code="404", http_status_code=404)
    assert storage.inspect_object(BUCKET, KEY) is None
    assert storage.object_exists(BUCKET, KEY) is False


@pytest.mark.parametrize("call", [storage.inspect_object, storage.object_exists])
def test_403_is_a_denial_never_missing(s3, call):
    # without ListBucket S3 says 403 for a missing key too; with it, 403 is a real denial: reading it as
    # "missing" would mark a good recording failed, so it fails the invocation with the cause named
    s3.add_client_error("head_object", service_error_code="403", http_status_code=403, service_message="Forbidden")
    with pytest.raises(storage.StoreAccessDenied, match="s3:ListBucket"):
        call(BUCKET, KEY)


def test_other_errors_propagate(s3):
    s3.add_client_error("head_object", service_error_code="500", http_status_code=500)
    with pytest.raises(Exception) as raised:
        storage.object_exists(BUCKET, KEY)
    assert not isinstance(raised.value, storage.StoreAccessDenied)


def test_present_object_is_inspected(s3):
    s3.add_response(
        "head_object",
        {"ContentLength": 20, "ContentType": "video/mp4", "ETag": '"abc"',
         "LastModified": datetime(2026, 1, 1, tzinfo=UTC)},
        {"Bucket": BUCKET, "Key": KEY, "ChecksumMode": "ENABLED"},
    )
    from io import BytesIO

    from botocore.response import StreamingBody

    head = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00"
    s3.add_response(
        "get_object",
        {"Body": StreamingBody(BytesIO(head), len(head))},
        {"Bucket": BUCKET, "Key": KEY, "Range": "bytes=0-15"},
    )
    obj = storage.inspect_object(BUCKET, KEY)
    assert obj is not None and obj.size == 20 and obj.checksum == "etag:abc" and storage.looks_like_mp4(obj.head)


@pytest.fixture
def env(monkeypatch):
    for name in ("RECORDINGS_S3_SECRET_ARN", "RECORDINGS_S3_ACCESS_KEY", "RECORDINGS_S3_SECRET",
                 "RECORDINGS_EGRESS_SECRET_ARN", "RECORDINGS_S3_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def _secrets(monkeypatch, values: dict[str, dict]) -> list[str]:
    from aws_lambda_powertools.utilities import parameters

    read: list[str] = []

    def get_secret(name, **_):
        read.append(name)
        return values[name]

    monkeypatch.setattr(parameters, "get_secret", get_secret)
    return read


def test_egress_carries_its_own_keys_and_the_functions_keep_their_role(env):
    arn = "arn:aws:secretsmanager:eu-west-1:1:secret:egress"
    env.setenv("RECORDINGS_EGRESS_SECRET_ARN", arn)
    env.setenv("RECORDINGS_BUCKET", BUCKET)
    read = _secrets(env, {arn: {"access_key": "AKIAEGRESS", "secret": "s3cr3t"}})
    from rooms.recordings.record import file_target

    target = file_target("room", "room.abc", get_settings())
    assert (target.access_key, target.secret) == ("AKIAEGRESS", "s3cr3t")
    assert storage.store_keys(get_settings()) is None  # boto3 in the functions: the Lambda role
    assert read == [arn]


def test_r2_keys_serve_functions_and_egress(env):
    arn = "arn:aws:secretsmanager:eu-west-1:1:secret:r2"
    env.setenv("RECORDINGS_S3_SECRET_ARN", arn)
    env.setenv("RECORDINGS_S3_ENDPOINT", "https://acct.r2.cloudflarestorage.com")
    _secrets(env, {arn: {"access_key": "r2key", "secret": "r2secret"}})
    assert storage.store_keys(get_settings()) == storage.StoreKeys("r2key", "r2secret")
    assert storage.egress_keys(get_settings()) == storage.StoreKeys("r2key", "r2secret")


def test_self_hosted_egress_carries_no_keys(env):
    assert storage.egress_keys(get_settings()) is None


def test_delete_removes_every_version_in_the_versioned_bucket(s3):
    s3.add_response("delete_object", {"DeleteMarker": True, "VersionId": "m1"}, {"Bucket": BUCKET, "Key": KEY})
    s3.add_response(
        "list_object_versions",
        {
            "Versions": [{"Key": KEY, "VersionId": "v1"}, {"Key": KEY + ".other", "VersionId": "v9"}],
            "DeleteMarkers": [{"Key": KEY, "VersionId": "m1"}],
            "IsTruncated": False,
        },
        {"Bucket": BUCKET, "Prefix": KEY},
    )
    s3.add_response("delete_object", {}, {"Bucket": BUCKET, "Key": KEY, "VersionId": "v1"})
    s3.add_response("delete_object", {}, {"Bucket": BUCKET, "Key": KEY, "VersionId": "m1"})
    storage.delete_object(BUCKET, KEY)  # the Stubber fails on any other call or order


def test_delete_in_a_store_without_versioning(s3):
    s3.add_response("delete_object", {}, {"Bucket": BUCKET, "Key": KEY})
    s3.add_client_error("list_object_versions", service_error_code="NotImplemented", http_status_code=501)
    storage.delete_object(BUCKET, KEY)
