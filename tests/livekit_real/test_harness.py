"""The harness itself, against the real livekit-server: our keys work on its Twirp API, the first join
token creates the LiveKit room with our settings, and its signed webhooks pass our function's check."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
from livekit import api as lk


def test_server_answers_twirp_with_our_keys_only(real_stack):
    rooms = real_stack.lkapi_call(lambda c: c.room.list_rooms(lk.ListRoomsRequest()))
    assert isinstance(rooms, lk.ListRoomsResponse)
    with pytest.raises(lk.TwirpError) as refused:
        real_stack.lkapi_call(lambda c: c.room.list_rooms(lk.ListRoomsRequest()),
                              api_secret="not-the-secret-of-this-server-at-all")
    assert refused.value.status == 401


def test_first_token_request_creates_the_livekit_room_with_our_settings(real_stack, ids):
    api = real_stack.api
    r = api.admin("POST", "/rooms", json={"booking_id": ids["booking"], "service_type": "therapy",
                                          "host": {"user_id": ids["host"]}, "members": [{"user_id": ids["client"]}]})
    assert r.status_code == 201, r.text
    name = r.json()["livekit_room"]

    def list_named(c):
        return c.room.list_rooms(lk.ListRoomsRequest(names=[name]))

    assert list(real_stack.lkapi_call(list_named).rooms) == []
    token = api.call("POST", f"/bookings/{ids['booking']}/room/token", as_user=ids["client"])
    assert token.status_code == 200, token.text
    assert token.json()["server_url"] == real_stack.livekit_url_inside
    [room] = real_stack.lkapi_call(list_named).rooms
    assert (room.name, room.max_participants, room.empty_timeout) == (name, 2, 600)
    assert room.departure_timeout == 2  # the stack's DEPARTURE_TIMEOUT_SECONDS (conftest)


def test_room_started_webhook_from_the_server_passes_our_signature_check(real_stack, ids):
    api = real_stack.api
    r = api.admin("POST", "/rooms", json={"booking_id": ids["booking"], "service_type": "therapy",
                                          "host": {"user_id": ids["host"]}})
    assert r.status_code == 201, r.text
    name = r.json()["livekit_room"]
    assert api.call("POST", f"/bookings/{ids['booking']}/room/token", as_user=ids["host"]).status_code == 200

    [seen] = real_stack.wait_for_webhook("room_started", room=name)
    assert seen.status == 200, seen.raw  # our handler answers 401 to a bad signature
    # Signed by the server with our key, over the exact body bytes (LiveKit's own verifier agrees):
    event = lk.WebhookReceiver(lk.TokenVerifier(real_stack.config.livekit_api_key,
                                                real_stack.config.livekit_api_secret)).receive(
        seen.raw.decode(), seen.authorization)
    assert event.event == "room_started" and event.room.name == name and event.id.startswith("EV_")
    # ...and the room is the one the server reports (its sid), i.e. not something we made up.
    [room] = real_stack.lkapi_call(lambda c: c.room.list_rooms(lk.ListRoomsRequest(names=[name]))).rooms
    assert event.room.sid == room.sid


def test_a_namespace_left_by_a_killed_run_is_removed_by_the_next_run(real_stack):
    from rooms_local.livekit_server import Netns, netns

    # A run that dies by SIGKILL (no atexit, no signal handler) leaves its namespace and veth behind.
    crashed = subprocess.run(
        [sys.executable, "-c", "import os, signal\nfrom rooms_local.livekit_server import Netns\n"
         "n = Netns.create()\nprint(n.name, n.host_veth, flush=True)\nos.kill(os.getpid(), signal.SIGKILL)"],
        capture_output=True, text=True, timeout=60)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    name, veth = crashed.stdout.split()
    assert name in netns.list_namespaces()

    with Netns.create() as fresh:  # the next run: cleans up first, then gets its own subnet
        assert name not in netns.list_namespaces()
        assert veth not in subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
        assert fresh.name != real_stack.netns.name and fresh.subnet != real_stack.netns.subnet
        assert fresh.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True).stdout.count(fresh.inside_ip) == 1
    assert fresh.name not in netns.list_namespaces()
    assert real_stack.netns.name in netns.list_namespaces()  # a live run's namespace is never touched


def _join_response(url: str, token: str):
    """LiveKit's JoinResponse for ``token``, read off the signal WebSocket (then the socket closes)."""
    import asyncio

    import aiohttp
    from livekit.protocol import rtc as proto_rtc

    async def go():
        async with aiohttp.ClientSession() as session:
            ws_url = f"{url.replace('http', 'ws', 1)}/rtc?access_token={token}&protocol=16&sdk=python&auto_subscribe=1"
            async with session.ws_connect(ws_url, timeout=aiohttp.ClientWSTimeout(ws_receive=10)) as ws:
                message = await ws.receive(timeout=10)
                assert message.type == aiohttp.WSMsgType.BINARY, message
                return proto_rtc.SignalResponse.FromString(message.data).join

    return asyncio.run(go())


def test_the_server_runs_with_the_stacks_keys_webhook_and_timeouts_and_hands_out_no_public_stun(real_stack):
    """What the generated config does on the server: a room the server creates on its own (a token
    without our room configuration) gets the stack's departure/empty timeouts, and a joining client is
    told about no STUN server but the namespace's own unused address (left alone, livekit-server hands
    out Twilio's and Google's)."""
    import json
    import uuid

    from rooms.settings import get_settings

    config = json.loads(real_stack.server.config_path.read_text())
    settings = get_settings()
    assert config["keys"] == {real_stack.config.livekit_api_key: real_stack.config.livekit_api_secret}
    assert config["webhook"]["urls"] == [f"http://{real_stack.netns.host_ip}:{real_stack.config.api_port}"
                                         "/livekit/webhook"]
    assert config["room"]["departure_timeout"] == settings.departure_timeout_seconds == 2
    assert config["rtc"]["node_ip"] == real_stack.netns.inside_ip

    name = f"bare-{uuid.uuid4().hex[:8]}"
    token = (lk.AccessToken(real_stack.config.livekit_api_key, real_stack.config.livekit_api_secret)
             .with_identity("bare").with_grants(lk.VideoGrants(room_join=True, room=name)).to_jwt())
    join = _join_response(real_stack.livekit_url, token)
    assert join.room.name == name
    assert (join.room.departure_timeout, join.room.empty_timeout) == (2, settings.empty_timeout_seconds)
    urls = [u for server in join.ice_servers for u in server.urls]
    assert urls == [f"stun:{real_stack.netns.inside_ip}:3478"], urls
    # the server's candidates are the namespace address only (node_ip, no external IP lookup)
    assert real_stack.netns.inside_ip in real_stack.server.log_text()
