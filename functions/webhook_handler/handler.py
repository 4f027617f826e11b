"""webhook_handler: LiveKit webhooks on a Lambda function URL (LiveKit's signature is the check).

401 for a missing or bad signature (nothing written); 200 for everything else we could process,
including duplicates, unknown rooms and events we don't act on; 500 when applying failed, so that
LiveKit retries (its retries cover 5xx, not 4xx).
"""

import json

from aws_lambda_powertools.utilities.data_classes import LambdaFunctionUrlEvent, event_source

from rooms.clock import utcnow
from rooms.errors import Unauthorized
from rooms.observability import logger, metrics, tracer
from rooms.webhooks import process_webhook, verify_webhook


def _reply(status: int, body: dict) -> dict:
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=LambdaFunctionUrlEvent)
def handler(event: LambdaFunctionUrlEvent, context):
    # The raw body exactly as LiveKit signed it (function URLs may base64-encode it); never re-serialized.
    body = event.decoded_body or ""
    try:
        webhook = verify_webhook(body, event.headers.get("authorization"))
    except Unauthorized as err:
        logger.warning("webhook refused", extra={"code": err.code})
        return _reply(401, {"code": err.code, "message": "invalid webhook signature"})
    logger.append_keys(event_id=webhook.id, livekit_event=webhook.event)
    outcome = process_webhook(webhook, now=utcnow())
    metrics.add_metric(name="WebhooksProcessed", unit="Count", value=1)
    return _reply(200, {"outcome": outcome})
