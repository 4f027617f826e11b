"""Recordings: AWS round trips per operation (start, stop, egress webhooks, S3 event, list, URL)."""

from __future__ import annotations

import uuid

import requests

from rooms_local.auth import mint_dev_token
from rooms_local.bench.common import AwsCallCounter
from rooms_local.livekit_emulator import control


def _by_service(counter: AwsCallCounter, service: str) -> dict[str, int]:
    # ListObjectsV2 is the local stack's S3-notification poller, not something AWS would do for us.
    return {op: n for op, n in counter.by_service(service).items() if op != "ListObjectsV2"}


def _fmt(counter: AwsCallCounter, n: int = 1) -> str:
    ddb, s3 = _by_service(counter, "dynamodb"), _by_service(counter, "s3")
    return (f"DynamoDB {sum(ddb.values()) / n:.2f} {dict((k, v / n) for k, v in ddb.items())}; "
            f"S3 {sum(s3.values()) / n:.2f} {dict((k, v / n) for k, v in s3.items())}")


def run(ctx) -> list[str]:
    stack = ctx.stack
    config = stack.config
    base, lk = config.api_url, config.livekit_url
    suffix = uuid.uuid4().hex[:6]
    admin = {"authorization": f"Bearer {mint_dev_token(config, 'bench-admin', admin=True)}"}
    host_id = f"bench-host-{suffix}"
    host = {"authorization": f"Bearer {mint_dev_token(config, host_id)}"}
    requests.put(f"{base}/templates/bench-rec", headers=admin, timeout=30, json={
        "room_type": "workshop", "max_participants": 10, "max_participants_limit": 10, "recording": "optional"})
    room = requests.post(f"{base}/rooms", headers=admin, timeout=30, json={
        "service_session_id": f"bench-rec-{suffix}", "template": "bench-rec", "host": {"user_id": host_id}}).json()
    room_id = room["room_id"]
    token = requests.post(f"{base}/rooms/{room_id}/token", headers=host, timeout=30).json()["token"]
    control.join(lk, token, publish=["audio", "video"])

    lines = []
    counter = AwsCallCounter()
    stack.s3_events.paused = True
    try:
        with counter.installed():
            control.configure(lk, hold_webhooks=True)
            rec = requests.post(f"{base}/rooms/{room_id}/recordings", headers=host, timeout=30)
            rec.raise_for_status()
            rec = rec.json()
            lines.append(f"start recording (host): {_fmt(counter)}")
            counter.reset()
            control.flush_webhooks(lk)
            lines.append(f"egress_started + egress_updated webhooks: {_fmt(counter, 2)} per event")
            counter.reset()
            requests.post(f"{base}/rooms/{room_id}/recordings/{rec['recording_id']}/stop", headers=host,
                          timeout=30).raise_for_status()
            s3 = _by_service(counter, "s3")
            counter.calls = type(counter.calls)({k: v for k, v in counter.calls.items() if k[1] != "s3"})
            lines.append(f"stop recording (host): {_fmt(counter)} (+ the egress's own upload: {s3})")
            counter.reset()
            control.flush_webhooks(lk)
            lines.append(f"egress_updated + egress_ended webhooks: {_fmt(counter, 2)} per event "
                         "(egress_ended checks the upload with one HeadObject)")
            control.configure(lk, hold_webhooks=False)
            key = rec["storage"]["key"]
            counter.reset()
            # size and eTag given: the event is built without a HeadObject, as S3 builds it
            stack.s3_events.deliver(key, size=725, etag="bench")
            lines.append(f"S3 object-created → available + EventBridge: {_fmt(counter)}; "
                         f"events {sum(_by_service(counter, 'events').values())}")
            counter.reset()
            stack.s3_events.deliver(key, size=725, etag="bench")
            lines.append(f"S3 event redelivered (idempotent): {_fmt(counter)}")
            n = 10
            counter.reset()
            for _ in range(n):
                requests.get(f"{base}/rooms/{room_id}/recordings", headers=host, timeout=30).raise_for_status()
            lines.append(f"list recordings: {_fmt(counter, n)} per request")
            counter.reset()
            for _ in range(n):
                url = requests.get(f"{base}/recordings/{rec['recording_id']}/url", headers=host, timeout=30)
                url.raise_for_status()
            lines.append(f"recording URL: {_fmt(counter, n)} per request (presigning makes no call)")
    finally:
        stack.s3_events.paused = False
        control.configure(lk, hold_webhooks=False)
    return lines
