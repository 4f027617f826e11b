from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
import requests

from rooms_local.auth import mint_dev_token


@dataclass
class Api:
    """HTTP client for the local API, acting as a given caller."""

    base: str
    config: object

    def token_for(self, sub: str, *, admin: bool = False, name: str | None = None) -> str:
        return mint_dev_token(self.config, sub, admin=admin, name=name)

    def call(self, method: str, path: str, *, as_user: str | None = None, admin: bool = False,
             json=None, data=None, headers=None) -> requests.Response:
        h = dict(headers or {})
        if as_user is not None:
            h["authorization"] = f"Bearer {self.token_for(as_user, admin=admin)}"
        return requests.request(method, f"{self.base}{path}", json=json, data=data, headers=h, timeout=30)

    def admin(self, method: str, path: str, **kw) -> requests.Response:
        return self.call(method, path, as_user="platform-backend", admin=True, **kw)


@pytest.fixture(scope="session")
def api(stack) -> Api:
    return Api(stack.config.api_url, stack.config)


@pytest.fixture
def ids():
    """Fresh booking/session ids per test so tests share the stack without sharing rooms."""
    suffix = uuid.uuid4().hex[:10]
    return {"booking": f"bk-{suffix}", "session": f"ss-{suffix}", "host": f"dr-{suffix}",
            "client": f"cl-{suffix}", "other": f"ot-{suffix}"}


@pytest.fixture
def booking_room(api, ids):
    r = api.admin("POST", "/rooms", json={
        "booking_id": ids["booking"], "service_type": "therapy",
        "host": {"user_id": ids["host"], "name": "Dr Who"},
        "members": [{"user_id": ids["client"], "name": "Clara"}],
    })
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture
def drain(stack):
    """Until LiveKit's webhooks (the emulator's queue) and the slow work they left (webhook_worker's
    queue: removals, re-admissions, "Participant Waiting", a room's release) were all delivered."""

    def drain_all() -> None:
        from rooms_local.livekit_emulator import control

        control.drain_webhooks(stack.config.livekit_url)
        stack.webhook_work.drain()
        control.drain_webhooks(stack.config.livekit_url)  # what the follow-ups made LiveKit send (a removal's leave)

    return drain_all
