"""Play LiveKit clients against the emulator's `/dev/…` API (standard library only).

Each function returns the decoded JSON answer, or raises `LiveKitEmulatorRefused` carrying the HTTP status,
the error code and the message the server gave.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterable
from typing import Any

TIMEOUT_S = 30.0


class LiveKitEmulatorRefused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def join(base_url: str, token: str, publish: Iterable[str] = ()) -> dict:
    """Connect a client with a join token; publish e.g. ("audio", "video"). Returns its ParticipantInfo."""
    return _call(base_url, "POST", "/dev/join", {"token": token, "publish": list(publish)})


def leave(base_url: str, room: str, identity: str) -> dict:
    return _call(base_url, "POST", "/dev/leave", {"room": room, "identity": identity})


def abort(base_url: str, room: str = "", identity: str = "", *, token: str = "") -> dict:
    """A connection that fails before becoming active: a joined participant (room + identity), or a
    client that never got in (token)."""
    body = {"token": token} if token else {"room": room, "identity": identity}
    return _call(base_url, "POST", "/dev/abort", body)


def dial_in(base_url: str, number: str, pin: str, from_number: str) -> dict:
    """A phone call to `number` from `from_number` entering `pin`. Returns the SIP participant."""
    return _call(base_url, "POST", "/dev/sip/dial-in", {"number": number, "pin": pin, "from": from_number})


def state(base_url: str) -> dict:
    return _call(base_url, "GET", "/dev/state")


def configure(base_url: str, **options: Any) -> dict:
    """Options: fail_egress (bool), refuse_egress_start (bool: every egress start, CreateRoom's auto egress
    too, is refused `unavailable`), fail_sip_numbers (list, or {number: sip status}), hold_webhooks (bool),
    webhook_urls (list), enable_remote_unmute (bool)."""
    return _call(base_url, "POST", "/dev/config", options)


def flush_webhooks(base_url: str, shuffle: bool = False, duplicate: bool = False, seed: int = 0) -> dict:
    return _call(
        base_url, "POST", "/dev/webhooks/flush", {"shuffle": shuffle, "duplicate": duplicate, "seed": seed}
    )


def drain_webhooks(base_url: str, timeout: float = 15.0) -> dict:
    return _call(base_url, "POST", "/dev/webhooks/drain", {"timeout": timeout})


def advance_clock(base_url: str, seconds: float = 0, freeze: bool | None = None) -> dict:
    """Move the server's clock forward: later joins, leaves and webhooks are stamped that much later.
    ``freeze=True`` stops it between advances (exact scripted durations); ``False`` lets it run again."""
    body: dict = {"advance": seconds}
    if freeze is not None:
        body["freeze"] = freeze
    return _call(base_url, "POST", "/dev/clock", body)


def _call(base_url: str, method: str, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base_url.rstrip("/") + path, data=data, method=method)  # noqa: S310
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310 (a local http URL)
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as err:
        raw = err.read()
        try:
            error = json.loads(raw)
        except ValueError:
            error = {"code": "unknown", "msg": raw.decode(errors="replace")}
        raise LiveKitEmulatorRefused(err.code, error.get("code", "unknown"), error.get("msg", "")) from None
