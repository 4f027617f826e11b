"""webhook_worker: the slow work LiveKit webhooks leave behind (rooms.webhooks ``run_follow_up``), from
the SQS queue webhook_handler writes to (rooms.work_queue): calls to LiveKit, S3 and EventBridge, and a
room's ending, so that the webhook itself is answered at once.

Partial batch failures (Powertools batch utility): a message whose work failed goes back to the queue and
is delivered again (every follow-up is idempotent); after the queue's maxReceiveCount it moves to the
dead-letter queue, whose depth is alarmed. The others of the batch are done and deleted.
"""

import json

from rooms.batch import BatchProcessor, EventType, process_partial_response
from rooms.clock import utcnow
from rooms.event_sources import SQSRecord
from rooms.observability import logger, metrics, tracer
from rooms.settings import get_settings
from rooms.webhooks import run_follow_up

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> list[str]:
    return run_follow_up(json.loads(record.body), now=utcnow(), settings=get_settings())


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict, context):
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
