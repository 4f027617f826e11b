"""The LiveKit API client: credentials, and a blocking facade over livekit-api's async client.

``livekit.api`` is imported lazily: it costs ~0.5 s (aiohttp + every protocol module) and most
requests never call LiveKit. So is ``asyncio``, which only a LiveKit call needs (36 M instructions of
the token path's cold start, `make bench BENCH=cold_start`). The client is async; this module gives
the synchronous Lambda code a small blocking facade that keeps one event loop and one ``LiveKitAPI``
(with its HTTP keep-alive session) per thread, so warm invocations reuse connections. ``LiveKitAPI``
must be created inside a running loop (its aiohttp session binds to it), which is why it is built
under ``run_until_complete``.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from rooms import metric_names
from rooms.errors import UpstreamUnavailable
from rooms.observability import logger, metrics
from rooms.settings import Settings, get_settings

if TYPE_CHECKING:
    import asyncio

T = TypeVar("T")


@dataclass(frozen=True)
class Credentials:
    api_key: str
    api_secret: str


def livekit_credentials(settings: Settings) -> Credentials:
    """API key and secret: from Secrets Manager (cached by Powertools) in AWS, else the environment."""
    if settings.livekit_secret_arn:
        from aws_lambda_powertools.utilities import parameters

        secret = parameters.get_secret(
            settings.livekit_secret_arn, transform="json", max_age=settings.livekit_secret_max_age_seconds
        )
        return Credentials(api_key=secret["api_key"], api_secret=secret["api_secret"])
    if not settings.livekit_api_key or not settings.livekit_api_secret:
        raise RuntimeError("LiveKit credentials are not configured (LIVEKIT_SECRET_ARN or key/secret)")
    return Credentials(settings.livekit_api_key, settings.livekit_api_secret.get_secret_value())


class NotFoundInLiveKit(Exception):
    """LiveKit answered not_found (room or participant gone): usually fine for cleanup calls."""


# Twirp codes LiveKit answers when the request's API key / signature is not accepted.
AUTH_FAILURE_CODES = frozenset({"unauthenticated", "permission_denied"})

_local = threading.local()
_opened: list[tuple[asyncio.AbstractEventLoop, Any]] = []  # every (loop, client), for close_clients()


def run(call: Callable[[Any, Any], Awaitable[T]], *, timeout: float | None = None) -> T:
    """Run ``call(lkapi, api_module)`` on this thread's loop with this thread's client, bounded by
    ``timeout`` seconds (default: the settings' LiveKit timeout)."""
    import asyncio

    from livekit import api

    settings = get_settings()
    creds = livekit_credentials(settings)
    state = getattr(_local, "state", None)
    key = (settings.livekit_url, creds.api_key, creds.api_secret)
    if state is None or state[0] != key:
        loop = asyncio.new_event_loop()

        async def make_client() -> Any:
            return api.LiveKitAPI(settings.livekit_url, creds.api_key, creds.api_secret)

        state = (key, loop, loop.run_until_complete(make_client()))
        _local.state = state
        _opened.append((loop, state[2]))
    _, loop, client = state
    timeout = timeout or settings.livekit_timeout_seconds
    try:
        # livekit-api sends with aiohttp's timeout=None: a LiveKit that accepts the connection and never
        # answers would hold the request until the Lambda timeout, so every call is bounded here.
        return loop.run_until_complete(asyncio.wait_for(call(client, api), timeout))
    except TimeoutError as err:
        raise UpstreamUnavailable(f"LiveKit did not answer within {timeout:g} s",
                                  code="livekit_unavailable") from err
    except api.ServerError as err:
        if err.code == "not_found":
            raise NotFoundInLiveKit(err.message) from err
        if err.code in AUTH_FAILURE_CODES or err.status in (401, 403):
            # our key/secret no longer match LiveKit's (a rotated key): nothing a caller can fix, and it
            # stops every room operation, so it is alarmed (infra/constructs/monitoring.py)
            logger.error("LiveKit refused our API key", extra={"livekit_code": err.code, "error": err.message})
            metrics.add_metric(name=metric_names.LIVEKIT_AUTH_FAILURES, unit="Count", value=1)
            raise UpstreamUnavailable(f"LiveKit refused the service's API key ({err.code})",
                                      code="livekit_unauthenticated") from err
        if err.status >= 500 or err.status == 429:
            raise UpstreamUnavailable(f"LiveKit is unavailable: {err.message}", code="livekit_unavailable") from err
        raise
    except OSError as err:  # aiohttp connection errors subclass OSError
        raise UpstreamUnavailable(f"LiveKit is unreachable: {err}", code="livekit_unavailable") from err


def run_or(call: Callable[[Any, Any], Awaitable[T]], default: Any) -> Any:
    """``run(call)``, or ``default`` when LiveKit answers not_found (the room, participant, egress or
    dispatch rule is already gone: what cleanup and lookups usually want)."""
    try:
        return run(call)
    except NotFoundInLiveKit:
        return default


def close_clients() -> None:
    """Close every client this process opened; call only when no LiveKit call is in flight
    (a Lambda container never needs it; the local stack does on shutdown)."""
    while _opened:
        loop, client = _opened.pop()
        if not loop.is_closed():
            loop.run_until_complete(client.aclose())
            loop.close()
