"""On the real livekit-server: a revoked member who joins with their old token (self-hosted LiveKit does
not honour ``revoke_token_ts``, LIVEKIT.md) and whose ``participant_joined`` is lost stays connected until
the sweeper's live check reconciles the room with ListParticipants: it removes them, and they are not
attendance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.livekit_real.support import fresh_ids, real_handles, wait_until  # noqa: F401 - the `real` fixture


def test_the_live_check_removes_a_revoked_member_whose_join_was_lost(real, monkeypatch):
    from rooms import store, webhooks
    from rooms.lifecycle.sweeper import room_due
    from rooms.settings import get_settings

    ids = fresh_ids()
    room = real.create_room(service_session_id=ids["session"], room_type="workshop", recording="none",
                            waiting_room=False, host={"user_id": ids["host"], "name": "Host"},
                            members=[{"user_id": ids["client"]}])
    rid, name = room["room_id"], room["livekit_room"]
    host, old = real.token(rid, ids["host"]), real.token(rid, ids["client"])
    assert real.admin("DELETE", f"/rooms/{rid}/members/{ids['client']}").status_code == 200  # not connected yet
    handle_join = webhooks.HANDLERS["participant_joined"]

    def lose_the_clients_join(event, ctx):
        if event.participant.identity != ids["client"]:
            handle_join(event, ctx)
        else:
            with ctx.transaction():
                pass  # acknowledged, never applied: as if LiveKit's delivery had been lost

    monkeypatch.setitem(webhooks.HANDLERS, "participant_joined", lose_the_clients_join)
    with real.clients() as proc:
        proc.connect("host", host["server_url"], host["token"])
        proc.connect("client", old["server_url"], old["token"])  # the server lets the old token in
        real.webhooks.wait(name, "participant_joined", ids["client"])
        assert set(real.live_participants(name)) == {ids["host"], ids["client"]}
        item = store.get_room(rid, consistent=True)
        due = datetime.fromisoformat(item.gsi1sk.partition("#")[0].replace("Z", "+00:00"))
        check_at = max(due, datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1))
        assert room_due(item, check_at, get_settings()) == ["checked"]
        wait_until(lambda: set(real.live_participants(name)) == {ids["host"]}, what="the revoked member removed")
        real.webhooks.wait(name, "participant_left", ids["client"])
        attendance = real.attendance(rid)
        assert ids["host"] in attendance and attendance[ids["host"]]["connected"]
        client = attendance.get(ids["client"], {"segments": [], "total_seconds": 0})
        assert client["segments"] == [] and client["total_seconds"] == 0, client  # not attendance
        proc.disconnect("host")
