"""Webhooks as LiveKit sends them, checked with LiveKit's own WebhookReceiver on the raw body."""

from __future__ import annotations

import json
import time

from livekit import api

from rooms_local.livekit_emulator import control

from .support import KEY, SECRET, call, join_token


def test_every_delivery_is_signed_protobuf_json(server, sink):
    control.join(server.url, join_token("a", "r"), publish=["audio"])
    assert sink.deliveries and all(d.error == "" for d in sink.deliveries)
    for delivery in sink.deliveries:
        assert delivery.content_type == "application/webhook+json"
        assert not delivery.authorization.startswith("Bearer ")
        body = json.loads(delivery.body)
        assert body["id"].startswith("EV_") and isinstance(body["createdAt"], str)  # int64 as a string
    joined = json.loads(sink.deliveries[1].body)
    assert joined["event"] == "participant_joined"
    assert joined["participant"]["identity"] == "a" and joined["room"]["sid"].startswith("RM_")
    assert "numParticipants" in joined["room"] and "joinedAt" in joined["participant"]  # camelCase keys
    published = json.loads(sink.deliveries[2].body)
    assert published["track"]["source"] == "MICROPHONE" and "type" not in published["track"]  # AUDIO = 0


def test_held_events_flush_shuffled_and_duplicated_with_their_original_times(server, sink):
    control.configure(server.url, hold_webhooks=True)
    control.join(server.url, join_token("a", "r"))
    control.join(server.url, join_token("b", "r"))
    control.leave(server.url, "r", "a")
    happened_by = int(time.time())
    assert sink.deliveries == []
    time.sleep(1.1)

    result = control.flush_webhooks(server.url, shuffle=True, duplicate=True, seed=7)
    assert result["flushed"] == 8 and result["held"] == 0
    assert all(d.error == "" for d in sink.deliveries)
    ids = [e.id for e in sink.events()]
    assert len(ids) == 8 and all(ids.count(i) == 2 for i in ids)
    first_seen = list(dict.fromkeys(ids))
    in_order = ["room_started", "participant_joined", "participant_joined", "participant_left"]
    assert [e.event for e in sink.events()] != [n for n in in_order for _ in (0, 1)]
    assert sorted(e.event for e in sink.events() if e.id in first_seen) == sorted(in_order * 2)
    assert all(e.created_at <= happened_by for e in sink.events())


def test_failed_deliveries_retry_on_5xx_but_not_on_4xx(server, sink):
    sink.statuses.extend([503, 429])  # room_started: two failures, then delivered
    control.join(server.url, join_token("a", "r"))
    assert [d.event.event for d in sink.deliveries[:4]] == ["room_started"] * 3 + ["participant_joined"]
    sink.statuses.append(400)  # participant_left: refused once, never retried
    control.leave(server.url, "r", "a")
    counts = control.drain_webhooks(server.url)
    assert sink.names().count("participant_left") == 1
    assert (counts["delivered"], counts["failed"]) == (2, 1)


def test_a_handler_may_call_back_into_the_server(server, sink):
    admin = api.AccessToken(KEY, SECRET).with_grants(api.VideoGrants(room_admin=True, room="r")).to_jwt()

    def remove_intruder(event):
        if event.event == "participant_joined" and event.participant.identity == "intruder":
            request = api.RoomParticipantIdentity(room="r", identity="intruder")
            call(server, lambda lk: lk.room.remove_participant(request), token=admin)

    sink.on_event = remove_intruder
    control.join(server.url, join_token("intruder", "r"))
    # join answers once the cascade settled: the removal's participant_left is delivered too.
    assert sink.names() == ["room_started", "participant_joined", "participant_left"]
    assert control.state(server.url)["rooms"][0]["participants"] == []
