"""The real-LiveKit tier: the local stack wired to the real livekit-server (+ Redis) in a network
namespace of ours (rooms_local/livekit_server), real clients inside that namespace.

It runs when this machine can: root (for ``ip netns``), the pinned binary (``make livekit``) and
Redis. Otherwise every test here is skipped with the reason — and with ``ROOMS_REQUIRE_REAL_LIVEKIT=1``
(CI) that skip is a failure instead, so CI cannot go green without the tier.

Fixtures:
  real_stack    (session scope) RealStack: .api, .stack, .netns, .server, .livekit_url_inside,
                .livekit_url, .lkapi_call(fn), .webhooks(), .wait_for_webhook(...), .run_in_netns(...)
  run_in_netns  the namespace's subprocess runner (real_stack.run_in_netns)

The functions run in this process, so a LocalStack puts its settings into os.environ and restores the
previous values when it stops: the last stack started owns the environment. This tier's stack starts
after tests/integration and tests/livekit_emulator (file order) and stops first at session end, so the
emulator ``stack`` of tests/conftest.py is unaffected; do not use both stacks in one test.

Its room timeouts: DEPARTURE_TIMEOUT_SECONDS=2 (production default 20), so a room ends 2 s after its
last participant leaves; the server's room.departure_timeout follows the stack's settings.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

REQUIRE_ENV = "ROOMS_REQUIRE_REAL_LIVEKIT"


def required() -> bool:
    return os.environ.get(REQUIRE_ENV) == "1"


def unavailable_reason() -> str | None:
    from rooms_local.livekit_server import unavailable_reason as server_reason

    reason = server_reason()
    if reason is None:
        try:
            import livekit.rtc  # noqa: F401 - the tier's real clients
        except ImportError as err:
            reason = f"LiveKit's Python rtc SDK is not installed ({err}): make install"
    return reason


def pytest_collection_modifyitems(config, items):
    here = os.path.dirname(__file__)
    tier = [item for item in items if str(item.fspath).startswith(here)]
    if not tier:
        return
    reason = unavailable_reason()
    for item in tier:
        item.add_marker(pytest.mark.livekit_real)
        if reason and not required():
            item.add_marker(pytest.mark.skip(reason=f"real LiveKit unavailable: {reason}"))
    # with REQUIRE set the real_stack fixture fails each test with the reason


@dataclass
class WebhookSeen:
    """A webhook delivery at our webhook route, parsed for tests: event name, room name, and our answer."""

    event: str
    room: str | None
    participant: str | None
    body: dict[str, Any]
    authorization: str | None
    status: int
    received_at: float
    raw: bytes


@dataclass
class RealStack:
    stack: Any  # rooms_local.stack.LocalStack, config.livekit == "server"
    api: Any  # tests.integration.conftest.Api

    @property
    def config(self):
        return self.stack.config

    @property
    def netns(self):
        return self.stack.netns

    @property
    def server(self):
        return self.stack.livekit_server

    @property
    def livekit_url(self) -> str:
        """http:// URL of the server; works from the host and from inside the namespace."""
        return self.server.url

    @property
    def livekit_url_inside(self) -> str:
        """ws:// URL for clients inside the namespace (the token response's server_url is the same)."""
        return self.server.ws_url

    # -- the real server's API, with the real client ------------------------------------------------
    def lkapi_call(self, fn, *, api_key: str | None = None, api_secret: str | None = None):
        """``fn(lk: livekit.api.LiveKitAPI)`` → awaitable; run it against the real server from the host.
        E.g. ``real_stack.lkapi_call(lambda lk: lk.room.list_rooms(api.ListRoomsRequest(names=[n])))``."""
        from livekit import api

        async def main():
            lk = api.LiveKitAPI(self.livekit_url, api_key or self.config.livekit_api_key,
                                api_secret or self.config.livekit_api_secret)
            try:
                return await fn(lk)
            finally:
                await lk.aclose()

        return asyncio.run(main())

    # -- webhooks the server sent us -----------------------------------------------------------------
    def webhooks(self, *, room: str | None = None, event: str | None = None) -> list[WebhookSeen]:
        seen = []
        for d in self.stack.webhook_deliveries:
            try:
                body = json.loads(d.body)
            except ValueError:
                body = {}
            w = WebhookSeen(body.get("event", ""), (body.get("room") or {}).get("name"),
                            (body.get("participant") or {}).get("identity"), body, d.authorization, d.status,
                            d.received_at, d.body)
            if (room is None or w.room == room) and (event is None or w.event == event):
                seen.append(w)
        return seen

    def wait_for_webhook(self, event: str, *, room: str | None = None, participant: str | None = None,
                         count: int = 1, timeout: float = 30.0) -> list[WebhookSeen]:
        """Wait until ``count`` deliveries of ``event`` (for ``room``/``participant``) have arrived."""
        deadline = time.monotonic() + timeout
        while True:
            got = [w for w in self.webhooks(room=room, event=event)
                   if participant is None or w.participant == participant]
            if len(got) >= count:
                return got
            if time.monotonic() > deadline:
                events = [(w.event, w.room, w.status) for w in self.webhooks()][-20:]
                raise AssertionError(f"{count} x {event} (room={room}, participant={participant}) not received "
                                     f"in {timeout:.0f} s; last deliveries: {events}\n"
                                     f"server log: {self.server.log_path}")
            time.sleep(0.1)

    # -- running things inside the namespace -------------------------------------------------------
    def exec_argv(self, cmd: list[str]) -> list[str]:
        return self.netns.exec_argv(cmd)

    def run_in_netns(self, cmd: list[str], *, timeout: float = 120, check: bool = False,
                     **kwargs) -> subprocess.CompletedProcess:
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        return self.netns.run(cmd, timeout=timeout, check=check, **kwargs)

    def popen_in_netns(self, cmd: list[str], **kwargs) -> subprocess.Popen:
        return self.netns.popen(cmd, **kwargs)


@pytest.fixture(scope="session")
def real_stack():
    reason = unavailable_reason()
    if reason:
        message = f"real LiveKit unavailable: {reason}"
        if required():
            pytest.fail(f"{message} ({REQUIRE_ENV}=1)", pytrace=False)
        pytest.skip(message)

    from rooms_local.config import LocalConfig
    from rooms_local.stack import LocalStack
    from tests.integration.conftest import Api

    suffix = uuid.uuid4().hex[:6]
    config = LocalConfig(table_name=f"rooms-real-{suffix}", recordings_bucket=f"rooms-recordings-real-{suffix}",
                         livekit="server", extra_env={"DEPARTURE_TIMEOUT_SECONDS": "2"}).with_free_ports()
    with LocalStack(config) as running:
        yield RealStack(running, Api(running.config.api_url, running.config))


@pytest.fixture
def run_in_netns(real_stack):
    return real_stack.run_in_netns


@pytest.fixture
def ids():
    """Fresh booking/user ids per test (as tests/integration's), so tests share the stack, not rooms."""
    suffix = uuid.uuid4().hex[:10]
    return {"booking": f"bk-{suffix}", "session": f"ss-{suffix}", "host": f"dr-{suffix}",
            "client": f"cl-{suffix}", "other": f"ot-{suffix}"}
