"""Build and sign LiveKit webhook bodies exactly as LiveKit does (protobuf JSON + sha256 claim)."""

from __future__ import annotations

import base64
import hashlib
import time
import uuid

import requests
from google.protobuf.json_format import MessageToJson
from livekit import api
from livekit.protocol.webhook import WebhookEvent


def event(name: str, *, room_name: str | None = None, created_at: int | None = None, event_id: str | None = None,
          **fields) -> WebhookEvent:
    ev = WebhookEvent(event=name, id=event_id or f"EV_{uuid.uuid4().hex[:12]}",
                      created_at=created_at if created_at is not None else int(time.time()))
    if room_name is not None:
        ev.room.name = room_name
        ev.room.sid = f"RM_{room_name[:8]}"
    for key, value in fields.items():
        getattr(ev, key).CopyFrom(value)
    return ev


def body_of(ev: WebhookEvent) -> str:
    return MessageToJson(ev, indent=0)


def sign(body: str, key: str = "devkey", secret: str = "secret") -> str:
    digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
    return api.AccessToken(key, secret).with_sha256(digest).to_jwt()


def post(url: str, body: str, authorization: str | None) -> requests.Response:
    headers = {"content-type": "application/webhook+json"}
    if authorization is not None:
        headers["authorization"] = authorization
    return requests.post(url, data=body.encode(), headers=headers, timeout=30)


def deliver(url: str, ev: WebhookEvent, key: str = "devkey", secret: str = "secret") -> requests.Response:
    body = body_of(ev)
    return post(url, body, sign(body, key, secret))
