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
