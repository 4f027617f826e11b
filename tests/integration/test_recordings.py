"""Recordings end to end on the local stack: host start/stop through LiveKit egress (emulator),
egress webhooks and the S3 object-created event in both orders, presigned URLs fetched from moto,
access rules, compliance, consent, failures, deletion and room-end reconciliation."""

from __future__ import annotations

import json
import time
import uuid

import boto3
import pytest
import requests

from rooms_local.livekit_emulator import control
from tests import livekit_webhooks as lw

VOLATILE = {"recording_id", "room_id", "created_at", "started_at", "ended_at", "available_at", "archive_at",
            "egress_id", "started_by", "stop_requested_at", "storage", "checksum", "duration_seconds"}


@pytest.fixture
def s3_events(stack):
    """S3 object-created events delivered only when the test says so (controls their order)."""
    stack.s3_events.paused = True
    try:
        yield stack.s3_events
    finally:
        stack.s3_events.paused = False


@pytest.fixture
def devserver(stack):
    url = stack.config.livekit_url
    yield url
    control.configure(url, fail_egress=False, hold_webhooks=False)
    control.flush_webhooks(url)


@pytest.fixture(scope="module")
def available_events(stack):
    """An SQS queue receiving the "Recording Available" events from EventBridge (moto)."""
    kw = {"endpoint_url": stack.config.moto_url, "region_name": stack.config.region}
    sqs, events = boto3.client("sqs", **kw), boto3.client("events", **kw)
    queue = sqs.create_queue(QueueName=f"rec-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=f"rec-available-{uuid.uuid4().hex[:6]}",
                    EventPattern=json.dumps({"source": ["rooms"], "detail-type": ["Recording Available"]}))
    rule = events.list_rules()["Rules"][-1]["Name"]
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": arn}])

    def received(recording_id: str, timeout: float = 5.0) -> list[dict]:
        found, deadline = [], time.monotonic() + timeout
        while time.monotonic() < deadline:
            for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", []):
                body = json.loads(m["Body"])
                if body["detail"].get("recording_id") == recording_id:
                    found.append(body)
            if found:
                return found
            time.sleep(0.1)
        return found

    return received


def _template(api, **fields) -> str:
    name = f"rec-{uuid.uuid4().hex[:8]}"
    body = {"room_type": "workshop", "max_participants": 10, "max_participants_limit": 20, "recording": "optional",
            **fields}
    r = api.admin("PUT", f"/templates/{name}", json=body)
    assert r.status_code == 200, r.text
    return name


def _live_room(api, stack, ids, *, template: str, client_joins: bool = True, **extra) -> dict:
    """A session room with host and client, opened in LiveKit by the host's token, both connected."""
    r = api.admin("POST", "/rooms", json={
        "service_session_id": ids["session"], "template": template, "waiting_room": False,
        "host": {"user_id": ids["host"], "name": "Dr Who"},
        "members": [{"user_id": ids["client"], "role": "participant"}], **extra,
    })
    assert r.status_code == 201, r.text
    room = r.json()
    host_token = api.call("POST", f"/rooms/{room['room_id']}/token", as_user=ids["host"]).json()["token"]
    control.join(stack.config.livekit_url, host_token, publish=["audio", "video"])
    if client_joins:
        client_token = api.call("POST", f"/rooms/{room['room_id']}/token", as_user=ids["client"]).json()["token"]
        control.join(stack.config.livekit_url, client_token, publish=["audio"])
    return room


def _recordings(api, room_id: str, user: str) -> list[dict]:
    r = api.call("GET", f"/rooms/{room_id}/recordings", as_user=user)
    assert r.status_code == 200, r.text
    return r.json()["recordings"]


def _start(api, room_id: str, host: str) -> dict:
    r = api.call("POST", f"/rooms/{room_id}/recordings", as_user=host)
    assert r.status_code == 200, r.text
    return r.json()


def _stable(view: dict) -> dict:
    return {k: v for k, v in view.items() if k not in VOLATILE}


def test_manual_recording_webhooks_then_s3_event_then_url(api, stack, ids, s3_events, devserver,
                                                          available_events, capsys):
    room = _live_room(api, stack, ids, template=_template(api))
    room_id, host = room["room_id"], ids["host"]
    started = _start(api, room_id, host)
    assert started["trigger"] == "manual" and started["status"] == "pending"
    assert started["egress_id"].startswith("EG_") and started["recording_id"].startswith(room_id + ".")
    assert started["storage"]["key"] == f"recordings/{room_id}/{started['recording_id']}.mp4"
    again = api.call("POST", f"/rooms/{room_id}/recordings", as_user=host)
    assert again.status_code == 409 and again.json()["code"] == "recording_running"
    assert api.call("POST", f"/rooms/{room_id}/recordings", as_user=ids["client"]).status_code == 403

    time.sleep(1.1)  # the simulated session
    stop = api.call("POST", f"/rooms/{room_id}/recordings/{started['recording_id']}/stop", as_user=host)
    assert stop.status_code == 200, stop.text
    control.drain_webhooks(devserver)
    (rec,) = _recordings(api, room_id, host)
    assert (rec["status"], rec["egress_status"]) == ("processing", "complete")
    assert rec["duration_seconds"] >= 1 and rec["size_bytes"] > 0 and rec["ended_at"]

    # no URL before the upload is verified
    early = api.call("GET", f"/recordings/{rec['recording_id']}/url", as_user=host)
    assert early.status_code == 409 and early.json()["code"] == "recording_not_available"

    result = s3_events.deliver(rec["storage"]["key"])
    assert result["processed"] == [{"key": rec["storage"]["key"], "outcome": "available"}]
    s3 = boto3.client("s3", endpoint_url=stack.config.moto_url, region_name=stack.config.region)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=stack.config.recordings_bucket,
                                                 Prefix=f"recordings/{room_id}/")["Contents"]]
    assert keys == [rec["storage"]["key"]]  # disable_manifest: no <EG_id>.json next to it
    assert s3_events.deliver(rec["storage"]["key"])["processed"][0]["outcome"] == "already_available"
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    assert sum(1 for m in emitted if "RecordingsAvailable" in m) == 1  # once, though S3 delivered twice
    (rec,) = _recordings(api, room_id, host)
    assert rec["status"] == "available" and rec["content_type"] == "video/mp4" and rec["checksum"]
    assert rec["archive_at"] > rec["available_at"] and rec["archived"] is False

    (event,) = available_events(rec["recording_id"])
    assert event["detail"]["room_id"] == room_id
    assert event["detail"]["access"]["practitioners"] == [host] and event["detail"]["access"]["clients"] == []

    url = api.call("GET", f"/recordings/{rec['recording_id']}/url", as_user=host)
    assert url.status_code == 200, url.text
    body = url.json()
    assert body["disposition"] == "attachment" and body["expires_at"] > rec["available_at"]
    assert "X-Amz-Expires=300" in body["url"]
    fetched = requests.get(body["url"], timeout=10)
    assert fetched.status_code == 200 and fetched.content[4:8] == b"ftyp"
    assert len(fetched.content) == rec["size_bytes"]
    assert fetched.headers["content-disposition"].startswith("attachment")

    for who in (ids["client"], ids["other"]):
        denied = api.call("GET", f"/recordings/{rec['recording_id']}/url", as_user=who)
        assert denied.status_code == 403, denied.text
    assert _recordings(api, room_id, ids["client"]) == []  # clients see nothing in this room
    assert api.call("GET", f"/rooms/{room_id}/recordings", as_user=ids["other"]).status_code == 403


def test_s3_event_and_egress_ended_meet_whatever_their_order(api, stack, ids, s3_events, devserver):
    template = _template(api)
    finals = []
    for order in ("webhook_first", "s3_first"):
        ids = {**ids, "session": f"{ids['session']}-{order}"}
        room = _live_room(api, stack, ids, template=template)
        rec = _start(api, room["room_id"], ids["host"])
        control.drain_webhooks(devserver)
        control.configure(devserver, hold_webhooks=True)
        api.call("POST", f"/rooms/{room['room_id']}/recordings/{rec['recording_id']}/stop", as_user=ids["host"])
        key = rec["storage"]["key"]
        if order == "webhook_first":
            control.configure(devserver, hold_webhooks=False)
            control.flush_webhooks(devserver)
            assert _recordings(api, room["room_id"], ids["host"])[0]["status"] == "processing"
            assert s3_events.deliver(key)["processed"][0]["outcome"] == "available"
        else:
            assert s3_events.deliver(key)["processed"][0]["outcome"] == "available"
            mid = _recordings(api, room["room_id"], ids["host"])[0]
            assert mid["status"] == "available" and mid["egress_status"] == "active"
            control.configure(devserver, hold_webhooks=False)
            control.flush_webhooks(devserver, duplicate=True)
        (final,) = _recordings(api, room["room_id"], ids["host"])
        assert final["status"] == "available" and final["egress_status"] == "complete"
        assert final["duration_seconds"] is not None and final["ended_at"]
        finals.append(_stable(final))
    assert finals[0] == finals[1]


def test_automatic_notifications_make_a_recording_available(api, stack, ids, devserver):
    room = _live_room(api, stack, ids, template=_template(api), client_joins=False)
    rec = _start(api, room["room_id"], ids["host"])
    api.call("POST", f"/rooms/{room['room_id']}/recordings/{rec['recording_id']}/stop", as_user=ids["host"])
    # The S3 event and egress_ended arrive in either order: wait for both facts, not just the first.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        (view,) = _recordings(api, room["room_id"], ids["host"])
        if view["status"] == "available" and view["egress_status"] == "complete":
            break
        time.sleep(0.2)
    assert view["status"] == "available" and view["egress_status"] == "complete"


def test_compliance_recording_starts_with_the_room_and_cannot_be_stopped(api, stack, ids, s3_events, devserver):
    room = _live_room(api, stack, ids, template=_template(api, recording="compliance"), client_joins=False)
    control.drain_webhooks(devserver)
    (rec,) = _recordings(api, room["room_id"], ids["host"])
    assert rec["trigger"] == "compliance" and rec["egress_status"] == "active" and rec["status"] == "pending"
    assert rec["recording_id"].startswith(room["room_id"] + ".")
    stop = api.call("POST", f"/rooms/{room['room_id']}/recordings/{rec['recording_id']}/stop", as_user=ids["host"])
    assert stop.status_code == 409 and stop.json()["code"] == "recording_compliance"
    again = api.call("POST", f"/rooms/{room['room_id']}/recordings", as_user=ids["host"])
    assert again.status_code == 409 and again.json()["code"] == "recording_running"
    assert again.json()["egress_id"] == rec["egress_id"]

    # The room ends: its egress ends and uploads; reconciliation (ListEgress) and the upload check make it
    # available even though no S3 event was delivered (they are paused here).
    assert api.admin("DELETE", f"/rooms/{room['room_id']}").status_code == 200
    (rec,) = _recordings(api, room["room_id"], ids["host"])
    assert rec["egress_status"] == "complete" and rec["status"] == "available"
    deleted = api.call("DELETE", f"/recordings/{rec['recording_id']}", as_user=ids["host"])
    assert deleted.status_code == 403 and deleted.json()["code"] == "recording_compliance"


def test_automatic_recording_of_a_course_for_enrolled_members(api, stack, ids, s3_events, devserver):
    template = _template(api, recording="automatic", clients_can_access_recordings=True,
                         recording_downloads_enabled=False)
    room = _live_room(api, stack, ids, template=template, recording_access_until="2999-01-01T00:00:00Z")
    control.drain_webhooks(devserver)
    (rec,) = _recordings(api, room["room_id"], ids["host"])
    assert rec["trigger"] == "automatic"
    assert _recordings(api, room["room_id"], ids["client"]) == []  # not available yet
    stop = api.call("POST", f"/rooms/{room['room_id']}/recordings/{rec['recording_id']}/stop", as_user=ids["host"])
    assert stop.status_code == 200, stop.text
    control.drain_webhooks(devserver)
    s3_events.deliver(rec["storage"]["key"])
    (seen,) = _recordings(api, room["room_id"], ids["client"])
    assert seen["status"] == "available" and seen["storage"] is None and seen["egress_id"] is None
    assert seen["downloads_enabled"] is False and seen["access_until"] == "2999-01-01T00:00:00Z"
    url = api.call("GET", f"/recordings/{rec['recording_id']}/url", as_user=ids["client"])
    assert url.status_code == 200 and url.json()["disposition"] == "inline"
    fetched = requests.get(url.json()["url"], timeout=10)
    assert fetched.status_code == 200 and fetched.headers["content-disposition"] == "inline"
    assert api.call("GET", f"/recordings/{rec['recording_id']}/url", as_user=ids["host"]).json()["disposition"] == (
        "attachment")


def test_course_access_ends_for_members_not_for_the_practitioner(api, stack, ids, s3_events, devserver):
    template = _template(api, clients_can_access_recordings=True)
    room = _live_room(api, stack, ids, template=template, recording_access_until="2020-01-01T00:00:00Z")
    rec = _start(api, room["room_id"], ids["host"])
    api.call("POST", f"/rooms/{room['room_id']}/recordings/{rec['recording_id']}/stop", as_user=ids["host"])
    control.drain_webhooks(devserver)
    s3_events.deliver(rec["storage"]["key"])
    gone = api.call("GET", f"/recordings/{rec['recording_id']}/url", as_user=ids["client"])
    assert gone.status_code == 410 and gone.json()["code"] == "recording_access_expired"
    assert api.call("GET", f"/recordings/{rec['recording_id']}/url", as_user=ids["host"]).status_code == 200


def test_consent_gate_refuses_then_allows(api, stack, ids, devserver):
    room = _live_room(api, stack, ids, template=_template(api, recording_consent_required=True))
    refused = api.call("POST", f"/rooms/{room['room_id']}/recordings", as_user=ids["host"])
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "recording_consent_missing" and refused.json()["missing"] == [ids["client"]]
    assert ids["client"] in refused.json()["message"]
    assert api.call("POST", f"/rooms/{room['room_id']}/recording-consent", as_user=ids["other"]).status_code == 403
    consent = api.call("POST", f"/rooms/{room['room_id']}/recording-consent", as_user=ids["client"])
    assert consent.status_code == 200 and consent.json()["consented"] is True
    started = api.call("POST", f"/rooms/{room['room_id']}/recordings", as_user=ids["host"])
    assert started.status_code == 200, started.text


def test_consent_can_be_withdrawn_before_a_start(api, stack, ids, devserver):
    room = _live_room(api, stack, ids, template=_template(api, recording_consent_required=True))
    api.call("POST", f"/rooms/{room['room_id']}/recording-consent", as_user=ids["client"])
    withdrawn = api.call("DELETE", f"/rooms/{room['room_id']}/recording-consent", as_user=ids["client"])
    assert withdrawn.status_code == 200 and withdrawn.json()["consented"] is False
    refused = api.call("POST", f"/rooms/{room['room_id']}/recordings", as_user=ids["host"])
    assert refused.status_code == 409 and refused.json()["missing"] == [ids["client"]]


def test_recording_policy_none_and_rooms_not_running(api, stack, ids, booking_room):
    refused = api.call("POST", f"/rooms/{booking_room['room_id']}/recordings", as_user=ids["host"])
    assert refused.status_code == 409 and refused.json()["code"] == "recording_disabled"
    r = api.admin("POST", "/rooms", json={"service_session_id": ids["session"], "template": _template(api),
                                         "host": {"user_id": ids["host"]}})
    not_live = api.call("POST", f"/rooms/{r.json()['room_id']}/recordings", as_user=ids["host"])
    assert not_live.status_code == 409 and not_live.json()["code"] == "room_not_running"
    missing = api.call("GET", "/recordings/not-a-recording/url", as_user=ids["host"])
    assert missing.status_code == 404 and missing.json()["code"] == "recording_not_found"


def test_egress_failure_marks_the_recording_failed(api, stack, ids, s3_events, devserver, capsys):
    room = _live_room(api, stack, ids, template=_template(api), client_joins=False)
    control.configure(devserver, fail_egress=True)
    rec = _start(api, room["room_id"], ids["host"])
    api.call("POST", f"/rooms/{room['room_id']}/recordings/{rec['recording_id']}/stop", as_user=ids["host"])
    control.drain_webhooks(devserver)
    (view,) = _recordings(api, room["room_id"], ids["host"])
    assert (view["status"], view["egress_status"]) == ("failed", "failed")
    assert "fail_egress" in view["error"]
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    assert sum(m.get("RecordingFailures", [0])[0] for m in metrics if "RecordingFailures" in m) == 1
    url = api.call("GET", f"/recordings/{rec['recording_id']}/url", as_user=ids["host"])
    assert url.status_code == 409
    # a failed recording no longer blocks a new one
    control.configure(devserver, fail_egress=False)
    assert api.call("POST", f"/rooms/{room['room_id']}/recordings", as_user=ids["host"]).status_code == 200


def test_delete_removes_object_and_record_and_late_webhooks_do_not_revive_it(api, stack, ids, s3_events,
                                                                             devserver):
    room = _live_room(api, stack, ids, template=_template(api), client_joins=False)
    rec = _start(api, room["room_id"], ids["host"])
    control.configure(devserver, hold_webhooks=True)
    api.call("POST", f"/rooms/{room['room_id']}/recordings/{rec['recording_id']}/stop", as_user=ids["host"])
    s3_events.deliver(rec["storage"]["key"])
    deleted = api.call("DELETE", f"/recordings/{rec['recording_id']}", as_user=ids["host"])
    assert deleted.status_code == 200 and deleted.json()["deleted"] is True
    s3 = boto3.client("s3", endpoint_url=stack.config.moto_url, region_name=stack.config.region)
    listed = s3.list_objects_v2(Bucket=stack.config.recordings_bucket, Prefix=rec["storage"]["key"])
    assert listed.get("KeyCount", 0) == 0
    control.configure(devserver, hold_webhooks=False)
    control.flush_webhooks(devserver)  # the held egress_updated / egress_ended arrive after the delete
    assert _recordings(api, room["room_id"], ids["host"]) == []
    assert s3_events.deliver(rec["storage"]["key"])["processed"][0]["outcome"] == "missing"
    again = api.call("DELETE", f"/recordings/{rec['recording_id']}", as_user=ids["host"])
    assert again.status_code == 404


def test_room_end_reconciles_a_recording_whose_egress_ended_was_dropped(api, stack, ids, s3_events, devserver):
    room = _live_room(api, stack, ids, template=_template(api), client_joins=False)
    _start(api, room["room_id"], ids["host"])
    control.drain_webhooks(devserver)
    control.configure(devserver, webhook_urls=[])  # LiveKit's webhooks are lost from here on
    try:
        assert api.admin("DELETE", f"/rooms/{room['room_id']}").status_code == 200
    finally:
        control.configure(devserver, webhook_urls=[stack.config.webhook_url])
    (view,) = _recordings(api, room["room_id"], ids["host"])
    assert view["egress_status"] == "complete" and view["status"] == "available" and view["duration_seconds"] >= 0


def test_a_late_egress_started_does_not_move_a_recording_back(api, stack, ids, s3_events, devserver):
    room = _live_room(api, stack, ids, template=_template(api), client_joins=False)
    rec = _start(api, room["room_id"], ids["host"])
    api.call("POST", f"/rooms/{room['room_id']}/recordings/{rec['recording_id']}/stop", as_user=ids["host"])
    control.drain_webhooks(devserver)
    from livekit.protocol.egress import EGRESS_STARTING, EgressInfo

    late = lw.event("egress_started", egress_info=EgressInfo(
        egress_id=rec["egress_id"], room_name=room["livekit_room"], status=EGRESS_STARTING))
    assert lw.deliver(stack.config.webhook_url, late).json()["outcome"] == "stale"
    (view,) = _recordings(api, room["room_id"], ids["host"])
    assert view["egress_status"] == "complete"


def test_concurrent_starts_give_one_recording(api, stack, ids, devserver):
    from concurrent.futures import ThreadPoolExecutor

    room = _live_room(api, stack, ids, template=_template(api), client_joins=False)
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: api.call("POST", f"/rooms/{room['room_id']}/recordings",
                                                   as_user=ids["host"]), range(4)))
    assert sorted(a.status_code for a in answers) == [200, 409, 409, 409], [a.text for a in answers]
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"recording_running"}
    control.drain_webhooks(devserver)
    assert len(_recordings(api, room["room_id"], ids["host"])) == 1
    active = [e for e in control.state(devserver)["egress"]
              if e.get("roomName") == room["livekit_room"] and e.get("status") == "EGRESS_ACTIVE"]
    assert len(active) == 1
