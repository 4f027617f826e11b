"""S3 object-created notifications for the local stack.

moto's server cannot invoke our in-process Lambdas, so this plays S3's part: it watches the recordings
prefix of the bucket (ListObjectsV2 on a short timer) and invokes ``recording_processor`` with the event
S3 would send (``ObjectCreated:Put``, URL-encoded key, size, eTag, sequencer), asynchronously like S3.

Tests control the order of events: ``paused`` keeps watching (objects are noted as seen) without
delivering, and ``deliver(key)`` sends one event for an object now and returns the function's result.
"""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

from rooms_local.lambda_runtime import FunctionRunner

log = logging.getLogger(__name__)
FUNCTION = "recording_processor"


def object_created_event(bucket: str, key: str, *, size: int, etag: str, region: str = "us-east-1",
                         sequencer: str | None = None) -> dict[str, Any]:
    """The event S3 sends to a Lambda for one new object (keys are URL-encoded, spaces as ``+``)."""
    now = datetime.now(UTC)
    return {
        "Records": [{
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": region,
            "eventTime": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
            "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "AWS:LOCALEGRESS"},
            "requestParameters": {"sourceIPAddress": "127.0.0.1"},
            "responseElements": {"x-amz-request-id": uuid.uuid4().hex[:16].upper(),
                                 "x-amz-id-2": uuid.uuid4().hex},
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "recordings-created",
                "bucket": {"name": bucket, "ownerIdentity": {"principalId": "LOCAL"},
                           "arn": f"arn:aws:s3:::{bucket}"},
                "object": {"key": quote_plus(key, safe="/"), "size": size, "eTag": etag.strip('"'),
                           "sequencer": sequencer or f"{int(now.timestamp() * 1e6):016X}"},
            },
        }]
    }


class S3Notifier:
    def __init__(self, runner: FunctionRunner, *, bucket: str, prefix: str, endpoint_url: str, region: str,
                 interval_s: float = 0.3) -> None:
        self.runner = runner
        self.bucket = bucket
        self.prefix = prefix
        self.region = region
        self.interval_s = interval_s
        self.paused = False
        self._endpoint_url = endpoint_url
        self._seen: dict[str, str] = {}  # key -> eTag already notified (or noted while paused)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client = None

    def _s3(self):
        if self._client is None:
            import boto3

            self._client = boto3.client("s3", endpoint_url=self._endpoint_url, region_name=self.region,
                                        aws_access_key_id="testing", aws_secret_access_key="testing")
        return self._client

    def start(self) -> S3Notifier:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="local-s3-notifications", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def poll_once(self) -> list[str]:
        """Notify every new (or rewritten) object under the prefix; returns their keys."""
        new = []
        paginator = self._s3().get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            for obj in page.get("Contents", []):
                if self._seen.get(obj["Key"]) != obj["ETag"]:
                    self._seen[obj["Key"]] = obj["ETag"]
                    if not self.paused:
                        new.append(obj["Key"])
                        self.runner.invoke_async(FUNCTION, self.event_for(obj["Key"], obj["Size"], obj["ETag"]))
        return new

    def event_for(self, key: str, size: int | None = None, etag: str | None = None) -> dict[str, Any]:
        if size is None or etag is None:
            from botocore.exceptions import ClientError

            try:
                head = self._s3().head_object(Bucket=self.bucket, Key=key)
                size, etag = head["ContentLength"], head["ETag"]
            except ClientError:  # gone already: S3 may still deliver the event of its creation
                size, etag = 0, "d41d8cd98f00b204e9800998ecf8427e"
        return object_created_event(self.bucket, key, size=size, etag=etag, region=self.region)

    def deliver(self, key: str, size: int | None = None, etag: str | None = None) -> Any:
        """Send the object-created event for ``key`` now and wait for the function's result."""
        return self.runner.invoke(FUNCTION, self.event_for(key, size, etag))

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.poll_once()
            except Exception as err:  # moto restarting, bucket not there yet: try again next tick
                log.debug("S3 notification poll failed: %s", err)
