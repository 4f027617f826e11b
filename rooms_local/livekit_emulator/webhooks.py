"""Webhooks as LiveKit sends them: signed protobuf JSON, posted by one background worker in event order.

The worker never touches room state, so a webhook handler may call back into the server (for example
RemoveParticipant while handling participant_joined) without deadlocking anything.
"""

from __future__ import annotations

import base64
import collections
import datetime
import hashlib
import logging
import random
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass

from google.protobuf import json_format
from livekit.api import AccessToken
from livekit.protocol import egress as proto_egress
from livekit.protocol import models as proto_models
from livekit.protocol.webhook import WebhookEvent

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/webhook+json"
# LiveKit signs each delivery with a short-lived token; receivers allow 1 min leeway on top.
SIGNATURE_TTL = datetime.timedelta(minutes=5)
DELIVERY_TIMEOUT_S = 5.0


def new_event(
    name: str,
    *,
    room: proto_models.Room | None = None,
    participant: proto_models.ParticipantInfo | None = None,
    track: proto_models.TrackInfo | None = None,
    egress_info: proto_egress.EgressInfo | None = None,
    created_at: float | None = None,
) -> WebhookEvent:
    """An event stamped now (or at `created_at`): when it happened, not when it is delivered."""
    stamp = int(time.time() if created_at is None else created_at)
    event = WebhookEvent(event=name, id="EV_" + secrets.token_urlsafe(9), created_at=stamp)
    if room is not None:
        event.room.CopyFrom(room)
    if participant is not None:
        event.participant.CopyFrom(participant)
    if track is not None:
        event.track.CopyFrom(track)
    if egress_info is not None:
        event.egress_info.CopyFrom(egress_info)
    return event


def encode(event: WebhookEvent) -> str:
    """The body LiveKit posts: protobuf JSON (camelCase, int64 as strings, enums by name, no defaults)."""
    return json_format.MessageToJson(event, indent=None)


def sign(body: str, api_key: str, api_secret: str) -> str:
    """The `Authorization` header value (no "Bearer "): a JWT whose sha256 claim covers the exact body."""
    digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
    return AccessToken(api_key, api_secret).with_sha256(digest).with_ttl(SIGNATURE_TTL).to_jwt()


@dataclass
class _Delivery:
    name: str
    body: str


class WebhookNotifier:
    """Queues events and posts them, in order, to every configured URL.

    `hold` buffers events instead (tests then `flush` them shuffled or duplicated, to play LiveKit's
    best-effort delivery). Retries follow LiveKit: connection errors, 429 and 5xx are retried with
    backoff, any other 4xx is final.
    """

    def __init__(
        self,
        api_key: str,
        api_secret: str,
        urls: Iterable[str] = (),
        *,
        retries: int = 4,
        backoff_s: float = 0.05,
    ) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.urls = list(urls)
        self.hold = False
        self._retries = retries
        self._backoff_s = backoff_s
        self._queue: collections.deque[_Delivery] = collections.deque()
        self._held: list[_Delivery] = []
        self._busy = False
        self._stopping = False
        self._cond = threading.Condition()
        self.counts = {"delivered": 0, "failed": 0}
        self._worker: threading.Thread | None = None

    def start(self) -> None:
        self._stopping = False
        self._worker = threading.Thread(target=self._run, name="livekit-dev-webhooks", daemon=True)
        self._worker.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._worker is not None:
            self._worker.join(timeout=DELIVERY_TIMEOUT_S + 1)

    def emit(self, event: WebhookEvent) -> None:
        """Never blocks on delivery, so it is safe to call while holding the state lock."""
        delivery = _Delivery(event.event, encode(event))
        with self._cond:
            if self.hold:
                self._held.append(delivery)
            else:
                self._queue.append(delivery)
                self._cond.notify_all()

    def flush(self, *, shuffle: bool = False, duplicate: bool = False, seed: int = 0) -> int:
        """Release held events: each twice in a row when `duplicate` (a retried delivery), in a seeded
        random order when `shuffle`. Returns how many deliveries were queued."""
        with self._cond:
            batch, self._held = self._held, []
            if duplicate:
                batch = [d for d in batch for _ in (0, 1)]
            if shuffle:
                random.Random(seed).shuffle(batch)
            self._queue.extend(batch)
            self._cond.notify_all()
        return len(batch)

    def wait_idle(self, timeout: float = 15.0) -> bool:
        """Wait until nothing is queued or in flight, including events queued by handlers meanwhile."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def snapshot(self) -> dict:
        with self._cond:
            return {
                **self.counts,
                "queued": len(self._queue) + int(self._busy),
                "held": len(self._held),
                "hold": self.hold,
                "urls": list(self.urls),
            }

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                delivery = self._queue.popleft()
                self._busy = True
                urls = list(self.urls)
            ok = all([self._post(url, delivery) for url in urls])
            with self._cond:
                self._busy = False
                if urls:  # with nowhere to send, an event is neither delivered nor failed
                    self.counts["delivered" if ok else "failed"] += 1
                self._cond.notify_all()

    def _post(self, url: str, delivery: _Delivery) -> bool:
        data = delivery.body.encode()
        for attempt in range(self._retries + 1):
            if attempt:
                time.sleep(self._backoff_s * 2 ** (attempt - 1))
            if self._stopping:
                return False
            request = urllib.request.Request(url, data=data, method="POST")  # noqa: S310 (configured URLs)
            request.add_header("Content-Type", CONTENT_TYPE)
            # Signed at send time, like LiveKit: a retry carries a fresh token over the same body.
            request.add_header("Authorization", sign(delivery.body, self.api_key, self.api_secret))
            try:
                with urllib.request.urlopen(request, timeout=DELIVERY_TIMEOUT_S) as response:  # noqa: S310
                    response.read()
                return True
            except urllib.error.HTTPError as err:
                if err.code != 429 and err.code < 500:
                    log.warning("webhook %s to %s refused: %s", delivery.name, url, err.code)
                    return False
                reason = f"status {err.code}"
            except (urllib.error.URLError, OSError) as err:
                reason = str(err)
            log.info("webhook %s to %s failed (%s), attempt %d", delivery.name, url, reason, attempt + 1)
        log.warning("webhook %s to %s dropped after %d attempts", delivery.name, url, self._retries + 1)
        return False
