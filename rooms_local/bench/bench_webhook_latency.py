"""Webhook latency during a 50-participant burst (issue 12 item 9): LiveKit sends a room's webhooks one
at a time, with no timeout, and drops those queued over 30 s behind a slow answer, so the webhook must be
answered at once and the slow work done by webhook_worker from its queue.

Through the emulator (it sends webhooks as LiveKit does): 50 members of a waiting room join at once and
leave, then the room ends. Each join leaves slow work (the "Participant Waiting" event on EventBridge),
the end releases the room (LiveKit, S3). The figures are ratios against a baseline measured in the same
run (a webhook no handler acts on: signature checked, answered), never absolute timings; the worker's
time per message is the slow work the webhook no longer waits for. Attendance is checked exact.
"""

from __future__ import annotations

import statistics
import threading
import uuid

import requests

from rooms_local.auth import mint_dev_token
from rooms_local.livekit_emulator import control
from rooms_local.livekit_emulator.webhooks import encode, sign

N = 50


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _baseline(config, n: int = 30) -> list[float]:
    """Answer times (s) of a webhook no handler acts on (``ingress_started``): verify and answer."""
    from livekit.protocol.webhook import WebhookEvent

    out = []
    for _ in range(n):
        ev = WebhookEvent(event="ingress_started", id=f"EV_{uuid.uuid4().hex[:12]}", created_at=1_900_000_000)
        body = encode(ev)
        headers = {"content-type": "application/webhook+json",
                   "authorization": sign(body, config.livekit_api_key, config.livekit_api_secret)}
        r = requests.post(config.webhook_url, data=body.encode(), headers=headers, timeout=30)
        r.raise_for_status()
        out.append(r.elapsed.total_seconds())
    return out


def run(ctx) -> list[str]:
    stack = ctx.stack
    config = stack.config
    admin = {"authorization": f"Bearer {mint_dev_token(config, 'bench-admin', admin=True)}"}
    users = [f"bench-w{i:02d}-{uuid.uuid4().hex[:4]}" for i in range(N)]
    r = requests.post(f"{config.api_url}/rooms", headers=admin, timeout=30, json={
        "service_session_id": f"bench-wh-{uuid.uuid4().hex[:6]}", "room_type": "workshop", "waiting_room": True,
        "max_participants": N + 1, "host": {"user_id": "bench-wh-dr"}, "members": [{"user_id": u} for u in users]})
    r.raise_for_status()
    room = r.json()
    rid, name = room["room_id"], room["livekit_room"]
    tokens = []
    for user in users:
        t = requests.post(f"{config.api_url}/rooms/{rid}/token", timeout=30,
                          headers={"authorization": f"Bearer {mint_dev_token(config, user)}"})
        t.raise_for_status()
        tokens.append(t.json()["token"])

    baseline = _baseline(config)
    before = len(stack.webhook_deliveries)
    worked_before = len(stack.webhook_work.durations)
    threads = [threading.Thread(target=control.join, args=(config.livekit_url, tok)) for tok in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    threads = [threading.Thread(target=control.leave, args=(config.livekit_url, name, u)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    control.drain_webhooks(config.livekit_url, timeout=120)
    requests.delete(f"{config.api_url}/rooms/{rid}", headers=admin, timeout=30).raise_for_status()
    control.drain_webhooks(config.livekit_url, timeout=60)
    stack.webhook_work.drain(timeout=120)

    deliveries = list(stack.webhook_deliveries)[before:]
    latencies = [d.answered_at - d.received_at for d in deliveries]
    statuses = {d.status for d in deliveries}
    worked = stack.webhook_work.durations[worked_before:]
    per_message = [seconds / max(1, count) for count, seconds in worked]
    base = statistics.median(baseline)
    attendance = requests.get(f"{config.api_url}/rooms/{rid}/attendance", headers=admin, timeout=30).json()
    attendees = {p["user_id"] for p in attendance["participants"]} & set(users)
    assert statuses == {200}, statuses
    assert attendees == set(users), f"{len(attendees)} of {N} attendees"
    lines = [
        f"baseline (a webhook nobody acts on, idle): median {base * 1000:.1f} ms over {len(baseline)}",
        f"burst of {N} waiting-room joins + {N} leaves + the end: {len(deliveries)} webhooks, all 200; "
        f"p50 {statistics.median(latencies) / base:.1f}x, p99 {_p(latencies, 0.99) / base:.1f}x, "
        f"max {max(latencies) / base:.1f}x the baseline",
        f"slow work done by webhook_worker meanwhile: {sum(c for c, _ in worked)} messages in {len(worked)} "
        f"batches, {(_p(per_message, 0.5) / base) if per_message else 0:.1f}x the baseline per message (p50), "
        f"{(max(per_message) / base) if per_message else 0:.1f}x (max): time the webhooks no longer wait for",
        f"attendance exact: {len(attendees)} of {N} attendees",
    ]
    return lines
