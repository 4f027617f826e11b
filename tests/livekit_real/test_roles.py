"""Join tokens from our API on the real livekit-server, with real clients: each role gets exactly what
it may do, and the waiting room holds a participant until the host admits them — live, without a
reconnect."""

from __future__ import annotations

from livekit.protocol.models import TrackSource

from tests.livekit_real.support import fresh_ids, real_handles, wait_until  # noqa: F401 - the `real` fixture

REFUSED_PUBLISH_WAIT_S = 4.0  # the server never answers a refused AddTrack: the client's wait is bounded


def _workshop(real, ids, *, waiting_room: bool, members: list[dict]) -> dict:
    return real.create_room(service_session_id=ids["session"], room_type="workshop", recording="none",
                            waiting_room=waiting_room, host={"user_id": ids["host"], "name": "Host"},
                            members=members)


def test_tokens_connect_and_a_viewer_cannot_publish(real):
    ids = fresh_ids()
    room = _workshop(real, ids, waiting_room=False,
                     members=[{"user_id": ids["client"]}, {"user_id": ids["other"], "role": "viewer"}])
    host, client, viewer = (real.token(room["room_id"], u) for u in (ids["host"], ids["client"], ids["other"]))
    assert viewer["role"] == "viewer" and client["role"] == "participant" and host["role"] == "host"
    with real.clients() as proc:
        for name, tok in (("host", host), ("client", client), ("viewer", viewer)):
            joined = proc.connect(name, tok["server_url"], tok["token"])
            assert joined["identity"] == tok["identity"]
        assert proc.publish_audio("host", feed_seconds=5)["published"] is True
        assert proc.publish_audio("client")["published"] is True
        refused = proc.publish_audio("viewer", timeout=REFUSED_PUBLISH_WAIT_S)
        assert refused["published"] is False, refused

        live = real.live_participants(room["livekit_room"])
        assert set(live) == {ids["host"], ids["client"], ids["other"]}
        assert not live[ids["other"]].permission.can_publish and not live[ids["other"]].permission.can_publish_data
        assert live[ids["other"]].permission.can_subscribe
        assert live[ids["other"]].tracks == []  # the server holds no track of the viewer
        assert [t.source for t in live[ids["client"]].tracks] == [TrackSource.MICROPHONE]
        # the viewer does receive the host's audio
        proc.wait_event(lambda e: e.get("client") == "viewer" and e.get("event") == "track_subscribed"
                        and e["identity"] == ids["host"], what="the viewer subscribing to the host")


def test_waiting_room_holds_until_the_host_admits_then_works_without_reconnecting(real):
    ids = fresh_ids()
    room = _workshop(real, ids, waiting_room=True, members=[{"user_id": ids["client"]}])
    rid, name = room["room_id"], room["livekit_room"]
    host = real.token(rid, ids["host"])
    waiting = real.token(rid, ids["client"])
    assert waiting["waiting"] is True and host["waiting"] is False
    with real.clients() as proc:
        proc.connect("host", host["server_url"], host["token"])
        assert proc.publish_audio("host", feed_seconds=20)["published"] is True
        joined = proc.connect("client", waiting["server_url"], waiting["token"])
        assert joined["permissions"]["can_publish"] is False and joined["permissions"]["can_subscribe"] is False
        assert proc.publish_audio("client", timeout=REFUSED_PUBLISH_WAIT_S)["published"] is False
        held = proc.state("client")
        assert held["tracks"] == []
        assert all(not t["subscribed"] for t in held["remote"].get(ids["host"], [])), held
        assert not proc.client_events("client", "track_subscribed")
        sid_before = real.live_participants(name)[ids["client"]].sid
        assert real.live_participants(name)[ids["client"]].tracks == []

        r = real.call("POST", f"/rooms/{rid}/participants/{ids['client']}/admit", as_user=ids["host"])
        assert r.status_code == 200 and r.json()["connected"] is True, r.text
        changed = proc.wait_event(lambda e: e.get("client") == "client" and e.get("event") == "permissions_changed"
                                  and e["permissions"]["can_publish"], what="the admit reaching the client")
        assert changed["permissions"]["can_subscribe"] and changed["permissions"]["can_publish_data"]
        proc.wait_event(lambda e: e.get("client") == "client" and e.get("event") == "track_subscribed"
                        and e["identity"] == ids["host"], what="the admitted client subscribing to the host")
        assert proc.publish_audio("client", feed_seconds=5)["published"] is True
        live = wait_until(lambda: (p := real.live_participants(name)[ids["client"]]).tracks and p,
                          what="the server holding the admitted client's track")
        assert live.sid == sid_before  # the same connection: no reconnect
        assert [t.source for t in live.tracks] == [TrackSource.MICROPHONE]
        assert not proc.client_events("client", "disconnected")
    # the admitted time is attendance; one segment, no reconnect
    entry = wait_until(lambda: real.attendance(rid).get(ids["client"]), what="the client's attendance")
    assert entry["reconnects"] == 0 and len(entry["segments"]) == 1
