"""The sweeper's cost grows with the rooms due, not the rooms stored.

100,000 rooms are written straight into the table (BatchWriteItem, 25 per call, a few threads): most
ended long ago (not in the due index), many scheduled for later (in the index, not yet due), and 10
due now: 5 to open, 5 to end (2 of them no-shows, whose members are read to name who was absent).
Then one sweep runs with every botocore call counted: the DynamoDB items it read, its round trips,
and whether any Scan was issued. LiveKit's webhooks are not delivered during the sweep, so the count
is the sweep's own.
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from rooms_local.bench.common import AwsCallCounter
from rooms_local.schedules import schedule_event

STORED = 100_000
TO_OPEN = 5
TO_END_ATTENDED = 3
TO_END_NO_SHOW = 2
LATER_SHARE = 5  # one room in LATER_SHARE is scheduled for later (in the index, not due)


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _due(at: datetime, room_id: str) -> dict:
    return {"gsi1pk": {"S": f"DUE#{at:%Y-%m-%d}"}, "gsi1sk": {"S": f"{_iso(at)}#{room_id}"}}


def _room(room_id: str, *, status: str, start: datetime, created: datetime, due: datetime | None = None,
          opened: bool = False, attendees: list[str] | None = None, host: str | None = None) -> dict:
    item = {
        "pk": {"S": f"ROOM#{room_id}"}, "sk": {"S": "ROOM"}, "kind": {"S": "room"},
        "room_id": {"S": room_id}, "booking_id": {"S": f"bench-{room_id}"}, "service_type": {"S": "therapy"},
        "room_type": {"S": "individual"}, "template": {"S": "individual"}, "status": {"S": status},
        "max_participants": {"N": "2"}, "recording": {"S": "none"}, "waiting_room": {"BOOL": False},
        "attendee_role": {"S": "participant"}, "empty_timeout_seconds": {"N": "600"},
        "scheduled_start": {"S": _iso(start)}, "scheduled_end": {"S": _iso(start + timedelta(hours=1))},
        "livekit_room": {"S": room_id}, "created_at": {"S": _iso(created)},
    }
    if host:
        item["host_user_id"] = {"S": host}
    if due is not None:
        item.update(_due(due, room_id))
    if opened:
        item["livekit_created_at"] = {"S": _iso(start - timedelta(minutes=15))}
        item["opened_at"] = item["livekit_created_at"]
    if status == "ended":
        item["ended_at"] = {"S": _iso(start + timedelta(hours=1))}
        item["settled_at"] = item["ended_at"]
    if attendees:
        item["attendee_ids"] = {"SS": attendees}
    return item


def _member(room_id: str, user_id: str, role: str, created: datetime) -> dict:
    return {"pk": {"S": f"ROOM#{room_id}"}, "sk": {"S": f"MEMBER#{user_id}"}, "kind": {"S": "member"},
            "room_id": {"S": room_id}, "user_id": {"S": user_id}, "role": {"S": role},
            "status": {"S": "active"}, "granted_at": {"S": _iso(created)}, "grants": {"N": "1"}}


def build_items(now: datetime) -> tuple[list[dict], int]:
    """(items to write, rooms among them)."""
    items: list[dict] = []
    created = now - timedelta(days=60)
    due_rooms = 0
    for i in range(TO_OPEN):  # start in 15 - i minutes: due to open now
        rid = f"bench-open-{i}-{uuid.uuid4().hex[:6]}"
        start = now + timedelta(minutes=15 - i)
        items.append(_room(rid, status="scheduled", start=start, created=created,
                           due=start - timedelta(minutes=15)))
        due_rooms += 1
    for i in range(TO_END_ATTENDED + TO_END_NO_SHOW):  # ended 1 h 30 min + i min ago, still open
        rid = f"bench-end-{i}-{uuid.uuid4().hex[:6]}"
        start = now - timedelta(hours=1, minutes=30 + i)
        host, client = f"host-{rid}", f"client-{rid}"
        attendees = [host, client] if i < TO_END_ATTENDED else None
        items.append(_room(rid, status="open", start=start, created=created, opened=True, host=host,
                           attendees=attendees, due=start + timedelta(hours=1, minutes=30)))
        items.append(_member(rid, host, "host", created))
        items.append(_member(rid, client, "participant", created))
        due_rooms += 1
    for i in range(STORED - due_rooms):
        rid = f"bench-{i:06d}-{uuid.uuid4().hex[:6]}"
        if i % LATER_SHARE == 0:  # scheduled later: today after now, and the next 30 days
            start = now + timedelta(minutes=30) + timedelta(minutes=(i * 7) % (30 * 24 * 60))
            items.append(_room(rid, status="scheduled", start=start, created=created,
                               due=start - timedelta(minutes=15)))
        else:  # ended and settled long ago: no due keys
            start = now - timedelta(days=1 + i % 50)
            items.append(_room(rid, status="ended", start=start, created=created, opened=True))
    return items, STORED


def write_items(table: str, items: list[dict], threads: int = 4) -> int:
    """BatchWriteItem in chunks of 25, retrying unprocessed items. Returns the number of calls.
    (moto serves from this process, one DynamoDB request at a time: its side of each call bounds the
    rate, so more threads or worker processes do not help.)"""
    import boto3

    client = boto3.client("dynamodb")
    chunks = [items[i:i + 25] for i in range(0, len(items), 25)]

    def put(chunk: list[dict]) -> int:
        calls = 0
        request = {table: [{"PutRequest": {"Item": item}} for item in chunk]}
        while request:
            calls += 1
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
        return calls

    with ThreadPoolExecutor(threads) as pool:
        return sum(pool.map(put, chunks))


def run(ctx) -> list[str]:
    from rooms_local.livekit_emulator import control

    config = ctx.stack.config
    now = datetime.now(UTC).replace(microsecond=0)
    lines = []
    items, rooms = build_items(now)
    in_index = sum(1 for item in items if "gsi1pk" in item)
    due = TO_OPEN + TO_END_ATTENDED + TO_END_NO_SHOW
    t0 = time.perf_counter()
    calls = write_items(config.table_name, items)
    lines.append(f"stored {rooms:,} rooms ({len(items):,} items in {calls:,} BatchWriteItem calls, "
                 f"{time.perf_counter() - t0:.0f} s against moto): {in_index:,} in the due index, {due} due now "
                 f"({TO_OPEN} to open, {TO_END_ATTENDED + TO_END_NO_SHOW} to end, {TO_END_NO_SHOW} of them no-shows)")

    # LiveKit's webhooks about the rooms the sweep opens and ends are not delivered meanwhile: handling
    # them is the webhook function's cost, not the sweep's.
    livekit = None if config.external_livekit_url else config.livekit_url
    if livekit:
        saved_urls = control.state(livekit)["config"]["webhook_urls"]
        control.configure(livekit, webhook_urls=[])
    counter = AwsCallCounter()
    t0 = time.perf_counter()
    try:
        with counter.installed():
            report = ctx.stack.runner.invoke("room_sweeper", schedule_event(now), timeout=600)
    finally:
        if livekit:
            control.configure(livekit, webhook_urls=saved_urls)
    sweep_seconds = time.perf_counter() - t0
    ddb = counter.dynamodb()
    read = sum(counter.items_read.values())
    scans = ddb.get("Scan", 0)
    lines.append(f"sweep report: {report} ({sweep_seconds:.0f} s: moto evaluates a GSI Query by walking the whole "
                 f"table, which DynamoDB does not)")
    lines.append(f"items read by one sweep: {read} for {report['due']} due rooms = {read / max(due, 1):.1f}x the due "
                 f"count (target <= 2x) {dict(counter.items_read)}")
    lines.append(f"  the due index (Query gsi1): {counter.items_read.get('Query gsi1', 0)} items; other Queries "
                 f"(members of the {report.get('no_show', 0)} no-show rooms; attendance, recordings of ended rooms): "
                 f"{counter.items_read.get('Query', 0)}; GetItem (each ended room read back after its release, for "
                 f"the attendance summary of Room Ended): {counter.items_read.get('GetItem', 0)}")
    lines.append(f"DynamoDB round trips: {sum(ddb.values())} {dict(ddb)}")
    events = {op: n for (_fn, svc, op), n in counter.calls.items() if svc == "events"}
    lines.append(f"EventBridge calls: {sum(events.values())} {events}")
    lines.append(f"Scan issued: {'YES' if scans else 'no'} ({scans} Scan calls)")
    return lines

