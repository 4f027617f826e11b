"""The webhook worker's queue, locally: webhook_handler queues its follow-up work on an SQS queue in moto
(the same ``rooms.work_queue`` code as in AWS), and this module plays Lambda's SQS event source mapping
for ``webhook_worker``: it receives batches, invokes the function with the SQS event Lambda builds,
deletes the messages the function did not report in ``batchItemFailures``, and leaves those to come back
after the visibility timeout; moto's redrive policy moves a message to the dead-letter queue after
``MAX_RECEIVE_COUNT`` receives, as SQS does (infra/constructs/functions.py has the same numbers).

``drain()`` waits until the queue is empty and nothing is being worked on: tests that check a follow-up's
effects (a revoked member removed, a room's release, "Participant Waiting") drain first, as they drain
the emulator's webhooks.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rooms_local.lambda_runtime import FunctionRunner

log = logging.getLogger(__name__)
FUNCTION = "webhook_worker"
MAX_RECEIVE_COUNT = 3  # infra: WEBHOOK_WORK_MAX_RECEIVE_COUNT
BATCH_SIZE = 10  # infra: WEBHOOK_WORK_BATCH_SIZE
LONG_POLL_S = 1
VISIBILITY_TIMEOUT_S = 2  # short locally: a failed message comes back soon (in AWS: 6 x the function's timeout)


class WebhookWorkDelivery:
    def __init__(self, runner: FunctionRunner, *, endpoint_url: str, region: str, name: str,
                 interval_s: float = 0.01) -> None:
        self.runner = runner
        self.region = region
        self.name = name
        self.interval_s = interval_s
        self._endpoint_url = endpoint_url
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._polling = threading.Lock()
        self.queue_url = ""
        self.dead_letter_queue_url = ""
        self.invocations = 0
        self.durations: list[tuple[int, float]] = []  # (messages, seconds) per invocation (the bench reads them)

    def provision(self) -> WebhookWorkDelivery:
        import boto3

        self._sqs = boto3.client("sqs", endpoint_url=self._endpoint_url, region_name=self.region,
                                 aws_access_key_id="testing", aws_secret_access_key="testing")
        self.dead_letter_queue_url = self._sqs.create_queue(QueueName=f"{self.name}-dlq")["QueueUrl"]
        dlq_arn = self._sqs.get_queue_attributes(QueueUrl=self.dead_letter_queue_url,
                                                 AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.queue_url = self._sqs.create_queue(QueueName=self.name, Attributes={
            "VisibilityTimeout": str(VISIBILITY_TIMEOUT_S),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT}),
        })["QueueUrl"]
        self._arn = self._sqs.get_queue_attributes(QueueUrl=self.queue_url,
                                                   AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return self

    def start(self) -> WebhookWorkDelivery:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="local-webhook-work", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    @contextmanager
    def paused(self) -> Iterator[None]:
        """No delivery meanwhile (tests: the webhook answered, its work still queued)."""
        self.stop()
        try:
            yield
        finally:
            self.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.poll_once(wait_s=LONG_POLL_S)
            except Exception as err:  # moto going away at shutdown: try again next tick
                log.debug("webhook work poll failed: %s", err)

    def poll_once(self, wait_s: int = 0) -> int:
        """Deliver what the queue holds, a batch per invocation; returns how many messages were done.
        ``wait_s``: long-poll that long for the first batch (as Lambda's poller does: an idle queue costs
        no CPU, which the webhook handler running beside it in this process needs)."""
        done = 0
        with self._polling:
            while not self._stop.is_set():
                batch = self._sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=BATCH_SIZE,
                                                  WaitTimeSeconds=wait_s if not done else 0,
                                                  AttributeNames=["All"]).get("Messages", [])
                if not batch:
                    return done
                done += self._deliver(batch)
        return done

    def _deliver(self, batch: list[dict[str, Any]]) -> int:
        event = {"Records": [self._record(m) for m in batch]}
        self.invocations += 1
        started = time.perf_counter()
        try:
            result = self.runner.invoke(FUNCTION, event) or {}
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        except Exception as err:  # the whole invocation failed: every message comes back
            log.warning("webhook_worker failed: %s", err)
            failed = {m["MessageId"] for m in batch}
        self.durations.append((len(batch), time.perf_counter() - started))
        done = [m for m in batch if m["MessageId"] not in failed]
        for message in done:
            self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return len(done)

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        """One message as Lambda's SQS event source hands it to the function."""
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {},
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self._arn,
            "awsRegion": self.region,
        }

    def _in_queue(self, url: str) -> int:
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])

    def drain(self, timeout: float = 30) -> None:
        """Until every queued follow-up was worked on (done, or moved to the dead-letter queue)."""
        deadline = time.monotonic() + timeout
        while True:
            self.poll_once()
            with self._polling:  # nothing in flight, and nothing left (a failed one waits to come back)
                if self._in_queue(self.queue_url) == 0:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"webhook follow-up work not drained within {timeout} s")
            time.sleep(0.1)

    def dead_letters(self) -> list[dict[str, Any]]:
        """Messages on the dead-letter queue (received and deleted), their bodies parsed."""
        out = []
        while True:
            batch = self._sqs.receive_message(QueueUrl=self.dead_letter_queue_url,
                                              MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return out
            for message in batch:
                out.append(json.loads(message["Body"]))
                self._sqs.delete_message(QueueUrl=self.dead_letter_queue_url, ReceiptHandle=message["ReceiptHandle"])
