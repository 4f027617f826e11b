"""The service's own events on EventBridge (source ``rooms``): the platform reacts to them
(emails when a recording is available, billing on no-shows, ...)."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from rooms.observability import logger
from rooms.settings import get_settings

SOURCE = "rooms"


@lru_cache(maxsize=1)
def _client():
    import boto3

    return boto3.client("events")


def publish(detail_type: str, detail: dict[str, Any]) -> None:
    """Put one event on the configured bus. Raises when EventBridge refuses it, so that the
    invocation fails and is retried rather than silently losing the notification."""
    response = _client().put_events(
        Entries=[{
            "Source": SOURCE,
            "DetailType": detail_type,
            "Detail": json.dumps(detail, separators=(",", ":"), default=str),
            "EventBusName": get_settings().event_bus_name,
        }]
    )
    if response.get("FailedEntryCount"):
        raise RuntimeError(f"EventBridge refused {detail_type}: {response['Entries']}")
    logger.info("event published", extra={"detail_type": detail_type, **{k: v for k, v in detail.items()
                                                                          if k in ("room_id", "recording_id")}})

