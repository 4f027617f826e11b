"""A LiveKit development server: the real `livekit-api` client talks Twirp to it, simulated clients join
through `/dev/…`, and it posts LiveKit-signed webhooks. Local stack and tests only; never shipped."""

from .server import DevServer

__all__ = ["DevServer"]
