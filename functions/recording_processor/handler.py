"""recording_processor: S3 object-created events for the recordings prefix → verify the upload, mark the
recording available, tell the platform (EventBridge). Every record of the event is handled; keys arrive
URL-encoded. An error fails the invocation so that S3's asynchronous retries redeliver (idempotent)."""

from urllib.parse import unquote_plus

from rooms.clock import utcnow
from rooms.event_sources import S3Event, event_source
from rooms.observability import logger, metrics, tracer
from rooms.recordings.upload import process_uploaded_object
from rooms.settings import get_settings


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=S3Event)
def handler(event: S3Event, context):
    outcomes = []
    for record in event.records:
        if not record.event_name.startswith("ObjectCreated:"):
            continue
        bucket = record.s3.bucket.name
        key = unquote_plus(record.s3.get_object.key)
        outcome = process_uploaded_object(bucket, key, now=utcnow(), settings=get_settings())
        logger.info("recording object processed", extra={"bucket": bucket, "key": key, "outcome": outcome})
        outcomes.append({"key": key, "outcome": outcome})
    return {"processed": outcomes}
