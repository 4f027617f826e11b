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


def store_keys(settings: Settings | None = None) -> StoreKeys | None:
    """Explicit keys for the store (R2, or the local stack), or None to use the environment's role."""
    settings = settings or get_settings()
    if settings.recordings_s3_secret_arn:
        from aws_lambda_powertools.utilities import parameters

        secret = parameters.get_secret(settings.recordings_s3_secret_arn, transform="json", max_age=300)
        return StoreKeys(secret["access_key"], secret["secret"])
    if settings.recordings_s3_access_key and settings.recordings_s3_secret:
        return StoreKeys(settings.recordings_s3_access_key, settings.recordings_s3_secret.get_secret_value())
    return None


def bucket(settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    if not settings.recordings_bucket:
        raise RuntimeError("RECORDINGS_BUCKET is not configured")
    return settings.recordings_bucket


def object_key(room_id: str, recording_id: str, settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    return f"{settings.recordings_prefix}{room_id}/{recording_id}.mp4"


def parse_object_key(key: str, settings: Settings | None = None) -> tuple[str, str] | None:
    """(room_id, recording_id) of a key in our layout, else None."""
    prefix = (settings or get_settings()).recordings_prefix
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


def inspect_object(bucket_name: str, key: str) -> StoredObject | None:
    """HeadObject plus the first 16 bytes (a ranged GET); None when the object does not exist."""
    from botocore.exceptions import ClientError

    s3 = client()
    try:
        head = s3.head_object(Bucket=bucket_name, Key=key, ChecksumMode="ENABLED")
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
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
    from botocore.exceptions import ClientError

    try:
        client().head_object(Bucket=bucket_name, Key=key)
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


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


def delete_object(bucket_name: str, key: str) -> int:
    """Delete the recording for good: every version and delete marker of ``key`` (a versioned bucket
    keeps a deleted object's data as a noncurrent version otherwise). Returns how many were deleted.
    Stores without a versioning API (R2) get the plain delete."""
    from botocore.exceptions import ClientError

    s3 = client()
    try:
        listing = s3.get_paginator("list_object_versions").paginate(Bucket=bucket_name, Prefix=key)
        versions = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for page in listing
            for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
            if v["Key"] == key  # the prefix also matches longer keys
        ]
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") not in ("NotImplemented", "NotImplementedError"):
            raise
        s3.delete_object(Bucket=bucket_name, Key=key)
        return 1
    for start in range(0, len(versions), 1000):  # DeleteObjects takes up to 1000 keys
        s3.delete_objects(Bucket=bucket_name, Delete={"Objects": versions[start:start + 1000], "Quiet": True})
    return len(versions)


def lifecycle_configuration(settings: Settings | None = None) -> dict[str, Any]:
    """The bucket's lifecycle: recordings move to archive storage after the configured days (the
    record's ``archive_at`` says when). Instant-retrieval archive keeps presigned URLs working."""
    settings = settings or get_settings()
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


def reset_for_tests() -> None:
    _client.cache_clear()
