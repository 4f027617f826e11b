"""`python -m rooms_local.livekit_emulator`: run the emulator until interrupted.

Environment: LIVEKIT_DEV_HOST, LIVEKIT_DEV_PORT, LIVEKIT_API_KEY, LIVEKIT_API_SECRET,
LIVEKIT_WEBHOOK_URLS (comma-separated), LIVEKIT_DEV_S3_ENDPOINT_URL (where egress uploads when the
request names no endpoint; boto3's own AWS_ENDPOINT_URL works too).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import warnings

from jwt.warnings import InsecureKeyLengthWarning

from .server import LiveKitEmulator


def main() -> None:
    # LiveKit's dev secret is short on purpose; PyJWT would warn on every request.
    warnings.filterwarnings("ignore", category=InsecureKeyLengthWarning)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    env = os.environ
    server = LiveKitEmulator(
        host=env.get("LIVEKIT_DEV_HOST", "127.0.0.1"),
        port=int(env.get("LIVEKIT_DEV_PORT", "7880")),
        api_key=env.get("LIVEKIT_API_KEY", "devkey"),
        api_secret=env.get("LIVEKIT_API_SECRET", "secret"),
        webhook_urls=[u.strip() for u in env.get("LIVEKIT_WEBHOOK_URLS", "").split(",") if u.strip()],
        s3_endpoint_url=env.get("LIVEKIT_DEV_S3_ENDPOINT_URL") or None,
    ).start()
    print(f"LiveKit emulator on {server.url} (key {server.api_key!r})", flush=True)
    print(
        f"  webhooks -> {', '.join(server.notifier.urls) or 'nowhere (set LIVEKIT_WEBHOOK_URLS)'}", flush=True
    )
    print(f"  try: curl {server.url}/dev/state", flush=True)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        stopping.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
