"""A burst: 50 real participants (5 client processes x 10) join one room at once and leave; every
webhook the real server sends must be answered 200, and attendance must be exact: 50 attendees, each
segment the server's own join and leave times.

One burst runs per module (it is the slow part of the tier); two tests read it: every delivery answered,
and nothing dropped with attendance exact (LiveKit drops a room's webhooks queued over 30 s behind a
slow answer: issue 12 item 9)."""

from __future__ import annotations

import contextlib
import threading
import time
from datetime import UTC, datetime

import pytest

from tests.livekit_real.support import fresh_ids, real_handles, wait_until  # noqa: F401 - the `real` fixture

PROCESSES, PER_PROCESS = 5, 10
N = PROCESSES * PER_PROCESS
QUIET_S = 35  # LiveKit drops a queued webhook after 30 s (+ the one in flight): then no more can come


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _all(procs, op: str, tokens: dict[str, dict] | None = None) -> list[str]:
    """``op`` for every client at once (a process serves its clients' requests concurrently)."""
    errors: list[str] = []

    def one(proc, name: str) -> None:
        try:
            if op == "connect":
                proc.connect(name, tokens[name]["server_url"], tokens[name]["token"], timeout=60)
            else:
                proc.disconnect(name)
        except Exception as err:
            errors.append(f"{name}: {err}")

    threads = [threading.Thread(target=one, args=(proc, f"p{i}-{j}")) for i, proc in enumerate(procs)
               for j in range(PER_PROCESS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return errors


def _settle(real, name: str, counts: dict[str, int]) -> None:
    """Until the webhooks of ``counts`` all arrived, or QUIET_S passed: the events were all queued by
    now, and LiveKit delivers or drops each within 30 s of queueing it (bounded by time)."""
    deadline = time.monotonic() + QUIET_S
    while time.monotonic() < deadline:
        if all(len({h.id for h in real.webhooks.of(name, e)}) >= n for e, n in counts.items()):
            return
        time.sleep(0.5)


@pytest.fixture(scope="module")
def burst(real):
    ids = fresh_ids()
    users = [f"{ids['client']}-{n:02d}" for n in range(N)]
    room = real.create_room(service_session_id=ids["session"], room_type="workshop", recording="none",
                            waiting_room=False, max_participants=N + 1, host={"user_id": ids["host"]},
                            members=[{"user_id": u} for u in users])
    rid, name = room["room_id"], room["livekit_room"]
    tokens = {f"p{i}-{j}": real.token(rid, users[i * PER_PROCESS + j])
              for i in range(PROCESSES) for j in range(PER_PROCESS)}
    with contextlib.ExitStack() as stack:
        procs = [stack.enter_context(real.clients()) for _ in range(PROCESSES)]
        connect_errors = _all(procs, "connect", tokens)
        live: dict = {}
        with contextlib.suppress(AssertionError):  # test 1 asserts it, with the clients' errors
            live = wait_until(lambda: (p := real.live_participants(name)) and len(p) == N and p,
                              timeout=30, what=f"{N} participants in the server at once")
        live = live or real.live_participants(name)
        server = {identity: (p.sid, p.joined_at) for identity, p in live.items()}
        disconnect_errors = _all(procs, "disconnect")  # at once: their join webhooks may still be queued
        wait_until(lambda: not real.live_participants(name), timeout=30, what="everyone gone from the server")
    _settle(real, name, {"participant_joined": N, "participant_left": N})
    # everyone left: end the room now rather than wait out LiveKit's departure timeout
    assert real.admin("DELETE", f"/rooms/{rid}").status_code == 200
    real.webhooks.wait(name, "room_finished", timeout=30)
    return {"rid": rid, "name": name, "users": users, "server": server, "connect_errors": connect_errors,
            "disconnect_errors": disconnect_errors}


def test_fifty_real_participants_join_and_leave_and_every_delivery_is_answered(real, burst):
    assert not burst["connect_errors"] and not burst["disconnect_errors"], burst["connect_errors"][:3]
    assert set(burst["server"]) == set(burst["users"]), len(burst["server"])  # all 50 in the room at once
    hooks = real.webhooks.of(burst["name"])
    failed = [(h.event, h.identity, h.status) for h in hooks if h.status != 200]
    assert hooks and not failed, failed  # every delivery that reached us was answered 200
    assert all(h.signed for h in hooks)
    # whatever reached us is exact: a join we saw carries the server's own joined_at for that SID
    for h in real.webhooks.of(burst["name"], "participant_joined"):
        assert (h.participant_sid, h.joined_at) == burst["server"][h.identity], h.identity
    attendance = real.attendance(burst["rid"])
    assert set(attendance) <= set(burst["users"])


# LiveKit sends a room's webhooks one at a time and drops those queued over 30 s: our handler answers at
# once and leaves its slow work to webhook_worker (issue 12 item 9), so none may be dropped.
def test_burst_every_webhook_delivered_and_attendance_exact(real, burst):
    name = burst["name"]
    dropped = real.dropped_webhooks(name)
    # LiveKit drops what waited 30 s behind slower answers: on a machine this loaded every answer is slow
    # (the timings say so), which is no handler regression; rerun alone to tell
    assert dropped == [], f"{len(dropped)} dropped by the server; our answers: {real.webhook_answer_times(name)}"
    # every participant's join and leave reached us. By participant SID, not event id: under load the real
    # server sent a second participant_joined (another id, the same SID and joined_at) for a few resumed
    # sessions, which is the same connection (one segment) and not a reconnect.
    counts = {e: len({(h.identity, h.participant_sid) for h in real.webhooks.of(name, e)})
              for e in ("participant_joined", "participant_left")}
    assert counts == {"participant_joined": N, "participant_left": N}, counts
    left_at = {h.identity: h.created_at for h in real.webhooks.of(name, "participant_left")
               if h.participant_sid == burst["server"][h.identity][0]}
    attendance = real.attendance(burst["rid"])
    assert set(attendance) == set(burst["users"])
    for user in burst["users"]:
        entry = attendance[user]
        (segment,) = entry["segments"]
        joined_at = burst["server"][user][1]
        assert (segment["joined_at"], segment["left_at"]) == (iso(joined_at), iso(left_at[user])), user
        assert entry["total_seconds"] == left_at[user] - joined_at and entry["reconnects"] == 0
