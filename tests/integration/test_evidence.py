"""Evidence over HTTP on the local stack: billable time and verdicts, the signed export, the audit trail
and the consent ledger (issue 18)."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime

from rooms_local.livekit_emulator import control
from tests import livekit_webhooks as lw
from tests.attendance_support import iso, joined, left, participant

T0 = 1_900_000_000
US_PSYCHOTHERAPY = [{"name": "90832", "min_minutes": 16, "max_minutes": 37},
                    {"name": "90834", "min_minutes": 38, "max_minutes": 52},
                    {"name": "90837", "min_minutes": 53}]
EXPORT_KEY = b"local-evidence-signing-key"  # rooms_local.config: the local stack's EVIDENCE_SIGNING_KEY


def _therapy_template(api) -> str:
    name = f"therapy-us-{uuid.uuid4().hex[:6]}"
    r = api.admin("PUT", f"/templates/{name}", json={
        "room_type": "individual", "max_participants": 2, "max_participants_limit": 2, "waiting_room": True,
        "attended_min_seconds": 300, "no_show_grace_minutes": 15, "billing_bands": US_PSYCHOTHERAPY,
    })
    assert r.status_code == 200, r.text
    return name


def _give_token(room_id: str, user_id: str, jti: str) -> None:
    """The member's live join token is ``jti`` (a waiting-room token, as POST .../token would record)."""
    from rooms import store

    store.bind()
    store.Member(*store.Member.key(room_id, user_id)).update(actions=[store.Member.token_jti.set(jti)])


def _scripted_session(api, stack, ids) -> dict:
    """A 35-minute therapy booking: the client waits 5 minutes in the waiting room (that connection
    ends when they come back admitted), drops after 10 minutes and is back 30 s later."""
    room = api.admin("POST", "/rooms", json={
        "booking_id": ids["booking"], "template": _therapy_template(api),
        "host": {"user_id": ids["host"]}, "members": [{"user_id": ids["client"]}],
        "scheduled_start": iso(T0), "scheduled_end": iso(T0 + 2100),
    }).json()
    name = room["livekit_room"]
    _give_token(room["room_id"], ids["client"], "JTI_waiting")
    host = participant(ids["host"], "PA_host", T0 - 60, role="host")
    c1 = participant(ids["client"], "PA_c1", T0, waiting=True, jti="JTI_waiting")
    c2 = participant(ids["client"], "PA_c2", T0 + 300)
    c3 = participant(ids["client"], "PA_c3", T0 + 930)
    for ev in (lw.event("room_started", room_name=name, created_at=T0 - 120), joined(name, host), joined(name, c1),
               left(name, c1, T0 + 300), joined(name, c2), left(name, c2, T0 + 900), joined(name, c3),
               left(name, c3, T0 + 2090), left(name, host, T0 + 2095),
               lw.event("room_finished", room_name=name, created_at=T0 + 2110)):
        assert lw.deliver(stack.config.webhook_url, ev).status_code == 200
    return room


def test_billable_seconds_exclude_the_waiting_room_and_count_a_reconnect_once(api, stack, ids):
    room = _scripted_session(api, stack, ids)
    r = api.call("GET", f"/rooms/{room['room_id']}/attendance", as_user=ids["host"])
    assert r.status_code == 200, r.text
    view = r.json()
    client = next(p for p in view["participants"] if p["identity"] == ids["client"])
    assert (client["total_seconds"], client["waiting_seconds"], client["billable_seconds"]) == (2060, 300, 1760)
    assert (client["reconnects"], client["late_seconds"], client["attended"], client["billing_band"]) == (
        2, 0, True, "90832")
    host = next(p for p in view["participants"] if p["identity"] == ids["host"])
    assert (host["billable_seconds"], host["late_seconds"], host["attended"]) == (2155, 0, True)
    verdict = view["verdict"]
    assert (verdict["outcome"], verdict["billable_seconds"], verdict["billing_band"]) == ("held", 1760, "90832")
    assert verdict["session_ended_at"] == iso(T0 + 2090) and verdict["policy"]["no_show_grace_minutes"] == 15


def _verify(export: dict, key: bytes = EXPORT_KEY) -> bool:
    """What the platform does with an export: canonicalize the document, check the hash and the HMAC."""
    body = json.dumps(export["document"], sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    digest_ok = hashlib.sha256(body).hexdigest() == export["sha256"]
    mac = hmac.new(key, body, hashlib.sha256).hexdigest()
    return digest_ok and hmac.compare_digest(mac, export["signature"]["value"])


def test_the_export_verifies_and_tampering_breaks_it(api, stack, ids):
    room = _scripted_session(api, stack, ids)
    r = api.admin("GET", f"/rooms/{room['room_id']}/attendance/export")
    assert r.status_code == 200, r.text
    export = r.json()
    assert export["signature"]["alg"] == "HMAC-SHA256" and export["signature"]["key_id"] == "local"
    assert _verify(export)
    doc = export["document"]
    assert doc["final"] and doc["verdict"]["outcome"] == "held" and doc["room"]["booking_id"] == ids["booking"]
    timeline = [(e["at"], e["action"], e["target"], e["actor"]) for e in doc["timeline"]
                if e["action"].startswith("participant.")]
    assert timeline[:2] == [(iso(T0 - 60), "participant.joined", ids["host"], "livekit"),
                            (iso(T0), "participant.joined", ids["client"], "livekit")]
    assert len(timeline) == 8 and (iso(T0 + 2095), "participant.left", ids["host"], "livekit") == timeline[-1]
    assert doc["timeline"][-1]["action"] == "room.ended"

    tampered = copy.deepcopy(export)
    entry = next(p for p in tampered["document"]["attendance"]["participants"] if p["identity"] == ids["client"])
    entry["billable_seconds"] += 60  # one more billable minute
    assert not _verify(tampered)
    assert not _verify(export, key=b"someone else's key")
    # the host may export too; the client may not; each export is itself on the audit trail
    assert api.call("GET", f"/rooms/{room['room_id']}/attendance/export", as_user=ids["host"]).status_code == 200
    denied = api.call("GET", f"/rooms/{room['room_id']}/attendance/export", as_user=ids["client"])
    assert denied.status_code == 403 and denied.json()["code"] == "host_only"
    audit = api.admin("GET", f"/rooms/{room['room_id']}/audit").json()["entries"]
    assert sorted(e["actor"] for e in audit if e["action"] == "attendance.exported") == sorted(
        ["platform-backend", ids["host"]])


def _token(api, room_id: str, user: str) -> str:
    r = api.call("POST", f"/rooms/{room_id}/token", as_user=user)
    assert r.status_code == 200, r.text
    return r.json()["token"]


def _available(api, room_id: str, host: str, recording_id: str, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        recs = api.call("GET", f"/rooms/{room_id}/recordings", as_user=host).json()["recordings"]
        rec = next(r for r in recs if r["recording_id"] == recording_id)
        if rec["status"] == "available" or time.monotonic() > deadline:
            return rec
        time.sleep(0.2)


def test_the_audit_trail_of_a_scripted_session_lists_every_action_with_its_actor(api, stack, ids):
    lk = stack.config.livekit_url
    host, client, other = ids["host"], ids["client"], ids["other"]
    room = api.admin("POST", "/rooms", json={
        "service_session_id": ids["session"], "room_type": "workshop", "waiting_room": True,
        "recording": "optional", "host": {"user_id": host}, "members": [{"user_id": client}],
    }).json()
    rid = room["room_id"]
    assert api.admin("PUT", f"/rooms/{rid}/members/{other}", json={"role": "participant"}).status_code in (200, 201)
    control.join(lk, _token(api, rid, host), publish=["audio"])
    control.join(lk, _token(api, rid, client), publish=["audio"])  # waits in the waiting room
    control.drain_webhooks(lk)
    assert api.call("POST", f"/rooms/{rid}/participants/{client}/admit", as_user=host).status_code == 200
    control.join(lk, _token(api, rid, client), publish=["audio"])  # back with an admitted token, publishing
    assert api.call("POST", f"/rooms/{rid}/recording-consent", as_user=client,
                    json={"channel": "web", "text_version": "1"}).status_code == 200
    rec = api.call("POST", f"/rooms/{rid}/recordings", as_user=host)
    assert rec.status_code == 200, rec.text
    recording_id = rec.json()["recording_id"]
    assert api.call("POST", f"/rooms/{rid}/participants/{client}/mute", as_user=host,
                    json={"track": "audio"}).status_code == 200
    assert api.call("POST", f"/rooms/{rid}/recordings/{recording_id}/stop", as_user=host).status_code == 200
    control.drain_webhooks(lk)
    assert _available(api, rid, host, recording_id)["status"] == "available"
    assert api.call("GET", f"/recordings/{recording_id}/url", as_user=host).status_code == 200
    assert api.call("DELETE", f"/rooms/{rid}/participants/{client}", as_user=host).status_code == 200
    assert api.admin("DELETE", f"/rooms/{rid}/members/{other}").status_code == 200
    control.drain_webhooks(lk)
    assert api.admin("DELETE", f"/rooms/{rid}").status_code == 200
    assert api.admin("DELETE", f"/recordings/{recording_id}").status_code == 200

    r = api.call("GET", f"/rooms/{rid}/audit", as_user=host)
    assert r.status_code == 200, r.text
    entries = r.json()["entries"]
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)  # oldest first
    seen = {(e["action"], e["actor"], e["target"]) for e in entries}
    expected = {
        ("member.granted", "platform-backend", other),
        ("token.issued", host, host),
        ("token.issued", client, client),
        ("participant.joined", "livekit", host),
        ("participant.joined", "livekit", client),
        ("participant.admitted", host, client),
        ("consent.given", client, client),
        ("recording.started", host, recording_id),
        ("participant.muted", host, client),
        ("recording.stopped", host, recording_id),
        ("recording.url_issued", host, recording_id),
        ("participant.removed", host, client),
        ("participant.left", "livekit", client),
        ("member.revoked", "platform-backend", other),
        ("room.ended", "platform-backend", None),
        ("recording.deleted", "platform-backend", recording_id),
    }
    assert expected <= seen, expected - seen
    consent = next(e for e in entries if e["action"] == "consent.given")
    assert consent["details"] == {"text_version": "1", "channel": "web"}
    # members who are not the host, and strangers, do not read the trail
    assert api.call("GET", f"/rooms/{rid}/audit", as_user=client).status_code == 403
    # append-only in the table, with the TTL of AUDIT_RETENTION_DAYS (default 6 years)
    from rooms.store import audit as audit_store

    items = audit_store.list_audit(rid)
    assert len(items) == len(entries)
    ages = {round((i.ttl - datetime.fromisoformat(i.at.replace("Z", "+00:00"))).total_seconds() / 86400)
            for i in items}
    assert ages == {2190}


def test_consent_withdrawal_stops_the_optional_recording_and_is_in_the_ledger(api, stack, ids):
    lk = stack.config.livekit_url
    host, client = ids["host"], ids["client"]
    room = api.admin("POST", "/rooms", json={
        "service_session_id": ids["session"], "room_type": "workshop", "waiting_room": False,
        "host": {"user_id": host}, "members": [{"user_id": client}],
    }).json()
    rid = room["room_id"]
    control.join(lk, _token(api, rid, host), publish=["audio"])
    control.join(lk, _token(api, rid, client), publish=["audio"])
    refused = api.call("POST", f"/rooms/{rid}/recordings", as_user=host)
    assert refused.status_code == 409 and refused.json()["code"] == "recording_consent_missing"
    outdated = api.call("POST", f"/rooms/{rid}/recording-consent", as_user=client, json={"text_version": "0"})
    assert outdated.status_code == 409 and outdated.json()["code"] == "consent_version_outdated"
    given = api.call("POST", f"/rooms/{rid}/recording-consent", as_user=client, json={"channel": "mobile"})
    assert given.status_code == 200 and given.json()["text_version"] == "1"
    started = api.call("POST", f"/rooms/{rid}/recordings", as_user=host)
    assert started.status_code == 200, started.text
    recording_id, egress_id = started.json()["recording_id"], started.json()["egress_id"]

    withdrawn = api.call("DELETE", f"/rooms/{rid}/recording-consent", as_user=client, json={"channel": "web"})
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["consented"] is False and withdrawn.json()["recordings_stopped"] == [recording_id]
    control.drain_webhooks(lk)
    from rooms.livekit_gateway import egress_service as lk_egress

    [state] = lk_egress.list_egress(egress_id=egress_id)
    assert state.status not in ("starting", "active")  # LiveKit's egress is stopping or done: the file ends
    again = api.call("POST", f"/rooms/{rid}/recordings", as_user=host)
    assert again.status_code == 409 and again.json()["code"] == "recording_consent_missing"

    ledger = api.admin("GET", f"/rooms/{rid}/attendance/export").json()["document"]["consent_ledger"]
    assert [(e["user_id"], e["decision"], e["text_version"], e["channel"]) for e in ledger] == [
        (client, "given", "1", "mobile"), (client, "withdrawn", "1", "web")]
    audit = api.admin("GET", f"/rooms/{rid}/audit").json()["entries"]
    stop = next(e for e in audit if e["action"] == "recording.stopped")
    assert (stop["actor"], stop["target"], stop["details"]["reason"]) == (client, recording_id, "consent_withdrawn")
    assert datetime.fromisoformat(stop["at"].replace("Z", "+00:00")) <= datetime.now(UTC)


def _waiting_events(stack):
    """EventBridge "Participant Waiting" events, through a rule on the bus to an SQS queue (moto)."""
    import boto3

    kw = {"endpoint_url": stack.config.moto_url, "region_name": stack.config.region}
    sqs, events = boto3.client("sqs", **kw), boto3.client("events", **kw)
    name = f"waiting-{uuid.uuid4().hex[:8]}"
    queue = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=name, EventBusName=stack.config.event_bus_name,
                    EventPattern=json.dumps({"source": ["rooms"], "detail-type": ["Participant Waiting"]}))
    events.put_targets(Rule=name, EventBusName=stack.config.event_bus_name, Targets=[{"Id": "q", "Arn": arn}])

    def received(room_id: str) -> list[dict]:
        out = []
        for _ in range(20):
            for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
                body = json.loads(m["Body"])
                if body["detail"]["room_id"] == room_id:
                    out.append(body["detail"])
            if out:
                return out
            time.sleep(0.1)
        return out

    return received


def test_waiting_room_concierge_event_and_host_message(api, stack, ids):
    lk = stack.config.livekit_url
    waiting = _waiting_events(stack)
    host, client = ids["host"], ids["client"]
    room = api.admin("POST", "/rooms", json={
        "service_session_id": ids["session"], "room_type": "workshop", "waiting_room": True,
        "host": {"user_id": host}, "members": [{"user_id": client, "name": "Clara"}],
    }).json()
    rid, name = room["room_id"], room["livekit_room"]
    control.join(lk, _token(api, rid, host))
    token = api.call("POST", f"/rooms/{rid}/token", as_user=client).json()
    assert token["waiting"] is True
    control.join(lk, token["token"])
    control.drain_webhooks(lk)
    stack.webhook_work.drain()  # "Participant Waiting" is the join webhook's follow-up
    [event] = waiting(rid)
    assert (event["identity"], event["user_id"], event["host_user_id"], event["service_session_id"]) == (
        client, client, host, ids["session"])
    assert event["waiting_since"] and event["via"] == "video"

    text = "Running 5 minutes late, sorry!"
    r = api.call("POST", f"/rooms/{rid}/participants/{client}/message", as_user=host, json={"text": text})
    assert r.status_code == 200, r.text
    assert r.json()["action"] == "message"
    live = next(x for x in control.state(lk)["rooms"] if x["name"] == name)
    [delivered] = live["data_received"][client]
    assert delivered["topic"] == "rooms.host_message" and delivered["kind"] == "reliable"
    assert json.loads(delivered["data"]) | {"sent_at": None} == {
        "type": "host_message", "text": text, "from": host, "sent_at": None}
    assert host not in live["data_received"]  # only to the participant addressed
    # only the host may message; only someone connected can be messaged; the text is required
    assert api.call("POST", f"/rooms/{rid}/participants/{host}/message", as_user=client,
                    json={"text": "hi"}).status_code == 403
    gone = api.call("POST", f"/rooms/{rid}/participants/nobody/message", as_user=host, json={"text": "hi"})
    assert gone.status_code == 404 and gone.json()["code"] == "participant_not_connected"
    empty = api.call("POST", f"/rooms/{rid}/participants/{client}/message", as_user=host, json={"text": ""})
    assert empty.status_code == 422 and empty.json()["field"] == "text"
    audit = api.call("GET", f"/rooms/{rid}/audit", as_user=host).json()["entries"]
    [entry] = [e for e in audit if e["action"] == "participant.messaged"]
    assert (entry["actor"], entry["target"], entry["details"]) == (host, client, {"length": len(text), "waiting": True})
