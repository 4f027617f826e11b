"""Recording logic that needs no stack: derived status, ids and keys, EgressInfo reading, the S3 handler."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from livekit.protocol import egress as pe

from rooms.livekit_gateway.egress_service import egress_state
from rooms.recordings.record import is_running, processing_status, recording_id_for_egress, room_id_of
from rooms.recordings.storage import lifecycle_configuration, looks_like_mp4, object_key, parse_object_key
from rooms.settings import Settings
from rooms.store.recordings import RecordingItem
from rooms_local.config import EVENTS_DIR
from rooms_local.lambda_runtime import LambdaContext, load_function

ROOM = "845ff577-d09f-5c6b-a0b1-e36b187b643b"
NOW = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)


def rec(**facts) -> RecordingItem:
    return RecordingItem("ROOM#r", "REC#x", recording_id=f"{ROOM}.000000000000", room_id=ROOM, **facts)


@pytest.mark.parametrize(("facts", "status"), [
    ({}, "pending"),
    ({"egress_status": "active"}, "pending"),
    ({"egress_status": "ending"}, "pending"),
    ({"egress_status": "complete"}, "processing"),
    ({"egress_status": "limit_reached"}, "processing"),
    ({"egress_status": "failed"}, "failed"),
    ({"egress_status": "aborted"}, "empty"),  # nobody published: LiveKit aborts, no file, not a failure
    ({"start_failed_at": "t"}, "failed"),
    ({"egress_status": "complete", "upload_missing_at": "t"}, "failed"),
    ({"egress_status": "complete", "object_error": "not an MP4"}, "failed"),
    # the verified upload wins, whichever fact came first
    ({"object_verified_at": "t"}, "available"),
    ({"object_verified_at": "t", "egress_status": "active"}, "available"),
    ({"object_verified_at": "t", "egress_status": "failed"}, "available"),
])
def test_processing_status_is_derived_from_facts(facts, status):
    assert processing_status(rec(**facts)) == status


def test_running_covers_a_start_in_flight_but_not_forever():
    assert is_running(rec(egress_status="active"), NOW)
    assert not is_running(rec(egress_status="active", object_verified_at="t"), NOW)
    assert is_running(rec(created_at="2026-11-24T15:59:50Z"), NOW)
    assert not is_running(rec(created_at=(NOW - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")), NOW)
    assert not is_running(rec(egress_status="complete"), NOW)


def test_recording_ids_name_their_room_and_keys_name_both():
    rid = recording_id_for_egress(ROOM, "EG_abc")
    assert rid == recording_id_for_egress(ROOM, "EG_abc") != recording_id_for_egress(ROOM, "EG_abd")
    assert room_id_of(rid) == ROOM
    assert room_id_of("not-a-recording") is None and room_id_of(f"{ROOM}.xyz") is None
    settings = Settings(recordings_prefix="recordings/")
    key = object_key(ROOM, rid, settings)
    assert key == f"recordings/{ROOM}/{rid}.mp4"
    assert parse_object_key(key, settings) == (ROOM, rid)
    assert parse_object_key(f"other/{ROOM}/{rid}.mp4", settings) is None
    assert parse_object_key(f"recordings/{ROOM}/x/{rid}.mp4", settings) is None


def test_egress_info_is_read_in_nanoseconds_with_its_file_and_path():
    info = pe.EgressInfo(egress_id="EG_1", room_name="r", status=pe.EGRESS_COMPLETE, started_at=10**18,
                         ended_at=10**18 + 5 * 10**9, error="")
    info.room_composite.file_outputs.add(filepath="recordings/r/r.0123456789ab.mp4")
    info.file_results.add(filename="recordings/r/r.0123456789ab.mp4", size=725, duration=5 * 10**9,
                          location="s3://b/k")
    state = egress_state(info)
    assert (state.status, state.rank, state.running) == ("complete", 4, False)
    assert state.filepaths == ("recordings/r/r.0123456789ab.mp4",)
    assert state.files[0].size == 725 and state.files[0].duration_ns == 5 * 10**9
    legacy = pe.EgressInfo(egress_id="EG_2", status=pe.EGRESS_ACTIVE)
    legacy.file.filename = "old.mp4"
    assert egress_state(legacy).files[0].filename == "old.mp4" and egress_state(legacy).running


def test_mp4_signature_and_lifecycle_rule():
    assert looks_like_mp4(b"\x00\x00\x00\x18ftypisom") and not looks_like_mp4(b"<html>")
    rule = lifecycle_configuration(Settings(recordings_archive_days=45))["Rules"][0]
    assert rule["Filter"] == {"Prefix": "recordings/"}
    assert rule["Transitions"] == [{"Days": 45, "StorageClass": "GLACIER_IR"}]


def test_processor_url_decodes_every_record_and_skips_other_events(monkeypatch):
    module = load_function("recording_processor")
    seen = []
    monkeypatch.setattr(module, "process_uploaded_object",
                        lambda bucket, key, now, settings: seen.append((bucket, key)) or "available")
    event = json.loads((EVENTS_DIR / "s3_recording_put.json").read_text())
    first = event["Records"][0]
    second = json.loads(json.dumps(first))
    second["s3"]["object"]["key"] = "recordings/room+one/room+one.0123456789ab.mp4%3F"
    removed = json.loads(json.dumps(first))
    removed["eventName"] = "ObjectRemoved:Delete"
    event["Records"] = [first, second, removed]
    result = module.handler(event, LambdaContext("recording_processor"))
    assert seen == [("rooms-recordings-local", first["s3"]["object"]["key"]),
                    ("rooms-recordings-local", "recordings/room one/room one.0123456789ab.mp4?")]
    assert [p["outcome"] for p in result["processed"]] == ["available", "available"]
