"""Faults that converge: an ending or a revocation that LiveKit refused (an outage) is answered 503, and
what it owed LiveKit (the room deleted, the revoked member removed) is recorded with the state change
(``RoomItem.cleanup_pending``, in the due index) and finished by the sweeper once LiveKit is back.

The outage is a LiveKit URL nobody listens on, for the functions of this process (they run in it: the
local stack), at the one door to LiveKit (``rooms.livekit_gateway.client``), as tests/unit/test_livekit_faults.py.
"""

from __future__ import annotations

import socket
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from rooms_local.livekit_emulator import control


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def livekit_outage(monkeypatch):
    from rooms.livekit_gateway import client
    from rooms.settings import get_settings

    @contextmanager
    def outage():
        down = get_settings().model_copy(update={"livekit_url": f"http://127.0.0.1:{_closed_port()}",
                                                 "livekit_timeout_seconds": 3})
        with monkeypatch.context() as patch:
            patch.setattr(client, "get_settings", lambda: down)
            yield

    return outage


def _livekit_room(stack, name: str) -> dict | None:
    return {r["name"]: r for r in control.state(stack.config.livekit_url)["rooms"]}.get(name)


def _identities(stack, name: str) -> set[str]:
    room = _livekit_room(stack, name)
    return {p["identity"] for p in room["participants"]} if room else set()


def _owed(room_id: str):
    """The room as the sweeper finds it: its item read through the due index (gsi1), with what it owes."""
    from rooms import store

    item = store.get_room(room_id, consistent=True)
    assert item.gsi1pk and item.gsi1sk, "a room that owes LiveKit work is in the due index"
    (indexed,) = [i for i in store.TableItem.due_index.query(item.gsi1pk, store.TableItem.gsi1sk == item.gsi1sk)]
    return indexed, set(item.cleanup_pending or ())


def _sweep_time(stack, item) -> datetime:
    """When it is due, and after the emulator's clock (which other tests may have moved forward)."""
    due_at = datetime.fromisoformat(item.gsi1sk.partition("#")[0].replace("Z", "+00:00"))
    livekit_now = datetime.fromtimestamp(control.advance_clock(stack.config.livekit_url, 0)["now"], UTC)
    return max(due_at, livekit_now.replace(microsecond=0)) + timedelta(seconds=1)


def _joined(api, stack, room: dict, *users: str) -> None:
    for user in users:
        token = api.call("POST", f"/rooms/{room['room_id']}/token", as_user=user)
        assert token.status_code == 200, token.text
        control.join(stack.config.livekit_url, token.json()["token"])
    control.drain_webhooks(stack.config.livekit_url)
    assert _identities(stack, room["livekit_room"]) == set(users)


def test_ending_a_room_during_a_livekit_outage_converges_when_the_sweeper_runs(
        api, stack, ids, booking_room, livekit_outage):
    from rooms.lifecycle.sweeper import room_due
    from rooms.settings import get_settings

    room_id, name = booking_room["room_id"], booking_room["livekit_room"]
    _joined(api, stack, booking_room, ids["host"], ids["client"])
    with livekit_outage():
        ended = api.admin("DELETE", f"/rooms/{room_id}")
        assert ended.status_code == 503 and ended.json()["code"] == "livekit_unavailable", ended.text
        # the room is ended (the record comes first) and owes its LiveKit room's deletion
        assert api.admin("GET", f"/rooms/{room_id}").json()["status"] == "ended"
        item, owed = _owed(room_id)
        assert owed == {"end"}
        assert _identities(stack, name) == {ids["host"], ids["client"]}  # LiveKit never heard
        # the sweeper while LiveKit is still down: it fails, and the room stays owed
        at = _sweep_time(stack, item)
        with pytest.raises(Exception, match="LiveKit"):
            room_due(item, at, get_settings())
        assert _owed(room_id)[1] == {"end"}
    # LiveKit is back: the next sweep after the failed one's lease finishes the job
    item, _ = _owed(room_id)
    assert room_due(item, _sweep_time(stack, item), get_settings()) == ["ending_finished", "done"]
    assert _livekit_room(stack, name) is None  # everyone disconnected
    from rooms import store

    after = store.get_room(room_id, consistent=True)
    assert after.cleanup_pending is None and after.gsi1pk is None  # nothing owed, out of the index
    attendance = api.call("GET", f"/rooms/{room_id}/attendance", as_user=ids["host"]).json()
    assert all(not p["connected"] for p in attendance["participants"])  # closed by the release
    assert after.participant_count == 2  # the summary the release writes


def test_an_ending_that_livekit_accepts_owes_nothing(api, stack, ids, booking_room):
    from rooms import store

    _joined(api, stack, booking_room, ids["host"])
    assert api.admin("DELETE", f"/rooms/{booking_room['room_id']}").status_code == 200
    after = store.get_room(booking_room["room_id"], consistent=True)
    assert after.cleanup_pending is None and after.gsi1pk is None
    assert _livekit_room(stack, booking_room["livekit_room"]) is None


def test_revoking_during_a_livekit_outage_converges_when_the_sweeper_runs(
        api, stack, ids, booking_room, livekit_outage):
    from rooms.lifecycle.sweeper import room_due
    from rooms.settings import get_settings

    room_id, name = booking_room["room_id"], booking_room["livekit_room"]
    _joined(api, stack, booking_room, ids["host"], ids["client"])
    with livekit_outage():
        revoked = api.admin("DELETE", f"/rooms/{room_id}/members/{ids['client']}")
        assert revoked.status_code == 503 and revoked.json()["code"] == "livekit_unavailable", revoked.text
        item, owed = _owed(room_id)
        assert owed == {f"participant:{ids['client']}"}
        assert ids["client"] in _identities(stack, name)  # still connected
    from rooms import store

    assert store.get_member(room_id, ids["client"]).status == "revoked"  # the revocation itself held
    assert room_due(item, _sweep_time(stack, item), get_settings()) == ["revocation_finished", "checked"]
    assert _identities(stack, name) == {ids["host"]}  # removed; the host stays
    assert store.get_room(room_id, consistent=True).cleanup_pending is None
    # and the old token cannot bring them back (revoke_token_ts)
    assert api.call("POST", f"/rooms/{room_id}/token", as_user=ids["client"]).status_code == 403


def _webhooks(stack, on: bool) -> None:
    """LiveKit's webhooks delivered or lost (best-effort delivery, LIVEKIT.md)."""
    control.configure(stack.config.livekit_url, webhook_urls=[stack.config.webhook_url] if on else [])


def test_the_reconcile_removes_who_may_not_be_there_and_does_not_count_them(api, stack, ids, booking_room):
    """A revoked member joining with their old token (self-hosted LiveKit does not honour revoke_token_ts)
    and someone who is no member, both with their participant_joined lost: the sweeper's live check
    removes them from LiveKit, and neither is attendance."""
    from livekit import api as lk

    from rooms import store
    from rooms.lifecycle.sweeper import room_due
    from rooms.settings import get_settings

    room_id, name, url = booking_room["room_id"], booking_room["livekit_room"], stack.config.livekit_url
    # (a two-seat room: the host is not connected, so both seats are theirs)
    old = api.call("POST", f"/rooms/{room_id}/token", as_user=ids["client"]).json()["token"]
    assert api.admin("DELETE", f"/rooms/{room_id}/members/{ids['client']}").status_code == 200  # not connected
    stranger = (lk.AccessToken(stack.config.livekit_api_key, stack.config.livekit_api_secret)
                .with_identity(ids["other"]).with_grants(lk.VideoGrants(room_join=True, room=name)).to_jwt())
    _webhooks(stack, False)
    try:
        control.join(url, old)
        control.join(url, stranger)
        control.drain_webhooks(url)
    finally:
        _webhooks(stack, True)
    assert _identities(stack, name) == {ids["client"], ids["other"]}
    item = store.get_room(room_id, consistent=True)
    assert room_due(item, _sweep_time(stack, item), get_settings()) == ["checked"]
    assert _identities(stack, name) == set()  # both removed
    attendance = api.call("GET", f"/rooms/{room_id}/attendance", as_user=ids["host"]).json()
    for entry in attendance["participants"]:  # (the view lists the room's members too) neither is attendance
        assert entry["segments"] == [] and entry["total_seconds"] == 0 and not entry["connected"], entry
    assert ids["other"] not in {p["identity"] for p in attendance["participants"]}
    # the host, an active member, is left alone by the next check
    _joined(api, stack, booking_room, ids["host"])
    item = store.get_room(room_id, consistent=True)
    assert room_due(item, _sweep_time(stack, item), get_settings()) == ["checked"]
    assert _identities(stack, name) == {ids["host"]}
