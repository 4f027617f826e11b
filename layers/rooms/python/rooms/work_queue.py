"""The webhook worker's queue (SQS): the slow work a LiveKit webhook leaves behind (calls to LiveKit, S3,
EventBridge; a room's ending), done by the ``webhook_worker`` function so that the webhook is answered
at once (LiveKit sends a room's webhooks one at a time, with no timeout, and drops those queued over
30 s behind a slow answer). Delivery is at least once: the work is idempotent (``rooms.webhooks``)."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from rooms.settings import get_settings


@lru_cache(maxsize=1)
def _client():
    import boto3

    return boto3.client("sqs")


def send(message: dict[str, Any]) -> None:
    """Queue one message (raises when SQS refuses it: the webhook then answers 5xx and LiveKit retries)."""
    url = get_settings().webhook_work_queue_url
    if not url:
        raise RuntimeError("WEBHOOK_WORK_QUEUE_URL is not set: the webhook's follow-up work has nowhere to go")
    _client().send_message(QueueUrl=url, MessageBody=json.dumps(message, separators=(",", ":")))
