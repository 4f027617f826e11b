"""The waiting-room concierge on the real livekit-server (issue 18): a client held in the waiting room
(no subscribe, no publish) receives the host's message, sent through our API as a LiveKit data message
on the topic and with the JSON body the reference app reads (``rooms.host_message``,
``{"type": "host_message", "text", "from", "sent_at"}``), and only they receive it."""

from __future__ import annotations

import json

from rooms.attendance.models import HOST_MESSAGE_TOPIC
from tests.livekit_real.support import fresh_ids, real_handles, wait_until  # noqa: F401 - the `real` fixture

TEXT = "Running 5 minutes late, sorry! Ça commence bientôt."


def test_a_waiting_client_receives_the_hosts_message_as_a_data_message(real):
    ids = fresh_ids()
    room = real.create_room(service_session_id=ids["session"], room_type="workshop", recording="none",
                            waiting_room=True, host={"user_id": ids["host"], "name": "Dr Host"},
                            members=[{"user_id": ids["client"]}, {"user_id": ids["other"]}])
    rid, name = room["room_id"], room["livekit_room"]
    host, client, other = (real.token(rid, u) for u in (ids["host"], ids["client"], ids["other"]))
    assert client["waiting"] is True and other["waiting"] is True and host["waiting"] is False
    with real.clients() as proc:
        proc.connect("host", host["server_url"], host["token"])
        held = proc.connect("client", client["server_url"], client["token"])
        assert held["permissions"]["can_subscribe"] is False  # really in the waiting room
        proc.connect("other", other["server_url"], other["token"])
        wait_until(lambda: {ids["client"], ids["other"]} <= set(real.live_participants(name)),
                   what="both waiting clients in the server's room")

        r = real.call("POST", f"/rooms/{rid}/participants/{ids['client']}/message", as_user=ids["host"],
                      json={"text": TEXT})
        assert r.status_code == 200 and r.json()["action"] == "message", r.text

        got = proc.wait_event(lambda e: e.get("client") == "client" and e.get("event") == "data_received",
                              what="the host's message reaching the waiting client")
        assert got["topic"] == HOST_MESSAGE_TOPIC == "rooms.host_message"
        body = json.loads(got["data"])
        assert body["type"] == "host_message" and body["text"] == TEXT
        assert body["from"] and body["sent_at"].endswith("Z")
        assert got["from"] in (None, "")  # sent by the server (our API), not by a participant
        # still waiting: the message changed nothing else
        state = proc.state("client")
        assert state["permissions"]["can_subscribe"] is False and state["permissions"]["can_publish"] is False
        # addressed to the one client: the other waiting client and the host got nothing
        assert proc.state("other")["data"] == [] and proc.state("host")["data"] == []

    audit = real.call("GET", f"/rooms/{rid}/audit", as_user=ids["host"]).json()["entries"]
    (messaged,) = [e for e in audit if e["action"] == "participant.messaged"]
    assert messaged["target"] == ids["client"] and messaged["details"] == {"length": len(TEXT), "waiting": True}
    assert TEXT not in json.dumps(audit)  # the length is on the trail, not the text
