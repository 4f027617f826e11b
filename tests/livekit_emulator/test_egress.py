"""Room composite egress: status lifecycle, webhooks, and a real upload to (moto) S3."""

from __future__ import annotations

import json

import pytest
from livekit import api

from rooms_local.livekit_emulator import control

from .support import BUCKET, call, join_token, s3


def file_output(endpoint: str, filepath: str) -> api.EncodedFileOutput:
    return api.EncodedFileOutput(
        filepath=filepath,
        s3=api.S3Upload(
            access_key="testing",
            secret="testing",
            region="us-east-1",
            endpoint=endpoint,
            bucket=BUCKET,
            force_path_style=True,
        ),
    )


def start(server, endpoint: str, room: str = "rec", filepath: str = "recordings/{room_name}/{room_id}-{utc}"):
    request = api.RoomCompositeEgressRequest(room_name=room, file_outputs=[file_output(endpoint, filepath)])
    return call(server, lambda lk: lk.egress.start_room_composite_egress(request))


def test_start_and_stop_upload_a_real_file_and_report_nanoseconds(server, sink, s3_endpoint):
    control.join(server.url, join_token("host", "rec"), publish=["audio", "video"])
    started = start(server, s3_endpoint)
    assert started.egress_id.startswith("EG_") and started.status == api.EgressStatus.EGRESS_STARTING
    active = call(
        server, lambda lk: lk.egress.list_egress(api.ListEgressRequest(room_name="rec", active=True))
    )
    assert [e.status for e in active.items] == [api.EgressStatus.EGRESS_ACTIVE]

    stopped = call(
        server, lambda lk: lk.egress.stop_egress(api.StopEgressRequest(egress_id=started.egress_id))
    )
    assert stopped.status == api.EgressStatus.EGRESS_ENDING
    control.drain_webhooks(server.url)

    egress_events = [e for e in sink.events() if e.event.startswith("egress_")]
    assert [(e.event, e.egress_info.status) for e in egress_events] == [
        ("egress_started", api.EgressStatus.EGRESS_STARTING),
        ("egress_updated", api.EgressStatus.EGRESS_ACTIVE),
        ("egress_updated", api.EgressStatus.EGRESS_ENDING),
        ("egress_ended", api.EgressStatus.EGRESS_COMPLETE),
    ]
    ended = egress_events[-1].egress_info
    (result,) = ended.file_results
    room_sid = control.state(server.url)["rooms"][0]["sid"]
    assert result.filename.startswith(f"recordings/rec/{room_sid}-") and result.filename.endswith(".mp4")
    assert result.started_at == ended.started_at and result.ended_at == ended.ended_at
    assert result.duration == result.ended_at - result.started_at
    assert 10**18 < result.started_at < 10**19  # nanoseconds since the epoch, not seconds or ms
    assert result.location == f"{s3_endpoint}/{BUCKET}/{result.filename}"

    body = s3(s3_endpoint).get_object(Bucket=BUCKET, Key=result.filename)["Body"].read()
    assert len(body) == result.size and body[4:8] == b"ftyp" and b"moov" in body
    # LiveKit egress also uploads a manifest next to the file unless disable_manifest
    manifest = f"recordings/rec/{started.egress_id}.json"
    assert json.loads(s3(s3_endpoint).get_object(Bucket=BUCKET, Key=manifest)["Body"].read())["egressId"] == (
        started.egress_id)

    listed = call(
        server, lambda lk: lk.egress.list_egress(api.ListEgressRequest(egress_id=started.egress_id))
    )
    assert listed.items[0].status == api.EgressStatus.EGRESS_COMPLETE
    assert call(server, lambda lk: lk.egress.list_egress(api.ListEgressRequest(active=True))).items == []
    with pytest.raises(api.ServerError) as err:
        call(server, lambda lk: lk.egress.stop_egress(api.StopEgressRequest(egress_id=started.egress_id)))
    assert err.value.status == 412


def test_fail_egress_ends_it_failed_with_an_error(server, sink, s3_endpoint):
    control.join(server.url, join_token("host", "rec"), publish=["audio"])
    control.configure(server.url, fail_egress=True)
    started = start(server, s3_endpoint, filepath="failed/{room_name}.mp4")
    call(server, lambda lk: lk.egress.stop_egress(api.StopEgressRequest(egress_id=started.egress_id)))
    ended = sink.wait_for("egress_ended").egress_info
    assert ended.status == api.EgressStatus.EGRESS_FAILED and ended.error and not ended.file_results
    assert "Contents" not in s3(s3_endpoint).list_objects_v2(Bucket=BUCKET, Prefix="failed/")


def test_deleting_the_room_ends_its_egress(server, sink, s3_endpoint):
    control.join(server.url, join_token("host", "rec"), publish=["audio"])
    start(server, s3_endpoint, filepath="deleted/{room_name}")
    call(server, lambda lk: lk.room.delete_room(api.DeleteRoomRequest(room="rec")))
    control.drain_webhooks(server.url)
    ended = sink.wait_for("egress_ended").egress_info
    assert ended.status == api.EgressStatus.EGRESS_COMPLETE
    assert ended.file_results[0].filename == "deleted/rec.mp4"


def test_auto_egress_starts_only_when_the_room_is_first_created(server, sink, s3_endpoint):
    request = api.CreateRoomRequest(
        name="auto",
        egress=api.RoomEgress(
            room=api.RoomCompositeEgressRequest(file_outputs=[file_output(s3_endpoint, "auto/")])
        ),
    )
    call(server, lambda lk: lk.room.create_room(request))
    call(server, lambda lk: lk.room.create_room(request))
    control.drain_webhooks(server.url)
    items = call(server, lambda lk: lk.egress.list_egress(api.ListEgressRequest(room_name="auto"))).items
    # nobody publishes yet: the egress waits for its start signal
    assert len(items) == 1 and items[0].status == api.EgressStatus.EGRESS_STARTING
    assert sink.names().count("egress_started") == 1


def test_an_egress_stays_starting_until_a_track_is_published(server, sink, s3_endpoint):
    control.join(server.url, join_token("viewer", "rec"))  # connected, publishing nothing
    started = start(server, s3_endpoint)
    control.drain_webhooks(server.url)
    listed = call(server, lambda lk: lk.egress.list_egress(api.ListEgressRequest(egress_id=started.egress_id)))
    assert listed.items[0].status == api.EgressStatus.EGRESS_STARTING and listed.items[0].started_at == 0
    assert "egress_updated" not in sink.names()

    control.join(server.url, join_token("host", "rec"), publish=["audio"])
    control.drain_webhooks(server.url)
    listed = call(server, lambda lk: lk.egress.list_egress(api.ListEgressRequest(egress_id=started.egress_id)))
    assert listed.items[0].status == api.EgressStatus.EGRESS_ACTIVE and listed.items[0].started_at > 0
    names = sink.names()
    assert names.index("track_published") < names.index("egress_updated")


def test_stopping_an_egress_nobody_published_to_aborts_it_without_a_file(server, sink, s3_endpoint):
    control.join(server.url, join_token("viewer", "rec"))
    started = start(server, s3_endpoint, filepath="never/{room_name}.mp4")
    stopped = call(server, lambda lk: lk.egress.stop_egress(api.StopEgressRequest(egress_id=started.egress_id)))
    assert stopped.status == api.EgressStatus.EGRESS_ABORTED
    control.drain_webhooks(server.url)
    egress_events = [(e.event, e.egress_info.status) for e in sink.events() if e.event.startswith("egress_")]
    assert egress_events == [("egress_started", api.EgressStatus.EGRESS_STARTING),
                             ("egress_ended", api.EgressStatus.EGRESS_ABORTED)]
    ended = sink.wait_for("egress_ended").egress_info
    assert ended.error == "Start signal not received" and ended.error_code == 412 and not ended.file_results
    assert "Contents" not in s3(s3_endpoint).list_objects_v2(Bucket=BUCKET, Prefix="never/")


def test_a_room_closing_before_anyone_published_aborts_its_egress(server, sink, s3_endpoint):
    control.join(server.url, join_token("viewer", "rec"))
    start(server, s3_endpoint, filepath="closed/{room_name}.mp4")
    call(server, lambda lk: lk.room.delete_room(api.DeleteRoomRequest(room="rec")))
    control.drain_webhooks(server.url)
    ended = sink.wait_for("egress_ended").egress_info
    assert ended.status == api.EgressStatus.EGRESS_ABORTED and not ended.file_results
    assert "Contents" not in s3(s3_endpoint).list_objects_v2(Bucket=BUCKET, Prefix="closed/")


def test_a_refused_auto_egress_fails_create_room_but_leaves_the_room_live(server, sink, s3_endpoint):
    request = api.CreateRoomRequest(name="auto", egress=api.RoomEgress(
        room=api.RoomCompositeEgressRequest(file_outputs=[file_output(s3_endpoint, "auto/")])))
    control.configure(server.url, refuse_egress_start=True)
    with pytest.raises(api.ServerError) as err:
        call(server, lambda lk: lk.room.create_room(request))
    assert err.value.code == "unavailable"
    control.configure(server.url, refuse_egress_start=False)
    again = call(server, lambda lk: lk.room.create_room(request))  # the retry finds the live room, unrecorded
    assert again.name == "auto"
    assert call(server, lambda lk: lk.egress.list_egress(api.ListEgressRequest(room_name="auto"))).items == []
    control.drain_webhooks(server.url)
    assert sink.names().count("room_started") == 1 and "egress_started" not in sink.names()


def test_egress_needs_an_existing_room_and_a_file_output(server, s3_endpoint):
    with pytest.raises(api.ServerError) as err:
        start(server, s3_endpoint, room="nowhere")
    assert err.value.status == 404
    control.join(server.url, join_token("host", "rec"))
    with pytest.raises(api.ServerError) as err:
        call(
            server,
            lambda lk: lk.egress.start_room_composite_egress(api.RoomCompositeEgressRequest(room_name="rec")),
        )
    assert err.value.status == 400
