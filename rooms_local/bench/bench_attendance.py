"""DynamoDB round trips per LiveKit participant event (target: 2 per join / leave), measured on the
webhook route of the local stack, plus the attendance view and a full simulated session."""

from __future__ import annotations

import uuid

import requests
from livekit.protocol.models import ParticipantInfo
from livekit.protocol.webhook import WebhookEvent

from rooms_local.auth import mint_dev_token
from rooms_local.bench.common import AwsCallCounter
from rooms_local.livekit_emulator import control
from rooms_local.livekit_emulator.webhooks import encode, sign

T0 = 1_900_000_000


def _post(config, event: WebhookEvent) -> str:
    body = encode(event)
    r = requests.post(config.webhook_url, data=body.encode(), timeout=30,
                      headers={"content-type": "application/webhook+json",
                               "authorization": sign(body, config.livekit_api_key, config.livekit_api_secret)})
    r.raise_for_status()
    return r.json()["outcome"]


def _event(name: str, room: str, identity: str, sid: str, at: int, joined_at: int) -> WebhookEvent:
    ev = WebhookEvent(event=name, id=f"EV_{uuid.uuid4().hex[:12]}", created_at=at)
    ev.room.name, ev.room.sid = room, "RM_bench"
    ev.participant.CopyFrom(ParticipantInfo(sid=sid, identity=identity, joined_at=joined_at,
                                            attributes={"rooms.role": "participant"}))
    return ev


def _per_event(counter: AwsCallCounter, n: int) -> str:
    calls = counter.dynamodb()
    return f"{sum(calls.values()) / n:.2f} {dict((k, v / n) for k, v in sorted(calls.items()))}"


def run(ctx) -> list[str]:
    config = ctx.stack.config
    admin = {"authorization": f"Bearer {mint_dev_token(config, 'bench-admin', admin=True)}"}
    host = {"authorization": f"Bearer {mint_dev_token(config, 'bench-dr')}"}
    r = requests.post(f"{config.api_url}/rooms", headers=admin, timeout=30, json={
        "service_session_id": f"bench-att-{uuid.uuid4().hex[:6]}", "room_type": "workshop",
        "host": {"user_id": "bench-dr"}, "members": [{"user_id": f"bench-u{i}"} for i in range(20)]})
    r.raise_for_status()
    room = r.json()
    name, rid = room["livekit_room"], room["room_id"]
    lines = []
    counter = AwsCallCounter()
    n = 20
    joins = [_event("participant_joined", name, f"bench-u{i}", f"PA_{i}", T0 + i, T0 + i) for i in range(n)]
    leaves = [_event("participant_left", name, f"bench-u{i}", f"PA_{i}", T0 + 600 + i, T0 + i) for i in range(n)]
    with counter.installed():
        outcomes = [_post(config, ev) for ev in joins]
        lines.append(f"participant_joined: {_per_event(counter, n)} DynamoDB round trips per event (target <= 2)")
        counter.reset()
        outcomes += [_post(config, ev) for ev in leaves]
        lines.append(f"participant_left:   {_per_event(counter, n)} DynamoDB round trips per event (target <= 2)")
        counter.reset()
        dupes = [_post(config, ev) for ev in joins[:5]]
        lines.append(f"duplicate delivery: {_per_event(counter, 5)} round trips per event (outcomes {set(dupes)})")
        counter.reset()
        early = [_event("participant_left", name, f"bench-u{i}", f"PA_x{i}", T0 + 900, T0 + 800) for i in range(5)]
        outcomes += [_post(config, ev) for ev in early]  # a leave before its join
        lines.append(f"leave before its join: {_per_event(counter, 5)} round trips per event")
        counter.reset()
        view = requests.get(f"{config.api_url}/rooms/{rid}/attendance", headers=host, timeout=30)
        view.raise_for_status()
        lines.append(f"GET attendance ({len(view.json()['participants'])} participants, "
                     f"{2 * n + 5} segments): {sum(counter.dynamodb().values())} round trips "
                     f"{dict(counter.dynamodb())}")
        counter.reset()
        # a whole session through the emulator: token, join (+ room_started, track), leave
        token = requests.post(f"{config.api_url}/rooms/{rid}/token", headers=host, timeout=30).json()["token"]
        counter.reset()
        control.join(config.livekit_url, token, publish=["audio"])
        control.leave(config.livekit_url, name, "bench-dr")
        control.drain_webhooks(config.livekit_url)
        lines.append(f"simulated join + publish + leave on the emulator (4 webhooks incl. unpublish): "
                     f"{sum(counter.dynamodb().values())} round trips {dict(counter.dynamodb())}")
    assert set(outcomes) == {"handled"}, outcomes
    return lines
