"""Webhooks are answered fast (issue 12 item 9): the handler records the facts and queues the slow work
(LiveKit, S3, EventBridge; a room's ending) for webhook_worker, which does it from the queue,
idempotently. Checked with the worker paused: the webhook's answer and facts come first, its slow work
only when the worker runs."""

from __future__ import annotations

import json
import time
import uuid

import jwt
import pytest

from rooms import store
from rooms_local.livekit_emulator import control
from tests import livekit_webhooks as lw
from tests.attendance_support import joined, left, participant


@pytest.fixture
def lk(stack):
    return stack.config.livekit_url


def _live(lk: str, livekit_room: str) -> set[str]:
    room = next((r for r in control.state(lk)["rooms"] if r["name"] == livekit_room), None)
    return {p["identity"] for p in room["participants"]} if room else set()


def _queued(stack) -> int:
    return stack.webhook_work._in_queue(stack.webhook_work.queue_url)


def _marker(event_id: str):
    return store.WebhookEventItem.get(*store.WebhookEventItem.key(event_id), consistent_read=True)


def _token_jti(api, room_id: str, user: str) -> str:
    """The ``rooms.jti`` attribute of a join token the member just got (a join with it is theirs)."""
    token = api.call("POST", f"/rooms/{room_id}/token", as_user=user).json()["token"]
    return jwt.decode(token, options={"verify_signature": False})["attributes"]["rooms.jti"]


def _room(api, **extra) -> dict:
    suffix = uuid.uuid4().hex[:10]
    r = api.admin("POST", "/rooms", json={
        "booking_id": f"bk-{suffix}", "service_type": "therapy",
        "host": {"user_id": f"dr-{suffix}"}, "members": [{"user_id": f"cl-{suffix}"}], **extra})
    assert r.status_code == 201, r.text
    return {**r.json(), "host": f"dr-{suffix}", "client": f"cl-{suffix}"}


def test_a_revoked_join_is_recorded_and_answered_first_and_removed_by_the_worker(api, stack, lk, ids,
                                                                                 booking_room):
    rid, name = booking_room["room_id"], booking_room["livekit_room"]
    token = api.call("POST", f"/rooms/{rid}/token", as_user=ids["client"]).json()["token"]
    assert api.admin("DELETE", f"/rooms/{rid}/members/{ids['client']}").status_code == 200
    with stack.webhook_work.paused():
        before = len(stack.webhook_deliveries)
        control.join(lk, token)
        control.drain_webhooks(lk)
        answers = [d.status for d in stack.webhook_deliveries[before:]]
        assert answers and set(answers) == {200}
        # answered without calling LiveKit: the revoked member is still in the room, the join recorded
        assert ids["client"] in _live(lk, name)
        (entry,) = api.admin("GET", f"/rooms/{rid}/attendance").json()["participants"]
        assert entry["identity"] == ids["client"]
        assert _queued(stack) >= 1
    stack.webhook_work.drain()
    assert ids["client"] not in _live(lk, name)  # the worker removed it
    control.drain_webhooks(lk)
    (entry,) = api.admin("GET", f"/rooms/{rid}/attendance").json()["participants"]
    assert entry["segments"][0]["left_reason"] == "participant_removed"


def test_a_redelivered_webhook_queues_its_follow_up_again_until_the_worker_did_it(api, stack):
    room = _room(api, waiting_room=True)
    waiting = participant(room["client"], "PA_wait1", int(time.time()), waiting=True,
                          jti=_token_jti(api, room["room_id"], room["client"]))
    event = joined(room["livekit_room"], waiting)
    work = stack.webhook_work
    with work.paused():
        assert lw.deliver(stack.config.webhook_url, event).json()["outcome"] == "handled"
        assert json.loads(_marker(event.id).follow_up) == [{"kind": "publish_waiting"}]
        # the message is lost after the facts were committed (as if SQS had refused it: a 500, LiveKit retries)
        work._sqs.purge_queue(QueueUrl=work.queue_url)
        assert _queued(stack) == 0
        assert lw.deliver(stack.config.webhook_url, event).json()["outcome"] == "duplicate"
        assert _queued(stack) == 1  # the marker is the outbox: queued again
    work.drain()
    assert _marker(event.id).follow_up_done
    assert lw.deliver(stack.config.webhook_url, event).json()["outcome"] == "duplicate"
    assert _queued(stack) == 0  # done: a redelivery queues nothing


def test_redelivered_follow_up_work_changes_nothing(api, stack):
    room = _room(api)
    name, t0 = room["livekit_room"], 1_900_000_000
    url, work = stack.config.webhook_url, stack.webhook_work
    host, client = participant(room["host"], "PA_h", t0), participant(room["client"], "PA_c", t0 + 60)
    for ev in (joined(name, host), joined(name, client), left(name, client, t0 + 600), left(name, host, t0 + 900)):
        assert lw.deliver(url, ev).json()["outcome"] == "handled"
    finished = lw.event("room_finished", room_name=name, created_at=t0 + 960)
    with work.paused():
        assert lw.deliver(url, finished).json()["outcome"] == "handled"
        assert api.admin("GET", f"/rooms/{room['room_id']}").json()["status"] == "ended"  # the fact, at once
        (message,) = work._sqs.receive_message(QueueUrl=work.queue_url, AttributeNames=["All"])["Messages"]
        assert json.loads(message["Body"])["work"] == [{"kind": "release_room"}]
        sqs_event = {"Records": [work._record(message)]}
        seen = []
        for _ in range(2):  # SQS delivers at least once
            assert stack.runner.invoke("webhook_worker", sqs_event) == {"batchItemFailures": []}
            summary = api.admin("GET", f"/rooms/{room['room_id']}").json()
            attendance = api.admin("GET", f"/rooms/{room['room_id']}/attendance").json()
            seen.append((summary, attendance))
        assert seen[0] == seen[1]
        summary, attendance = seen[0]
        assert summary["participant_count"] == 2  # saved by the release
        assert sorted(p["total_seconds"] for p in attendance["participants"]) == [540, 900]
        work._sqs.delete_message(QueueUrl=work.queue_url, ReceiptHandle=message["ReceiptHandle"])


def test_work_that_keeps_failing_goes_to_the_dead_letter_queue_and_the_rest_of_its_batch_is_done(api, stack):
    room = _room(api, waiting_room=True)
    work = stack.webhook_work
    good = joined(room["livekit_room"], participant(room["client"], "PA_w2", int(time.time()), waiting=True,
                                                    jti=_token_jti(api, room["room_id"], room["client"])))
    bad = lw.event("room_started", room_name=room["livekit_room"], created_at=1_900_000_000)

    def message(ev, kind):
        return json.dumps({"event_id": ev.id, "room_id": room["room_id"], "received_at": "2030-03-17T09:00:00Z",
                           "body": lw.body_of(ev), "work": [{"kind": kind}]})

    store.WebhookEventItem(*store.WebhookEventItem.key(good.id), event_id=good.id, event=good.event,
                           received_at="2030-03-17T09:00:00Z").save()
    with work.paused():
        work._sqs.send_message(QueueUrl=work.queue_url, MessageBody=message(bad, "no_such_work"))
        work._sqs.send_message(QueueUrl=work.queue_url, MessageBody=message(good, "publish_waiting"))
    work.drain(timeout=60)  # the bad one comes back twice (visibility timeout), then is dead-lettered
    dead = work.dead_letters()
    assert [m["event_id"] for m in dead] == [bad.id]
    assert _marker(good.id).follow_up_done  # the good one of the batch was done and deleted
