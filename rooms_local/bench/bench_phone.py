"""Phone: DynamoDB round trips of a SIP room's creation, first and steady token requests, dial-in view and
dial-out; and PIN allocation attempts per room as a number's PIN space fills up."""

from __future__ import annotations

import json
import os
import uuid
from collections import Counter

import requests

from rooms_local.auth import mint_dev_token
from rooms_local.bench.common import AwsCallCounter


def _per(calls: Counter, n: int = 1) -> str:
    return f"{sum(calls.values()) / n:.2f} {dict((op, v / n) for op, v in sorted(calls.items()))}"


def run(ctx) -> list[str]:
    config = ctx.stack.config
    base = config.api_url
    tag = uuid.uuid4().hex[:8]
    admin = {"authorization": f"Bearer {mint_dev_token(config, 'bench-admin', admin=True)}"}
    host_id = f"bench-host-{tag}"
    host = {"authorization": f"Bearer {mint_dev_token(config, host_id)}"}
    lines = []
    counter = AwsCallCounter()
    with counter.installed():
        for sip in (False, True):
            counter.reset()
            r = requests.post(f"{base}/rooms", headers=admin, timeout=30, json={
                "service_session_id": f"bench-phone-{tag}-{sip}", "room_type": "workshop", "waiting_room": False,
                "host": {"user_id": host_id}, "sip": {"enabled": sip, "region": "US"}})
            r.raise_for_status()
            lines.append(f"create room, SIP {'on ' if sip else 'off'}: {_per(counter.dynamodb())} DynamoDB round trips")
        room = r.json()
        room_id = room["room_id"]

        counter.reset()
        requests.post(f"{base}/rooms/{room_id}/token", headers=host, timeout=30).raise_for_status()
        lines.append(f"first token of a SIP room (LiveKit room + dispatch rule): {_per(counter.dynamodb())}")
        n = 10
        counter.reset()
        for _ in range(n):
            requests.post(f"{base}/rooms/{room_id}/token", headers=host, timeout=30).raise_for_status()
        lines.append(f"token request of a SIP room, steady state: {_per(counter.dynamodb(), n)} per request")
        counter.reset()
        for _ in range(n):
            requests.get(f"{base}/rooms/{room_id}/dial-in", headers=host, timeout=30).raise_for_status()
        lines.append(f"GET dial-in: {_per(counter.dynamodb(), n)} per request")
        counter.reset()
        requests.post(f"{base}/rooms/{room_id}/dial-out", headers=host, timeout=30,
                      json={"phone_number": "+12025550177"}).raise_for_status()
        lines.append(f"POST dial-out: {_per(counter.dynamodb())}")

    lines.extend(_pin_attempts(tag))
    return lines


def _pin_attempts(tag: str) -> list[str]:
    """Fill a 100-PIN space (PIN length 2) on a number of its own, 10 rooms at a time, up to 70 %: transactions
    per room (each clash costs one more). Near exhaustion the 20 random tries can miss the last free PINs:
    that is a 409 pin_unavailable, counted here."""
    from rooms.access import Caller
    from rooms.clock import utcnow
    from rooms.errors import Conflict
    from rooms.room.models import CreateRoomRequest
    from rooms.room.service import create_room
    from rooms.settings import get_settings

    saved = {k: os.environ.get(k) for k in ("SIP_PIN_LENGTH", "SIP_NUMBERS")}
    trunk_id = get_settings().sip_numbers["US"].trunk_id
    os.environ["SIP_PIN_LENGTH"] = "2"
    os.environ["SIP_NUMBERS"] = json.dumps({"US": {"number": "+12025550188", "trunk_id": trunk_id}})
    get_settings.cache_clear()
    caller = Caller("bench-admin", frozenset({"rooms/admin"}))
    lines = []
    counter = AwsCallCounter()
    try:
        with counter.installed():
            for decile in range(7):
                counter.reset()
                refused = 0
                for i in range(decile * 10, decile * 10 + 10):
                    try:
                        create_room(CreateRoomRequest(service_session_id=f"bench-pins-{tag}-{i}",
                                                      room_type="workshop", sip={"enabled": True, "region": "US"}),
                                    caller=caller, now=utcnow(), settings=get_settings())
                    except Conflict:
                        refused += 1
                tx = counter.dynamodb()["TransactWriteItems"] / 10
                lines.append(f"PIN space {decile * 10:>2}-{decile * 10 + 9} % full: {tx:.2f} transactions per room, "
                             f"{refused} refused")
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()
    return lines
