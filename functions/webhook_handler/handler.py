"""webhook_handler: LiveKit webhooks on the HTTP API route POST /livekit/webhook (no authorizer: LiveKit's
signature is the check).

401 for a missing or bad signature (nothing written); 400 for a body that is not UTF-8, or signed but
not an event we can read (LiveKit does not retry 4xx: redelivery could not help); 200 for everything
else we could process, including duplicates, unknown rooms and events we don't act on; 500 when applying failed, so that
LiveKit retries (its retries cover 5xx, not 4xx).

Answered fast: it records the event's facts (DynamoDB) and queues the slow work (LiveKit, S3, EventBridge
calls, a room's ending) for webhook_worker (rooms.webhooks).
"""

import base64
import binascii
import json

from rooms import metric_names
from rooms.clock import utcnow
from rooms.errors import RoomsError, Unauthorized
from rooms.event_sources import APIGatewayProxyEventV2, event_source
from rooms.observability import logger, metrics, tracer
from rooms.settings import get_settings
from rooms.webhooks import process_webhook, verify_webhook


def _raw_body(event: APIGatewayProxyEventV2) -> str:
    raw = event.body or ""
    data = base64.b64decode(raw, validate=True) if event.is_base64_encoded else raw.encode()
    return data.decode("utf-8")


def _reply(status: int, body: dict) -> dict:
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=APIGatewayProxyEventV2)
def handler(event: APIGatewayProxyEventV2, context):
    settings = get_settings()
    # The raw body exactly as LiveKit signed it (base64 when API Gateway deems it binary); never re-serialized.
    try:
        body = _raw_body(event)
    except (UnicodeDecodeError, binascii.Error, ValueError):
        return _reply(400, {"code": "invalid_body", "message": "webhook body is not UTF-8 text"})
    try:
        webhook = verify_webhook(body, event.headers.get("authorization"), settings=settings)
    except Unauthorized as err:
        logger.warning("webhook refused", extra={"code": err.code})
        # alarmed (infra/constructs/monitoring.py): a wrong secret silently stops all attendance otherwise
        metrics.add_metric(name=metric_names.WEBHOOK_SIGNATURE_FAILURES, unit="Count", value=1)
        return _reply(401, {"code": err.code, "message": "invalid webhook signature"})
    except RoomsError as err:
        logger.warning("webhook body refused", extra={"code": err.code, "error": err.message})
        return _reply(400, {"code": err.code, "message": err.message})
    logger.append_keys(event_id=webhook.id, livekit_event=webhook.event)
    outcome = process_webhook(webhook, body=body, now=utcnow(), settings=settings)
    metrics.add_metric(name=metric_names.WEBHOOKS_PROCESSED, unit="Count", value=1)
    return _reply(200, {"outcome": outcome})
