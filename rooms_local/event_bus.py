"""The booking platform's events, locally: an event put on the stack's bus in moto reaches
``booking_events`` as the CDK app's rule delivers it in AWS.

moto's server cannot invoke our in-process Lambdas, but its EventBridge does match rules and deliver to
SQS. So the stack puts a rule on its bus with the CDK rule's pattern (``booking_event_pattern``),
targeting a queue in moto; this module drains the queue and invokes the function with the event exactly
as EventBridge hands it to Lambda (the envelope: ``version, id, detail-type, source, account, time,
region, resources, detail``), and plays Lambda's asynchronous invocation: two retries on failure, then a
destination record on the failure queue (``requestPayload`` the event, ``responsePayload`` the error
with its message), as ``on_failure`` does in AWS (retries here are immediate, not spaced).

Tests wait for a given event id with ``wait(event_id)``; ``deliver(event)`` hands one envelope to the
function again (EventBridge's at-least-once redelivery).
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from rooms_local.lambda_runtime import FunctionRunner

log = logging.getLogger(__name__)
FUNCTION = "booking_events"
RETRY_ATTEMPTS = 2  # Lambda's asynchronous retries (infra: FunctionSpec retry_attempts)


def booking_event_pattern(source: str) -> dict[str, list[str]]:
    """The CDK rule's pattern (infra/constructs/booking_events.py; a test keeps them equal)."""
    from rooms.lifecycle.booking_models import INBOUND_DETAIL_TYPES

    return {"source": [source], "detail-type": list(INBOUND_DETAIL_TYPES)}


def dial_out_event_pattern() -> dict[str, list[str]]:
    """The CDK dial-out rule's pattern (infra/constructs/booking_events.py; a test keeps them equal): the
    service's own ``Dial-Out Requested`` events → ``dial_out_worker``."""
    from rooms.notify import SOURCE
    from rooms.phone.dial_out import REQUESTED_DETAIL_TYPE

    return {"source": [SOURCE], "detail-type": [REQUESTED_DETAIL_TYPE]}


# moto's default target input leaves out ``account``; this transformer gives the queue the whole event,
# as EventBridge hands it to a Lambda target (which in AWS needs no transformer).
_FIELDS = ("id", "detail-type", "source", "account", "time", "region", "resources", "detail")
_LAMBDA_ENVELOPE = {
    "InputPathsMap": {name: f"$.{name}" for name in _FIELDS},
    "InputTemplate": '{"version": "0", "id": "<id>", "detail-type": "<detail-type>", "source": "<source>", '
                     '"account": "<account>", "time": <time>, "region": "<region>", "resources": <resources>, '
                     '"detail": <detail>}',
}


class BookingEventDelivery:
    """A rule on the bus → one function (``booking_events`` by default; ``dial_out_worker`` with its pattern)."""

    def __init__(self, runner: FunctionRunner, *, endpoint_url: str, region: str, bus_name: str, source: str,
                 name: str = "rooms-booking-events", interval_s: float = 0.2, function: str = FUNCTION,
                 pattern: dict[str, list[str]] | None = None) -> None:
        self.runner = runner
        self.function = function
        self.pattern = pattern or booking_event_pattern(source)
        self.region = region
        self.bus_name = bus_name
        self.source = source
        self.name = name
        self.interval_s = interval_s
        self._endpoint_url = endpoint_url
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._done = threading.Condition()
        self.results: dict[str, dict[str, Any]] = {}  # event id → {"outcome"} or {"error"} of its last delivery
        self.envelopes: dict[str, dict[str, Any]] = {}  # event id → the event as delivered
        self.queue_url = ""
        self.failure_queue_url = ""

    def _client(self, service: str):
        import boto3

        return boto3.client(service, endpoint_url=self._endpoint_url, region_name=self.region,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def provision(self) -> BookingEventDelivery:
        """The rule (same pattern as in AWS) → delivery queue, and the function's failure queue."""
        sqs, events = self._client("sqs"), self._client("events")
        self.queue_url = sqs.create_queue(QueueName=f"{self.name}-delivery")["QueueUrl"]
        self.failure_queue_url = sqs.create_queue(QueueName=f"{self.name}-failures")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name=self.name, EventBusName=self.bus_name,
                        EventPattern=json.dumps(self.pattern))
        events.put_targets(Rule=self.name, EventBusName=self.bus_name,
                           Targets=[{"Id": self.function, "Arn": arn, "InputTransformer": _LAMBDA_ENVELOPE}])
        self._sqs = sqs
        return self

    def start(self) -> BookingEventDelivery:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"local-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.poll_once()
            except Exception as err:  # moto restarting: try again next tick
                log.debug("booking event poll failed: %s", err)

    def poll_once(self) -> int:
        """Deliver every event the rule has queued; returns how many."""
        delivered = 0
        while True:
            batch = self._sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return delivered
            for message in batch:
                event = json.loads(message["Body"])
                event.pop("ingestion-time", None)  # moto's bookkeeping, not part of what Lambda receives
                self.deliver(event)
                self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
                delivered += 1

    def deliver(self, event: dict[str, Any]) -> dict[str, Any]:
        """Invoke the function with one event as Lambda's asynchronous invocation does (retries, then the
        failure queue). Returns {"outcome": ...} or {"error": ..., "error_type": ...}."""
        error: BaseException | None = None
        for _attempt in range(1 + RETRY_ATTEMPTS):
            try:
                result = {"outcome": self.runner.invoke(self.function, event)["outcome"]}
                break
            except Exception as err:  # the function failed: Lambda retries it
                error = err
        else:
            assert error is not None
            self._sqs.send_message(QueueUrl=self.failure_queue_url,
                                   MessageBody=json.dumps(destination_record(event, error, self.function)))
            result = {"error": str(error), "error_type": type(error).__name__}
        with self._done:
            self.envelopes[event.get("id", "")] = event
            self.results[event.get("id", "")] = result
            self._done.notify_all()
        return result

    def wait(self, event_id: str, timeout: float = 30) -> dict[str, Any]:
        """The result of the delivery of ``event_id`` (put on the bus by anyone), once it happened."""
        with self._done:
            if not self._done.wait_for(lambda: event_id in self.results, timeout):
                raise TimeoutError(f"event {event_id} was not delivered within {timeout} s")
            return self.results[event_id]

    def failures(self) -> list[dict[str, Any]]:
        """Destination records on the failure queue (received and deleted)."""
        out = []
        while True:
            batch = self._sqs.receive_message(QueueUrl=self.failure_queue_url, MaxNumberOfMessages=10).get(
                "Messages", [])
            if not batch:
                return out
            for message in batch:
                out.append(json.loads(message["Body"]))
                self._sqs.delete_message(QueueUrl=self.failure_queue_url, ReceiptHandle=message["ReceiptHandle"])


def destination_record(event: dict[str, Any], error: BaseException, function: str = FUNCTION) -> dict[str, Any]:
    """What Lambda's on-failure destination receives for an asynchronous invocation that failed."""
    return {
        "version": "1.0",
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": f"arn:aws:lambda:us-east-1:000000000000:function:{function}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 1 + RETRY_ATTEMPTS,
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorMessage": str(error), "errorType": type(error).__name__, "stackTrace": []},
    }


def put_entry(sample: dict[str, Any], *, bus_name: str, now: datetime | None = None) -> dict[str, Any]:
    """A PutEvents entry from a sample file: an EventBridge envelope (as in events/booking_*.json, what
    Lambda receives) or already an entry (``Source``, ``DetailType``, ``Detail``). Its time is now unless
    the entry gives ``Time``: the order of events is the order of their times."""
    if "DetailType" in sample:
        entry = dict(sample)
        if isinstance(entry.get("Detail"), dict):
            entry["Detail"] = json.dumps(entry["Detail"])
    else:
        entry = {"Source": sample["source"], "DetailType": sample["detail-type"],
                 "Detail": json.dumps(sample["detail"]), "Resources": sample.get("resources", [])}
    entry.setdefault("EventBusName", bus_name)
    entry.setdefault("Time", now or datetime.now(UTC))
    return entry
