"""DynamoDB unreachable: the API answers 503 ``store_unavailable`` (a caller may retry), not 500."""

from __future__ import annotations

import json
import socket
import uuid

from rooms import store
from rooms.settings import get_settings
from rooms_local.config import EVENTS_DIR
from rooms_local.lambda_runtime import LambdaContext, load_function


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_api_answers_503_store_unavailable_when_dynamodb_cannot_be_reached(monkeypatch):
    for key, value in {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{_closed_port()}", "AWS_MAX_ATTEMPTS": "1",
                       "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                       "AWS_DEFAULT_REGION": "us-east-1", "TABLE_NAME": f"unreachable-{uuid.uuid4().hex[:6]}",
                       "POWERTOOLS_METRICS_NAMESPACE": "Rooms", "POWERTOOLS_SERVICE_NAME": "rooms"}.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    try:
        event = json.loads((EVENTS_DIR / "get_room.json").read_text())
        result = load_function("room_query").handler(event, LambdaContext("room_query"))
    finally:
        get_settings.cache_clear()
        store.bind("rooms")  # drop the connections made for the unreachable endpoint
    assert result["statusCode"] == 503, result
    assert json.loads(result["body"])["code"] == "store_unavailable"
