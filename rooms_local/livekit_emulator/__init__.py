"""A LiveKit emulator: the real `livekit-api` client talks Twirp to it, simulated clients join
through `/dev/…`, and it posts LiveKit-signed webhooks. Local stack and tests only; never shipped."""

from .server import LiveKitEmulator

__all__ = ["LiveKitEmulator"]
