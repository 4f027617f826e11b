"""What the real-LiveKit tests share: the stack's HTTP API as a caller, LiveKit's own API (Twirp through
livekit-api, as the server sees things), the webhooks the real server posted to our webhook route with
our answers, and real clients in the namespace."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from rooms_local.auth import mint_dev_token
from tests.livekit_real.clients import ClientProcess


def wait_until(check: Callable[[], Any], *, timeout: float = 20.0, every: float = 0.2, what: str = "a condition"):
    """``check()``'s first truthy value; bounded by time (and so by count)."""
    deadline = time.monotonic() + timeout
    last = None
    for _ in range(int(timeout / every) + 2):
        last = check()
        if last:
            return last
        if time.monotonic() > deadline:
            break
        time.sleep(every)
    raise AssertionError(f"waited {timeout:.0f} s for {what}; last: {last!r}")


@dataclass
class Webhook:
    """One POST of the real server to our webhook route, and our answer."""

    event: str
    id: str
    created_at: int
    room: str
    identity: str | None
    participant_sid: str | None
    joined_at: int | None
    status: int
    signed: bool
    body: dict


@dataclass
class WebhookLog:
    """The webhooks the real server posted to our webhook route, with our answers, parsed: a view over
    what the harness's gateway records (``LocalStack.webhook_deliveries``)."""

    deliveries: Callable[[], list]

    def all(self) -> list[Webhook]:
        hooks = []
        for d in self.deliveries():
            body = json.loads(d.body or b"{}")
            p = body.get("participant") or {}
            hooks.append(Webhook(
                event=body.get("event", ""), id=body.get("id", ""), created_at=int(body.get("createdAt", 0)),
                room=(body.get("room") or {}).get("name", ""), identity=p.get("identity"),
                participant_sid=p.get("sid"), joined_at=int(p["joinedAt"]) if p.get("joinedAt") else None,
                status=d.status, signed=bool(d.authorization), body=body))
        return hooks

    def of(self, room: str, event: str | None = None, identity: str | None = None) -> list[Webhook]:
        return [h for h in self.all() if h.room == room and (event is None or h.event == event)
                and (identity is None or h.identity == identity)]

    def wait(self, room: str, event: str, identity: str | None = None, *, count: int = 1,
             timeout: float = 30.0) -> list[Webhook]:
        def enough():
            # the first delivery of each event id (LiveKit may redeliver)
            unique = {h.id: h for h in reversed(self.of(room, event, identity))}
            return list(unique.values()) if len(unique) >= count else None

        return wait_until(enough, timeout=timeout, what=f"{count} {event} webhook(s) of {identity or room}")


@dataclass
class Real:
    """The tier's handles: our API (as any caller), LiveKit's API, the webhook log, the namespace."""

    api_url: str
    config: Any
    livekit_url: str  # http://10.213.N.2:7880 (Twirp; the same address serves the clients' signalling)
    netns: str
    webhooks: WebhookLog
    server_log: Callable[[], str] = lambda: ""  # livekit-server's log so far

    def dropped_webhooks(self, livekit_room: str) -> list[str]:
        """The server's own "dropped webhook" lines for a room (queue older than 30 s or deeper than 200)."""
        return [line for line in self.server_log().splitlines()
                if "dropped webhook" in line and f'"room": "{livekit_room}"' in line]

    def webhook_answer_times(self, livekit_room: str) -> str:
        """How long our webhook route took to answer the room's webhooks, as the server measured it
        (``sendDuration`` of its "sent webhook" lines), with the machine's load: tells a slow machine
        (every answer slow) from a slow handler when LiveKit dropped webhooks."""
        import os
        import re

        ms = []
        for line in self.server_log().splitlines():
            if "sent webhook" in line and f'"room": "{livekit_room}"' in line:
                m = re.search(r'"sendDuration": "([0-9.]+)(µs|ms|s)"', line)
                if m:
                    ms.append(float(m.group(1)) * {"µs": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)])
        ms.sort()
        if not ms:
            return "no webhook answered"
        p = lambda q: ms[min(len(ms) - 1, int(len(ms) * q))]  # noqa: E731
        return (f"{len(ms)} answered: p50 {p(0.5):.0f} ms, p90 {p(0.9):.0f} ms, max {ms[-1]:.0f} ms; "
                f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

    # -- our API -----------------------------------------------------------------------------------------
    def call(self, method: str, path: str, *, as_user: str | None = None, admin: bool = False,
             json: Any = None) -> requests.Response:
        headers = {}
        if as_user is not None or admin:
            sub = as_user or "platform-backend"
            headers["authorization"] = f"Bearer {mint_dev_token(self.config, sub, admin=admin)}"
        return requests.request(method, f"{self.api_url}{path}", json=json, headers=headers, timeout=30)

    def admin(self, method: str, path: str, **kw) -> requests.Response:
        return self.call(method, path, admin=True, **kw)

    def create_room(self, **body) -> dict:
        r = self.admin("POST", "/rooms", json=body)
        assert r.status_code == 201, r.text
        return r.json()

    def token(self, room_id: str, user: str) -> dict:
        r = self.call("POST", f"/rooms/{room_id}/token", as_user=user)
        assert r.status_code == 200, r.text
        return r.json()

    def attendance(self, room_id: str) -> dict[str, dict]:
        r = self.admin("GET", f"/rooms/{room_id}/attendance")
        assert r.status_code == 200, r.text
        return {p["identity"]: p for p in r.json()["participants"]}

    # -- LiveKit's own API -----------------------------------------------------------------------------
    def livekit(self, call: Callable[[Any, Any], Any], *, token: str | None = None) -> Any:
        """Run ``call(lk, api)`` against the real server with livekit-api. ``token``: send that JWT
        instead of the server credentials (to see what a browser token may do on Twirp)."""
        from livekit import api

        async def go():
            if token is not None:  # livekit-api sends a pre-signed token verbatim
                lk = api.LiveKitAPI(self.livekit_url, token=token)
            else:
                lk = api.LiveKitAPI(self.livekit_url, self.config.livekit_api_key, self.config.livekit_api_secret)
            try:
                return await call(lk, api)
            finally:
                await lk.aclose()

        return asyncio.run(go())

    def live_participants(self, livekit_room: str) -> dict[str, Any]:
        resp = self.livekit(lambda lk, api: lk.room.list_participants(api.ListParticipantsRequest(room=livekit_room)))
        return {p.identity: p for p in resp.participants}

    def live_room(self, livekit_room: str):
        resp = self.livekit(lambda lk, api: lk.room.list_rooms(api.ListRoomsRequest(names=[livekit_room])))
        return resp.rooms[0] if resp.rooms else None

    def clients(self, max_seconds: float = 240.0) -> ClientProcess:
        return ClientProcess(self.netns, max_seconds=max_seconds)


def fresh_ids() -> dict[str, str]:
    s = uuid.uuid4().hex[:10]
    return {"booking": f"bk-{s}", "session": f"ss-{s}", "host": f"dr-{s}", "client": f"cl-{s}", "other": f"ot-{s}"}


@pytest.fixture(scope="package", name="real")
def real_handles(real_stack) -> Real:
    """The tier's handles over the harness's stack (tests/livekit_real/conftest.py ``real_stack``)."""
    stack = real_stack.stack
    return Real(api_url=stack.config.api_url, config=stack.config, livekit_url=real_stack.livekit_url,
                netns=real_stack.netns.name, webhooks=WebhookLog(lambda: stack.webhook_deliveries),
                server_log=real_stack.server.log_text)
