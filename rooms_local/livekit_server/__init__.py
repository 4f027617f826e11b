"""The real livekit-server for the local stack and the real-LiveKit test tier: the pinned build
(``build``, ``make livekit``), a network namespace of our own (``netns``), and Redis + livekit-server
inside it (``server``). ``rooms up --livekit server`` and ``tests/livekit_real`` use it.

Names are imported lazily, so ``python -m rooms_local.livekit_server.build`` runs without importing the
rest first."""

from __future__ import annotations

__all__ = ["LiveKitServer", "Netns", "NetnsUnavailable", "unavailable_reason"]


def unavailable_reason() -> str | None:
    """Why the real server cannot run on this machine (no binary, no Redis, not root), or None."""
    from rooms_local.livekit_server import netns, server

    return server.missing_reason() or netns.unavailable_reason()


def __getattr__(name: str):
    if name in ("Netns", "NetnsUnavailable"):
        from rooms_local.livekit_server import netns

        return getattr(netns, name)
    if name == "LiveKitServer":
        from rooms_local.livekit_server.server import LiveKitServer

        return LiveKitServer
    raise AttributeError(name)
