"""Retention through the due index, legal holds, and user erasure (issue 18), on the local stack.

The retention test ends its rooms by the sweeper on a far-future day of its own (like test_sweeper), so
the retention deadlines it sweeps for belong to its rooms alone.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import time
import uuid
from datetime import UTC, datetime, timedelta

import boto3

from rooms.clock import iso
from rooms.room.ids import room_id_for_session
from rooms_local.livekit_emulator import control
from rooms_local.schedules import schedule_event
from tests import livekit_webhooks as lw
from tests.attendance_support import joined, left, participant

DAY = timedelta(days=1)
EXPORT_KEY = b"local-evidence-signing-key"


def sweep(stack, now: datetime) -> dict:
    return stack.runner.invoke("room_sweeper", schedule_event(now))


def _kinds(room_id: str) -> dict[str, int]:
    from rooms import store

    store.bind()
    counts: dict[str, int] = {}
    for item in store.TableItem.query(f"ROOM#{room_id}", consistent_read=True):
        counts[type(item).__name__] = counts.get(type(item).__name__, 0) + 1
    return counts


def _token(api, room_id: str, user: str) -> str:
    r = api.call("POST", f"/rooms/{room_id}/token", as_user=user)
    assert r.status_code == 200, r.text
    return r.json()["token"]


def _session_room(api, ids, start: datetime, tag: str) -> dict:
    r = api.admin("POST", "/rooms", json={
        "service_session_id": f"{ids['session']}-{tag}", "room_type": "workshop", "waiting_room": False,
        "host": {"user_id": ids["host"]}, "members": [{"user_id": ids["client"]}],
        "scheduled_start": start.isoformat(), "scheduled_end": (start + timedelta(hours=1)).isoformat(),
    })
    assert r.status_code == 201, r.text
    return r.json()


def _recording(api, stack, room_id: str, host: str) -> dict:
    lk = stack.config.livekit_url
    started = api.call("POST", f"/rooms/{room_id}/recordings", as_user=host)
    assert started.status_code == 200, started.text
    rec_id = started.json()["recording_id"]
    assert api.call("POST", f"/rooms/{room_id}/recordings/{rec_id}/stop", as_user=host).status_code == 200
    control.drain_webhooks(lk)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rec = next(r for r in api.call("GET", f"/rooms/{room_id}/recordings", as_user=host).json()["recordings"]
                   if r["recording_id"] == rec_id)
        if rec["status"] == "available":
            return rec
        time.sleep(0.2)
    raise AssertionError("recording never became available")


def test_retention_deletes_on_schedule_and_a_legal_hold_stops_it(api, stack, ids):
    lk = stack.config.livekit_url
    # A random week of 2070..2089 (a room is scheduled inside the service's 2000..2100 window; the sweeps
    # that follow run years later, and those are clock times, not scheduled ones).
    start = datetime(2070, 1, 1, 10, tzinfo=UTC) + timedelta(days=random.randrange(1000) * 7)
    s3 = boto3.client("s3", endpoint_url=stack.config.moto_url, region_name=stack.config.region)
    bucket = stack.config.recordings_bucket
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    kept, held = _session_room(api, ids, start, "kept"), _session_room(api, ids, start, "held")
    sweep(stack, start - timedelta(minutes=15))  # opens both
    recs = {}
    for room in (kept, held):
        rid = room["room_id"]
        control.join(lk, _token(api, rid, ids["host"]), publish=["audio"])
        # (quality samples come from members who connected: the host just did)
        assert api.call("POST", f"/rooms/{rid}/quality", as_user=ids["host"],
                        json={"packet_loss_pct": 1.5}).status_code == 201
        recs[rid] = _recording(api, stack, rid, ids["host"])
    key = recs[kept["room_id"]]["storage"]["key"]
    s3.put_object(Bucket=bucket, Key=key, Body=b"\x00\x00\x00\x18ftypmp42 second version")  # a 2nd version
    assert len(s3.list_object_versions(Bucket=bucket, Prefix=key)["Versions"]) == 2

    end = start + timedelta(hours=1, minutes=30)
    assert sweep(stack, end).get("ended") == 2
    hold = api.admin("PUT", f"/rooms/{held['room_id']}/legal-hold", json={"reason": "chargeback 4711"})
    assert hold.status_code == 200, hold.text
    from rooms.store import retention as retention_store

    assert hold.json()["held"] and hold.json()["retention_due"]["quality"] == iso(end + 90 * DAY)
    assert retention_store.get(held["room_id"]).gsi1pk is None  # out of the due index while held
    assert api.call("PUT", f"/rooms/{held['room_id']}/legal-hold", as_user=ids["host"],
                    json={"reason": "x"}).status_code == 403
    from rooms.store import audit as audit_store

    assert all(e.ttl is None for e in audit_store.list_audit(held["room_id"]))  # TTL stripped under the hold
    held_before = _kinds(held["room_id"])
    kept_before = _kinds(kept["room_id"])
    assert kept_before["QualityItem"] == 1 and kept_before["SegmentItem"] >= 1 and kept_before["RecordingItem"] == 1
    due = api.admin("GET", f"/rooms/{kept['room_id']}/legal-hold").json()["retention_due"]
    assert due == {"quality": iso(end + 90 * DAY), "recordings": iso(end + 365 * DAY),
                   "attendance": iso(end + 2190 * DAY), "audit": iso(end + 2190 * DAY)}

    assert sweep(stack, end + 89 * DAY).get("retention_quality") is None  # not yet
    assert sweep(stack, end + 90 * DAY)["retention_quality"] == 1
    after = _kinds(kept["room_id"])
    assert "QualityItem" not in after and after["RecordingItem"] == 1 and after["SegmentItem"] >= 1

    assert sweep(stack, end + 365 * DAY)["retention_recordings"] == 1
    after = _kinds(kept["room_id"])
    assert "RecordingItem" not in after and after["SegmentItem"] >= 1
    listing = s3.list_object_versions(Bucket=bucket, Prefix=key)
    assert listing.get("Versions", []) == [] and listing.get("DeleteMarkers", []) == []  # every version

    report = sweep(stack, end + 2190 * DAY)
    assert (report["retention_attendance"], report["retention_audit"]) == (1, 1)
    after = _kinds(kept["room_id"])
    assert set(after) <= {"RoomItem", "RetentionItem", "JoinTokenRecord", "Member", "ActiveRecording"}, after
    assert _kinds(held["room_id"]) == held_before  # the hold kept everything, through every deadline
    blocked = api.admin("DELETE", f"/recordings/{recs[held['room_id']]['recording_id']}")
    assert blocked.status_code == 409 and blocked.json()["code"] == "legal_hold"

    released = api.admin("DELETE", f"/rooms/{held['room_id']}/legal-hold")
    assert released.status_code == 200 and not released.json()["held"]
    assert all(e.ttl is not None for e in audit_store.list_audit(held["room_id"]))  # TTL restored
    # back in the due index at its earliest pending deadline (or at once, for deadlines already past)
    assert retention_store.get(held["room_id"]).gsi1sk.startswith(iso(end + 90 * DAY))
    assert sweep(stack, end + 90 * DAY)["retention_quality"] == 1
    assert sweep(stack, end + 365 * DAY)["retention_recordings"] == 1
    report = sweep(stack, end + 2190 * DAY)
    assert (report["retention_attendance"], report["retention_audit"]) == (1, 1)
    assert set(_kinds(held["room_id"])) <= {"RoomItem", "RetentionItem", "JoinTokenRecord", "Member", "ActiveRecording"}
    held_key = recs[held["room_id"]]["storage"]["key"]
    assert s3.list_object_versions(Bucket=bucket, Prefix=held_key).get("Versions", []) == []


# --- erasure ---------------------------------------------------------------------------------------------


def _raw_items(table, **query) -> list[dict]:
    items, kwargs = [], dict(query)
    while True:
        page = table.query(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def test_a_user_erasure_leaves_no_item_of_theirs(api, stack, ids):
    host, client = ids["host"], ids["client"]
    rooms = []
    for tag in ("a", "b", "held"):
        r = api.admin("POST", "/rooms", json={
            "booking_id": f"{ids['booking']}-{tag}", "room_type": "workshop", "waiting_room": False,
            "host": {"user_id": host}, "members": [] if tag == "b" else [{"user_id": client}],
        })
        assert r.status_code == 201, r.text
        rooms.append(r.json())
    a, b, held = rooms
    assert api.admin("PUT", f"/rooms/{b['room_id']}/members/{client}", json={"role": "participant"}).status_code == 201
    event_ids = []
    for room in (a, held):
        rid, name = room["room_id"], room["livekit_room"]
        _token(api, rid, client)
        assert api.call("POST", f"/rooms/{rid}/recording-consent", as_user=client).status_code == 200
        t0 = int(time.time()) - 1200
        h, c = participant(host, f"PA_h{rid[:6]}", t0, role="host"), participant(client, f"PA_c{rid[:6]}", t0 + 5)
        for ev in (joined(name, h), joined(name, c), left(name, c, t0 + 900), left(name, h, t0 + 905)):
            assert lw.deliver(stack.config.webhook_url, ev).status_code == 200
            event_ids.append(ev.id)
        # (quality samples come from members who connected)
        assert api.call("POST", f"/rooms/{rid}/quality", as_user=client, json={"rtt_ms": 80}).status_code == 201
    assert api.call("POST", f"/rooms/{b['room_id']}/token", as_user=client).status_code == 200
    assert api.admin("DELETE", f"/rooms/{a['room_id']}").status_code == 200
    billed = next(p for p in api.admin("GET", f"/rooms/{a['room_id']}/attendance").json()["participants"]
                  if p["identity"] == client)
    assert api.admin("PUT", f"/rooms/{held['room_id']}/legal-hold", json={"reason": "subpoena"}).status_code == 200
    # a booking event about them, kept for a session room that does not exist yet (PendingBookingEvent)
    pending_session = f"{ids['session']}-not-yet"
    pending_room = room_id_for_session(pending_session)
    bus = boto3.client("events", endpoint_url=stack.config.moto_url, region_name=stack.config.region)
    put = bus.put_events(Entries=[{
        "Source": "booking-platform", "DetailType": "Attendee Confirmed", "EventBusName": stack.config.event_bus_name,
        "Detail": json.dumps({"service_session_id": pending_session, "user_id": client, "name": "Clara Oswald"})}])
    assert stack.booking_events.wait(put["Entries"][0]["EventId"]) == {"outcome": "kept_until_room_exists"}
    assert _kinds(pending_room) == {"PendingBookingEvent": 1}

    denied = api.call("DELETE", f"/users/{client}/data", as_user=client)
    assert denied.status_code == 403
    r = api.admin("DELETE", f"/users/{client}/data")
    assert r.status_code == 200, r.text
    report = r.json()
    by_room = {x["room_id"]: x for x in report["rooms"]}
    assert {rid: x["outcome"] for rid, x in by_room.items()} == {
        a["room_id"]: "erased", b["room_id"]: "erased", held["room_id"]: "held", pending_room: "missing"}
    assert by_room[pending_room]["deleted"] == {"PendingBookingEvent": 1}
    assert report["complete"] is False
    assert by_room[a["room_id"]]["deleted"] == {"Member": 1, "JoinTokenRecord": 1, "RecordingConsent": 1,
                                                 "QualityItem": 1}
    assert by_room[a["room_id"]]["pseudonymised"]["SegmentItem"] == 1
    # the proof: signed like the export, naming the person by a keyed digest only
    proof_doc = {k: report[k] for k in ("erasure_id", "at", "subject_digest", "rooms")} | {"actor": "platform-backend"}
    body = json.dumps(proof_doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert hashlib.sha256(body).hexdigest() == report["sha256"]
    assert hmac.new(EXPORT_KEY, body, hashlib.sha256).hexdigest() == report["signature"]["value"]
    assert report["subject_digest"] == hmac.new(EXPORT_KEY, client.encode(), hashlib.sha256).hexdigest()

    # billing evidence survives under the pseudonym
    after = api.admin("GET", f"/rooms/{a['room_id']}/attendance").json()["participants"]
    pseudo = next(p for p in after if p["identity"].startswith("erased-"))
    assert (pseudo["billable_seconds"], pseudo["role"]) == (billed["billable_seconds"], "participant")

    # every key pattern of the store (rooms.store's key table), read as raw items
    table = boto3.resource("dynamodb", endpoint_url=stack.config.moto_url,
                           region_name=stack.config.region).Table(stack.config.table_name)
    from boto3.dynamodb.conditions import Key

    def mentions(items: list[dict]) -> list[dict]:
        return [i for i in items if client in json.dumps(i, default=str)]

    for room in (a, b):
        items = _raw_items(table, KeyConditionExpression=Key("pk").eq(f"ROOM#{room['room_id']}"))
        assert items and mentions(items) == [], mentions(items)
    # PENDING#{version}: the booking events kept for a room that does not exist yet
    assert mentions(_raw_items(table, KeyConditionExpression=Key("pk").eq(f"ROOM#{pending_room}"))) == []
    assert mentions(_raw_items(table, KeyConditionExpression=Key("pk").eq("TEMPLATE"))) == []
    links = _raw_items(table, KeyConditionExpression=Key("pk").eq(f"USER#{client}"))
    assert [i["sk"] for i in links] == [f"ROOM#{held['room_id']}"]  # only the held room is left to erase
    for event_id in event_ids:
        marker = table.get_item(Key={"pk": f"EVENT#{event_id}", "sk": "EVENT"}).get("Item")
        assert marker is not None and client not in json.dumps(marker, default=str)
    proof = table.get_item(Key={"pk": f"ERASURE#{report['erasure_id']}", "sk": "ERASURE"})["Item"]
    assert client not in json.dumps(proof, default=str) and proof["sha256"] == report["sha256"]
    for due_day in {datetime.now(UTC).date() - timedelta(days=d) for d in range(3)}:
        due = _raw_items(table, IndexName="gsi1", KeyConditionExpression=Key("gsi1pk").eq(f"DUE#{due_day}"))
        assert mentions([i for i in due if i["pk"] in (f"ROOM#{a['room_id']}", f"ROOM#{b['room_id']}")]) == []
    assert mentions(_raw_items(table, KeyConditionExpression=Key("pk").eq(f"ROOM#{held['room_id']}")))  # kept
    audit = api.admin("GET", f"/rooms/{a['room_id']}/audit").json()["entries"]
    assert audit[-1]["action"] == "user.erased" and audit[-1]["target"] == pseudo["identity"]

    # once the hold is released, erasing again finishes the job
    assert api.admin("DELETE", f"/rooms/{held['room_id']}/legal-hold").status_code == 200
    again = api.admin("DELETE", f"/users/{client}/data").json()
    assert [(x["room_id"], x["outcome"]) for x in again["rooms"]] == [(held["room_id"], "erased")]
    assert again["complete"] is True
    assert mentions(_raw_items(table, KeyConditionExpression=Key("pk").eq(f"ROOM#{held['room_id']}"))) == []
    assert _raw_items(table, KeyConditionExpression=Key("pk").eq(f"USER#{client}")) == []
    assert uuid.UUID(again["erasure_id"])
