"""A full room, on the real livekit-server with real rtc clients: the third member's token request is
answered 409 room_full (LiveKit itself would refuse their join with an HTTP 500 the browser cannot
read), a connected member asking again gets a token and rejoins with it (the same identity replaces
its connection, LiveKit does not count it twice), and once someone leaves the third gets in."""

from __future__ import annotations

from tests.livekit_real.support import fresh_ids, real_handles, wait_until  # noqa: F401 - the `real` fixture


def test_the_third_member_of_a_full_two_seat_room_is_told_room_full(real):
    ids = fresh_ids()
    room = real.create_room(service_session_id=ids["session"], room_type="workshop", recording="none",
                            waiting_room=False, max_participants=2, host={"user_id": ids["host"], "name": "Host"},
                            members=[{"user_id": ids["client"]}])
    rid, name = room["room_id"], room["livekit_room"]
    granted = real.admin("PUT", f"/rooms/{rid}/members/{ids['other']}", json={"role": "participant"})
    assert granted.status_code in (200, 201), granted.text
    host, client = real.token(rid, ids["host"]), real.token(rid, ids["client"])

    with real.clients() as proc:
        proc.connect("host", host["server_url"], host["token"])
        proc.connect("client", client["server_url"], client["token"])
        for identity in (ids["host"], ids["client"]):
            real.webhooks.wait(name, "participant_joined", identity)  # answered: the room's hint is 2

        refused = real.call("POST", f"/rooms/{rid}/token", as_user=ids["other"])
        assert refused.status_code == 409, refused.text
        assert refused.json()["code"] == "room_full" and refused.json()["max_participants"] == 2, refused.text
        assert set(real.live_participants(name)) == {ids["host"], ids["client"]}

        # the connected client reloads: a token, and LiveKit takes the rejoin (replacing the connection)
        again = real.token(rid, ids["client"])
        rejoined = proc.connect("client-again", again["server_url"], again["token"])
        assert rejoined["identity"] == ids["client"]
        real.webhooks.wait(name, "participant_joined", ids["client"], count=2)
        assert set(real.live_participants(name)) == {ids["host"], ids["client"]}
        still = real.call("POST", f"/rooms/{rid}/token", as_user=ids["other"])
        assert still.status_code == 409 and still.json()["code"] == "room_full", still.text

        proc.disconnect("client-again")
        real.webhooks.wait(name, "participant_left", ids["client"], count=2)
        third = wait_until(lambda: (r := real.call("POST", f"/rooms/{rid}/token", as_user=ids["other"]))
                           .status_code == 200 and r.json(), timeout=20, what="the third member's token")
        proc.connect("third", third["server_url"], third["token"])
        assert set(real.live_participants(name)) == {ids["host"], ids["other"]}
        proc.disconnect("third")
        proc.disconnect("host")
