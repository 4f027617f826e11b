"""The real livekit-server for the local stack and the real-LiveKit test tier: the pinned build
(``build``), a network namespace of our own (``netns``), and Redis + livekit-server inside it
(``server``). ``rooms up --livekit server`` and ``tests/livekit_real`` use it."""

from rooms_local.livekit_server.netns import Netns, NetnsUnavailable
from rooms_local.livekit_server.server import LiveKitServer


def unavailable_reason() -> str | None:
    """Why the real server cannot run on this machine (no binary, no Redis, not root), or None."""
    from rooms_local.livekit_server import netns, server

    return server.missing_reason() or netns.unavailable_reason()


__all__ = ["LiveKitServer", "Netns", "NetnsUnavailable", "unavailable_reason"]
