"""A walk-through printed by ``rooms up``: the service working end to end on the local stack."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from typing import Any

from rooms_local.auth import mint_dev_token
from rooms_local.config import LocalConfig


def call(config: LocalConfig, method: str, path: str, *, token: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{config.api_url}{path}", data=data, method=method)  # noqa: S310
    request.add_header("authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310 - localhost
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def run_demo(config: LocalConfig, livekit_server: dict[str, str] | None = None) -> None:
    admin = mint_dev_token(config, "platform-backend", admin=True)
    host = mint_dev_token(config, "dr-smith", name="Dr Smith")
    client = mint_dev_token(config, "jane", name="Jane")
    stranger = mint_dev_token(config, "mallory")
    booking = f"demo-{uuid.uuid4().hex[:8]}"

    def step(title: str, status: int, body: Any) -> None:
        print(f"  {title:<58} → {status}")
        del body

    print("Walk-through (therapy booking):")
    status, room = call(config, "POST", "/rooms", token=admin, body={
        "booking_id": booking, "service_type": "therapy", "title": "Therapy session",
        "host": {"user_id": "dr-smith", "name": "Dr Smith"}, "members": [{"user_id": "jane", "name": "Jane"}],
    })
    step(f"POST /rooms (booking {booking})", status, room)
    status, again = call(config, "POST", "/rooms", token=admin, body={"booking_id": booking, "service_type": "therapy",
                                                                      "host": {"user_id": "dr-smith"}})
    step("POST /rooms again: same room", status, again)
    status, body = call(config, "POST", f"/bookings/{booking}/room/token", token=stranger)
    step(f"token for a stranger ({body.get('code')})", status, body)
    status, host_token = call(config, "POST", f"/bookings/{booking}/room/token", token=host)
    step(f"token for the practitioner (role {host_token.get('role')})", status, host_token)
    status, client_token = call(config, "POST", f"/bookings/{booking}/room/token", token=client)
    step(f"token for the client (role {client_token.get('role')})", status, client_token)
    if not config.external_livekit_url:
        from rooms_local.livekit_emulator import control

        joined = control.join(config.livekit_url, host_token["token"], publish=["audio", "video"])
        print(f"  {'the practitioner joins LiveKit (emulator)':<58} → {joined.get('sid')}")
    status, view = call(config, "GET", f"/rooms/{room['room_id']}", token=client)
    step(f"GET /rooms/{{id}} as the client: status {view.get('status')}", status, view)
    print(f"  room {room['room_id']} → LiveKit room {room['livekit_room']}\n")
    print(room_urls_text(config, room, livekit_server))


def room_urls_text(config: LocalConfig, room: dict[str, Any] | None = None,
                   livekit_server: dict[str, str] | None = None) -> str:
    """The Room URLs of the reference web app (webapp/, built with `make webapp`) to open in a browser.

    ``livekit_server`` (``LocalStack.livekit_server_info``): the real server's namespace. The same URLs are
    then also given on the gateway's namespace address, for a browser run inside the namespace (as the
    real-media walk does), with the chromium flags that make that http:// origin a secure context."""
    paths = ([p for p in (room.get("urls") or {}).values() if p] if room else
             ["/room/booking/<booking_id>/", "/room/session/<service_session_id>/", "/room/<room_id>/"])
    if room:
        lines = ["Open the room in a browser (build the app once with `make webapp`; sign in as dr-smith, then jane):"]
    else:
        lines = ["Web app (make webapp), its Room URLs:"]
    lines += [f"  {config.api_url}{path}" for path in paths]
    if livekit_server:
        ns, base = livekit_server["netns"], livekit_server["api_url"]
        lines.append(f"  and for a browser inside namespace {ns} (the media's network, from which LiveKit is reached):")
        lines += [f"  {base}{path}" for path in paths]
        lines.append(f"    e.g. ip netns exec {ns} chromium --user-data-dir=$(mktemp -d) "
                     f"--unsafely-treat-insecure-origin-as-secure={base} {base}{paths[0]}")
    return "\n".join(lines) + "\n"
