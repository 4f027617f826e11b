"""DynamoDB round trips per token request (its cold import: ``bench_cold_start``)."""

from __future__ import annotations

import requests

from rooms_local.auth import mint_dev_token
from rooms_local.bench.common import AwsCallCounter


def run(ctx) -> list[str]:
    lines = []

    config = ctx.stack.config
    admin = mint_dev_token(config, "bench-admin", admin=True)
    host = mint_dev_token(config, "bench-host")
    base = config.api_url
    counter = AwsCallCounter()
    with counter.installed():
        r = requests.post(f"{base}/rooms", json={"booking_id": "bench-b1", "service_type": "therapy",
                                                 "host": {"user_id": "bench-host"}},
                          headers={"authorization": f"Bearer {admin}"}, timeout=30)
        r.raise_for_status()
        create = counter.dynamodb("create_room")
        counter.reset()
        first = requests.post(f"{base}/bookings/bench-b1/room/token", headers={"authorization": f"Bearer {host}"},
                              timeout=30)
        first.raise_for_status()
        first_calls = counter.dynamodb("issue_token")
        n = 20
        counter.reset()
        for _ in range(n):
            requests.post(f"{base}/bookings/bench-b1/room/token", headers={"authorization": f"Bearer {host}"},
                          timeout=30).raise_for_status()
        steady = counter.dynamodb("issue_token")
    lines.append(f"create room: {sum(create.values())} DynamoDB round trips {dict(create)}")
    lines.append(f"first token (creates the LiveKit room; its room_started webhook counted apart): "
                 f"{sum(first_calls.values())} round trips {dict(first_calls)}")
    per = sum(steady.values()) / n
    lines.append(f"token request, steady state: {per:.2f} DynamoDB round trips per request "
                 f"(target 2) {dict((k, v / n) for k, v in steady.items())}")
    return lines
