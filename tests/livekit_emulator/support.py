"""Test support: a webhook receiver that checks every delivery with LiveKit's own WebhookReceiver, and
helpers that drive the emulator with the real livekit-api client."""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
from livekit import api
from livekit.protocol.webhook import WebhookEvent

from rooms_local.livekit_emulator import LiveKitEmulator

KEY, SECRET = "devkey", "secret"
BUCKET = "recordings"


@dataclass
class Delivery:
    event: WebhookEvent | None
    body: str
    authorization: str
    content_type: str
    error: str = ""


class WebhookSink:
    """Records each delivery; `statuses` scripts the answers (default 200); `on_event` may call back."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.statuses: collections.deque[int] = collections.deque()
        self.on_event: Callable[[WebhookEvent], None] | None = None
        self._receiver = api.WebhookReceiver(api.TokenVerifier(KEY, SECRET))
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                auth = self.headers.get("Authorization", "")
                try:
                    event, error = sink._receiver.receive(body, auth), ""
                except Exception as err:
                    event, error = None, repr(err)
                content_type = self.headers.get("Content-Type", "")
                sink.deliveries.append(Delivery(event, body, auth, content_type, error))
                status = sink.statuses.popleft() if sink.statuses else 200
                if status == 200 and event is not None and sink.on_event is not None:
                    sink.on_event(event)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}/livekit/webhook"
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def events(self) -> list[WebhookEvent]:
        return [d.event for d in self.deliveries if d.event is not None]

    def names(self) -> list[str]:
        return [e.event for e in self.events()]

    def wait_for(self, name: str, timeout: float = 5.0) -> WebhookEvent:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events():
                if event.event == name:
                    return event
            time.sleep(0.02)
        raise AssertionError(f"no {name} webhook; got {self.names()}")

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def s3(endpoint: str):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def call(server: LiveKitEmulator, action, *, key: str = KEY, secret: str = SECRET, token: str | None = None):
    """Run `await action(lk)` with a real LiveKitAPI, created inside the running loop as it must be."""

    async def main():
        if token is not None:
            lk = api.LiveKitAPI.with_token(token, server.url)
        else:
            lk = api.LiveKitAPI(server.url, key, secret)
        try:
            return await action(lk)
        finally:
            await lk.aclose()

    return asyncio.run(main())


def join_token(identity: str, room: str, *, name: str = "", **grants) -> str:
    token = api.AccessToken(KEY, SECRET).with_identity(identity).with_name(name or identity)
    return token.with_grants(api.VideoGrants(room_join=True, room=room, **grants)).to_jwt()
