"""The recordings bucket: the one module that talks to S3 (or an S3-compatible store such as R2).

Keys name the room and the recording: ``{prefix}{room_id}/{recording_id}.mp4``. Where the store is
(endpoint, region, path style, keys) comes from settings only; with none set, boto3's defaults apply
(the Lambda's role in AWS; ``AWS_ENDPOINT_URL`` in the local stack).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from rooms.settings import Settings, get_settings

MP4_CONTENT_TYPE = "video/mp4"


@dataclass(frozen=True)
class StoreKeys:
    access_key: str
    secret: str


def store_keys(settings: Settings) -> StoreKeys | None:
    """Explicit keys for the store (R2, or the local stack), or None to use the environment's role."""
    if settings.recordings_s3_secret_arn:
        from aws_lambda_powertools.utilities import parameters

        secret = parameters.get_secret(settings.recordings_s3_secret_arn, transform="json", max_age=300)
        return StoreKeys(secret["access_key"], secret["secret"])
    if settings.recordings_s3_access_key and settings.recordings_s3_secret:
        return StoreKeys(settings.recordings_s3_access_key, settings.recordings_s3_secret.get_secret_value())
    return None


def egress_keys(settings: Settings) -> StoreKeys | None:
    """Keys the egress request carries. In AWS: the egress upload secret (RECORDINGS_EGRESS_SECRET_ARN,
    JSON {"access_key", "secret"}): LiveKit Cloud workers have no identity in the account, while the
    functions keep their role. Otherwise the store's keys (R2, local stack), or None (a self-hosted
    egress uploads with its host's credentials)."""
    if settings.recordings_egress_secret_arn:
        from aws_lambda_powertools.utilities import parameters

        secret = parameters.get_secret(settings.recordings_egress_secret_arn, transform="json", max_age=300)
        return StoreKeys(secret["access_key"], secret["secret"])
    return store_keys(settings)


def bucket(settings: Settings) -> str:
    if not settings.recordings_bucket:
        raise RuntimeError("RECORDINGS_BUCKET is not configured")
    return settings.recordings_bucket


def object_key(room_id: str, recording_id: str, settings: Settings) -> str:
    return f"{settings.recordings_prefix}{room_id}/{recording_id}.mp4"


def parse_object_key(key: str, settings: Settings) -> tuple[str, str] | None:
    """(room_id, recording_id) of a key in our layout, else None."""
    prefix = settings.recordings_prefix
    match = re.fullmatch(re.escape(prefix) + r"([^/]+)/([^/]+)\.mp4", key)
    return (match.group(1), match.group(2)) if match else None


@lru_cache(maxsize=4)
def _client(endpoint: str | None, region: str | None, path_style: bool, access_key: str | None,
            secret: str | None) -> Any:
    import boto3
    from botocore.config import Config

    kwargs: dict[str, Any] = {
        "config": Config(signature_version="s3v4", s3={"addressing_style": "path" if path_style else "auto"}),
    }
    if endpoint:
        kwargs["endpoint_url"] = endpoint
    if region:
        kwargs["region_name"] = region
    if access_key and secret:
        kwargs["aws_access_key_id"], kwargs["aws_secret_access_key"] = access_key, secret
    return boto3.client("s3", **kwargs)


def client() -> Any:
    settings = get_settings()
    keys = store_keys(settings)
    return _client(settings.recordings_s3_endpoint, settings.recordings_s3_region,
                   settings.recordings_s3_force_path_style, keys.access_key if keys else None,
                   keys.secret if keys else None)


@dataclass(frozen=True)
class StoredObject:
    bucket: str
    key: str
    size: int
    content_type: str | None
    checksum: str | None  # "sha256:<base64>" when S3 kept one, else "etag:<etag>"
    last_modified: datetime
    head: bytes  # the first bytes, to check what the file is


class StoreAccessDenied(RuntimeError):
    """The store refused a read (HeadObject 403).

    Decision: a 403 is never read as "missing". S3 answers HeadObject on a missing key with 403 only when
    the caller lacks s3:ListBucket; infra/ grants ListBucket to every role that checks objects, so a 403
    here is a real denial (a policy, a KMS key, the wrong credentials). Reading it as missing would mark a
    good recording as failed; raising fails the invocation instead, which the errors alarm reports and
    S3 events / LiveKit webhooks retry.
    """


_MISSING_CODES = ("404", "NoSuchKey", "NotFound")
_DENIED_CODES = ("403", "AccessDenied", "Forbidden")


def _head(s3: Any, bucket_name: str, key: str, **kwargs: Any) -> dict[str, Any] | None:
    """HeadObject; None when the key does not exist, StoreAccessDenied on a 403."""
    from botocore.exceptions import ClientError

    try:
        return s3.head_object(Bucket=bucket_name, Key=key, **kwargs)
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code")
        if code in _MISSING_CODES:
            return None
        if code in _DENIED_CODES:
            raise StoreAccessDenied(
                f"HeadObject {bucket_name}/{key} was refused (403): the role needs s3:GetObject on the key "
                "and s3:ListBucket on the bucket (without ListBucket S3 reports a missing key as 403)"
            ) from err
        raise


def inspect_object(bucket_name: str, key: str) -> StoredObject | None:
    """HeadObject plus the first 16 bytes (a ranged GET); None when the object does not exist."""
    s3 = client()
    head = _head(s3, bucket_name, key, ChecksumMode="ENABLED")
    if head is None:
        return None
    first = b""
    if head.get("ContentLength", 0) > 0:
        first = s3.get_object(Bucket=bucket_name, Key=key, Range="bytes=0-15")["Body"].read()
    checksum = f"sha256:{head['ChecksumSHA256']}" if head.get("ChecksumSHA256") else None
    if checksum is None and head.get("ETag"):
        checksum = f"etag:{head['ETag'].strip(chr(34))}"
    return StoredObject(
        bucket=bucket_name, key=key, size=int(head.get("ContentLength", 0)), content_type=head.get("ContentType"),
        checksum=checksum, last_modified=head["LastModified"], head=first,
    )


def object_exists(bucket_name: str, key: str) -> bool:
    return _head(client(), bucket_name, key) is not None


def looks_like_mp4(first_bytes: bytes) -> bool:
    """An ISO BMFF file starts with a box whose type is ``ftyp``."""
    return len(first_bytes) >= 8 and first_bytes[4:8] == b"ftyp"


def presigned_get_url(bucket_name: str, key: str, *, expires_in: int, disposition: str) -> str:
    return client().generate_presigned_url(
        "get_object",
        Params={"Bucket": bucket_name, "Key": key, "ResponseContentDisposition": disposition,
                "ResponseContentType": MP4_CONTENT_TYPE},
        ExpiresIn=expires_in,
    )


def delete_object(bucket_name: str, key: str) -> None:
    """Delete the recording for good. In the versioned S3 bucket a plain delete only adds a delete marker
    and keeps the file as a noncurrent version (30 days): every version of the key goes too (a deleted
    therapy recording must not linger). Stores without versioning (R2) answer ListObjectVersions with
    NotImplemented; there the plain delete is the whole job."""
    from botocore.exceptions import ClientError

    s3 = client()
    s3.delete_object(Bucket=bucket_name, Key=key)
    try:
        pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket_name, Prefix=key)
        versions = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for page in pages
            for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
            if v["Key"] == key and v.get("VersionId") not in (None, "null")
        ]
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") in ("NotImplemented", "501"):
            return
        raise
    for version in versions:
        s3.delete_object(Bucket=bucket_name, Key=key, VersionId=version["VersionId"])


def lifecycle_configuration(settings: Settings) -> dict[str, Any]:
    """The bucket's lifecycle: recordings move to archive storage after the configured days (the
    record's ``archive_at`` says when). Instant-retrieval archive keeps presigned URLs working."""
    return {
        "Rules": [{
            "ID": "archive-recordings",
            "Status": "Enabled",
            "Filter": {"Prefix": settings.recordings_prefix},
            "Transitions": [{"Days": settings.recordings_archive_days,
                             "StorageClass": settings.recordings_archive_storage_class}],
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2},
        }]
    }

