"""The LiveKit room appears at the first token request with our config; the server enforces our max
participants; its webhooks reach our webhook route signed, and attendance over HTTP matches the
script to the second by the server's own clock (``joined_at`` of ListParticipants and of the
participant events, ``created_at`` of participant_left)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.livekit_real.support import fresh_ids, real_handles, wait_until  # noqa: F401 - the `real` fixture

LIFECYCLE = ("room_started", "participant_joined", "track_published", "participant_left", "room_finished")


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_room_at_first_token_max_participants_webhooks_and_attendance_to_the_second(real):
    ids = fresh_ids()
    room = real.create_room(service_session_id=ids["session"], room_type="workshop", recording="none",
                            waiting_room=False, max_participants=2, host={"user_id": ids["host"], "name": "Host"},
                            members=[{"user_id": ids["client"]}])
    rid, name = room["room_id"], room["livekit_room"]
    # a third member granted later (a create with more members than seats is refused): the server's limit
    # is what turns them away below
    granted = real.admin("PUT", f"/rooms/{rid}/members/{ids['other']}", json={"role": "participant"})
    assert granted.status_code in (200, 201), granted.text
    assert room["max_participants"] == 2
    assert real.live_room(name) is None  # not at booking time

    host = real.token(rid, ids["host"])
    live = real.live_room(name)
    assert live is not None and live.max_participants == 2  # created by our CreateRoom, with our config
    assert live.departure_timeout == int(real.config.function_env().get("DEPARTURE_TIMEOUT_SECONDS", 20))
    client, third = real.token(rid, ids["client"]), real.token(rid, ids["other"])

    with real.clients() as proc:
        proc.connect("host", host["server_url"], host["token"])
        proc.connect("client", client["server_url"], client["token"])
        refused = proc.connect("third", third["server_url"], third["token"], timeout=10, check=False)
        assert refused["ok"] is False, refused  # the server refuses the join past our max participants
        assert set(real.live_participants(name)) == {ids["host"], ids["client"]}
        published = proc.publish_audio("client", feed_seconds=3)
        assert published["published"] is True
        server_joined = {i: p.joined_at for i, p in real.live_participants(name).items()}
        real.webhooks.wait(name, "track_published", ids["client"])
        proc.disconnect("client")
        real.webhooks.wait(name, "participant_left", ids["client"])
        proc.disconnect("host")
    finished = real.webhooks.wait(name, "room_finished", timeout=40)  # after the departure timeout

    hooks = real.webhooks.of(name)
    assert {h.event for h in hooks} >= set(LIFECYCLE)
    assert all(h.signed for h in hooks) and all(h.status == 200 for h in hooks), [(h.event, h.status) for h in hooks]
    assert not real.webhooks.of(name, identity=ids["other"])  # a refused join is no event at all
    (track,) = real.webhooks.of(name, "track_published", ids["client"])
    assert track.body["track"]["sid"] == published["track_sid"]

    # LiveKit stopped the room and we saw it: the room is ended (or at least no longer live)
    assert real.live_room(name) is None
    r = real.admin("GET", f"/rooms/{rid}")
    assert r.status_code == 200 and r.json()["status"] == "ended", r.text  # no schedule: LiveKit's end is the end
    assert finished[0].status == 200

    attendance = real.attendance(rid)
    assert set(attendance) == {ids["host"], ids["client"]}
    for identity in (ids["host"], ids["client"]):
        (joined,) = {h.id: h for h in real.webhooks.of(name, "participant_joined", identity)}.values()
        (left,) = {h.id: h for h in real.webhooks.of(name, "participant_left", identity)}.values()
        assert joined.joined_at == server_joined[identity]  # the event and ListParticipants agree
        entry = attendance[identity]
        (segment,) = entry["segments"]
        assert segment["participant_sid"] == joined.participant_sid
        assert segment["joined_at"] == iso(server_joined[identity])
        assert segment["left_at"] == iso(left.created_at)
        assert entry["total_seconds"] == segment["seconds"] == left.created_at - server_joined[identity]
        assert entry["reconnects"] == 0 and entry["via"] == "video"
    assert attendance[ids["client"]]["published"] == ["microphone"]


def test_a_room_auto_created_by_a_reconnect_keeps_our_config(real):
    ids = fresh_ids()
    now = datetime.now(UTC)
    room = real.create_room(service_session_id=ids["session"], room_type="workshop", recording="none",
                            waiting_room=False, max_participants=3, host={"user_id": ids["host"]},
                            scheduled_start=iso(int(now.timestamp())),
                            scheduled_end=iso(int((now + timedelta(hours=1)).timestamp())))
    rid, name = room["room_id"], room["livekit_room"]
    host = real.token(rid, ids["host"])
    with real.clients() as proc:
        proc.connect("host", host["server_url"], host["token"])
        proc.disconnect("host")
        (finished,) = real.webhooks.wait(name, "room_finished", timeout=60)  # LiveKit's departure timeout
        assert finished.status == 200
        assert real.admin("GET", f"/rooms/{rid}").json()["status"] != "ended"  # before its end: still joinable
        proc.connect("host-again", host["server_url"], host["token"])  # the same token, still valid
        real.webhooks.wait(name, "room_started", count=2)
        live = real.live_room(name)
        assert live is not None and live.max_participants == 3, live
        assert live.departure_timeout == int(real.config.function_env().get("DEPARTURE_TIMEOUT_SECONDS", 20))
        assert f'"room_id":"{rid}"' in live.metadata


def _signal_only(url: str, token: str) -> int:
    """A client that opens LiveKit's signal connection, gets its JoinResponse and goes away before any
    media transport connects (what a browser closed mid-join does). The number of signal messages read."""
    import asyncio

    import aiohttp

    async def go() -> int:
        async with aiohttp.ClientSession() as session:
            ws_url = f"{url.replace('http', 'ws', 1)}/rtc?access_token={token}&protocol=16&sdk=python&auto_subscribe=1"
            async with session.ws_connect(ws_url, timeout=aiohttp.ClientWSTimeout(ws_receive=10)) as ws:
                message = await ws.receive(timeout=10)
                assert message.type == aiohttp.WSMsgType.BINARY, message  # the JoinResponse
                return 1

    return asyncio.run(go())


def test_an_aborted_connection_is_not_attendance(real):
    ids = fresh_ids()
    room = real.create_room(service_session_id=ids["session"], room_type="workshop", recording="none",
                            waiting_room=False, host={"user_id": ids["host"]}, members=[{"user_id": ids["client"]}])
    client = real.token(room["room_id"], ids["client"])
    assert _signal_only(real.livekit_url, client["token"]) == 1
    (aborted,) = real.webhooks.wait(room["livekit_room"], "participant_connection_aborted", ids["client"], timeout=40)
    assert aborted.status == 200 and aborted.joined_at  # LiveKit's fact: the signal session had joined
    assert not real.webhooks.of(room["livekit_room"], "participant_joined", ids["client"])
    assert ids["client"] not in real.attendance(room["room_id"])
