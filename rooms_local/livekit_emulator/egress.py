"""Room composite egress that records nothing but uploads a real (tiny) MP4 where LiveKit would.

Lifecycle as LiveKit reports it: EGRESS_STARTING (egress_started); EGRESS_ACTIVE (egress_updated) only
once a track is published in the room (LiveKit's room composite waits for its template's start signal,
which comes when a track is subscribed: an egress in a room nobody publishes in stays STARTING); then on
stop or when the room closes EGRESS_ENDING (egress_updated), the upload, and EGRESS_COMPLETE or
EGRESS_FAILED (egress_ended). An egress stopped (or whose room closes) while still STARTING ends
EGRESS_ABORTED with no file, error "Start signal not received" (412), as livekit/egress reports it.
Times in EgressInfo and FileInfo are nanoseconds.
"""

from __future__ import annotations

import datetime
import posixpath
import struct
import threading
import time

import boto3
from botocore.config import Config
from google.protobuf import json_format
from livekit.protocol import egress as proto_egress
from livekit.protocol.egress import EgressInfo, EncodedFileOutput, FileInfo

from .ids import new_id
from .rooms import Rooms, copy_message, to_dict
from .twirp import Method, TwirpError, room_record
from .webhooks import WebhookNotifier, new_event

STARTING, ACTIVE, ENDING = (
    proto_egress.EGRESS_STARTING,
    proto_egress.EGRESS_ACTIVE,
    proto_egress.EGRESS_ENDING,
)
COMPLETE, FAILED, ABORTED = proto_egress.EGRESS_COMPLETE, proto_egress.EGRESS_FAILED, proto_egress.EGRESS_ABORTED
RUNNING = (STARTING, ACTIVE, ENDING)
DEFAULT_FILEPATH = "{room_name}-{time}"
# What livekit/egress reports for a room composite that never got its start signal.
START_SIGNAL_ERROR, START_SIGNAL_CODE = "Start signal not received", 412


class Egresses:
    def __init__(
        self,
        lock: threading.RLock,
        notifier: WebhookNotifier,
        rooms: Rooms,
        s3_endpoint_url: str | None = None,
    ) -> None:
        self.lock = lock
        self.notifier = notifier
        self.rooms = rooms
        self.s3_endpoint_url = s3_endpoint_url
        self.fail_egress = False  # /dev/config: end every egress EGRESS_FAILED instead of uploading
        # /dev/config: refuse every egress start (no egress worker available), CreateRoom's auto egress too
        self.refuse_egress_start = False
        self.items: dict[str, EgressInfo] = {}

    def twirp_methods(self) -> dict[str, Method]:
        pe = proto_egress
        return {
            "StartRoomCompositeEgress": Method(pe.RoomCompositeEgressRequest, room_record, self.start),
            "StopEgress": Method(pe.StopEgressRequest, room_record, self.stop),
            "ListEgress": Method(pe.ListEgressRequest, room_record, self.list),
        }

    def start(self, request: proto_egress.RoomCompositeEgressRequest) -> EgressInfo:
        _file_outputs(request)  # refuse what we cannot record before anything changes
        with self.lock:
            room = self.rooms.room_info(request.room_name)
            if room is None:
                raise TwirpError("not_found", f"requested room {request.room_name} does not exist")
            if self.refuse_egress_start:
                raise TwirpError("unavailable", "no egress worker available (refuse_egress_start is set)")
            info = EgressInfo(
                egress_id=new_id("EG_"),
                room_id=room.sid,
                room_name=room.name,
                source_type=proto_egress.EGRESS_SOURCE_TYPE_WEB,
                status=STARTING,
                updated_at=time.time_ns(),
            )
            info.room_composite.CopyFrom(request)
            self.items[info.egress_id] = info
            self.notifier.emit(new_event("egress_started", egress_info=info))
            response = copy_message(info)
            self._set_active_recording(room.name)
            if self.rooms.has_published_tracks(room.name):
                self._activate(info)
        return response

    def track_published(self, room_name: str) -> None:
        """A track was published in the room (called with the lock held): its waiting egresses start."""
        with self.lock:
            for info in self.items.values():
                if info.room_name == room_name and info.status == STARTING:
                    self._activate(info)

    def stop(self, request: proto_egress.StopEgressRequest) -> EgressInfo:
        with self.lock:
            info = self.items.get(request.egress_id)
            if info is None:
                raise TwirpError("not_found", f"egress {request.egress_id} not found")
            if info.status not in (STARTING, ACTIVE):
                status = proto_egress.EgressStatus.Name(info.status)
                raise TwirpError("failed_precondition", f"egress with status {status} cannot be stopped")
            if info.status == STARTING:  # nothing was recorded: no file, no upload
                self._abort(info, "End reason: StopEgress API")
                return copy_message(info)
            self._begin_ending(info)
            response = copy_message(info)
        # Finish before answering so the upload and egress_ended are done when the call returns
        # (the response still says EGRESS_ENDING, as LiveKit's does).
        self._finish(request.egress_id)
        return response

    def list(self, request: proto_egress.ListEgressRequest) -> proto_egress.ListEgressResponse:
        with self.lock:
            items = [
                copy_message(info)
                for info in self.items.values()
                if (not request.room_name or info.room_name == request.room_name)
                and (not request.egress_id or info.egress_id == request.egress_id)
                and (not request.active or info.status in RUNNING)
            ]
        return proto_egress.ListEgressResponse(items=items)

    def start_auto_egress(self, room, create_request) -> None:
        """CreateRoomRequest.egress.room: record the room from its creation."""
        auto = proto_egress.RoomCompositeEgressRequest()
        auto.CopyFrom(create_request.egress.room)
        auto.room_name = room.name
        self.start(auto)

    def end_room_egress(self, room_name: str) -> None:
        """A closed room ends its recordings, which then upload and complete."""
        with self.lock:
            for info in self.items.values():
                if info.room_name == room_name and info.status == STARTING:
                    self._abort(info, "End reason: Source closed")
            ending = [i for i in self.items.values() if i.room_name == room_name and i.status == ACTIVE]
            for info in ending:
                self._begin_ending(info)
        for info in ending:
            self._finish(info.egress_id)

    def state(self) -> list[dict]:
        with self.lock:
            return [to_dict(info) for info in self.items.values()]

    # --- internals ---------------------------------------------------------------------------------

    def _activate(self, info: EgressInfo) -> None:
        info.status = ACTIVE
        info.started_at = info.updated_at = time.time_ns()
        self._set_active_recording(info.room_name)
        self.notifier.emit(new_event("egress_updated", egress_info=info))

    def _abort(self, info: EgressInfo, details: str) -> None:
        info.status = ABORTED
        info.error, info.error_code, info.details = START_SIGNAL_ERROR, START_SIGNAL_CODE, details
        info.ended_at = info.updated_at = time.time_ns()
        self._set_active_recording(info.room_name)
        self.notifier.emit(new_event("egress_ended", egress_info=info))

    def _begin_ending(self, info: EgressInfo) -> None:
        info.status = ENDING
        info.updated_at = time.time_ns()
        self.notifier.emit(new_event("egress_updated", egress_info=info))

    def _finish(self, egress_id: str) -> None:
        """Upload outside the lock (S3 may be slow), then record the outcome and emit egress_ended."""
        with self.lock:
            info = copy_message(self.items[egress_id])
            fail = self.fail_egress
        ended_at = time.time_ns()
        results: list[FileInfo] = []
        error = "egress failed (fail_egress is set on the emulator)" if fail else ""
        if not fail:
            try:
                results = [
                    self._upload(info, output, ended_at) for output in _file_outputs(info.room_composite)
                ]
            except Exception as err:  # an upload LiveKit could not complete fails the egress
                error = f"upload failed: {err}"
        with self.lock:
            info = self.items[egress_id]
            info.ended_at = info.updated_at = ended_at
            if error:
                info.status = FAILED
                info.error = error
                info.error_code = 500
            else:
                info.status = COMPLETE
                info.file_results.extend(results)
                info.file.CopyFrom(results[0])  # the deprecated single-file result, still filled by LiveKit
            self._set_active_recording(info.room_name)
            self.notifier.emit(new_event("egress_ended", egress_info=info))

    def _upload(self, info: EgressInfo, output: EncodedFileOutput, ended_at: int) -> FileInfo:
        s3 = output.s3
        key = _expand_filepath(output.filepath or DEFAULT_FILEPATH, info)
        body = minimal_mp4(duration_ms=(ended_at - info.started_at) // 1_000_000)
        endpoint = s3.endpoint or self.s3_endpoint_url
        client = boto3.client(
            "s3",
            endpoint_url=endpoint or None,
            region_name=s3.region or None,
            aws_access_key_id=s3.access_key or None,
            aws_secret_access_key=s3.secret or None,
            aws_session_token=s3.session_token or None,
            config=Config(s3={"addressing_style": "path" if s3.force_path_style else "auto"}),
        )
        extra = {"ContentType": "video/mp4"}
        if s3.metadata:
            extra["Metadata"] = dict(s3.metadata)
        if s3.tagging:
            extra["Tagging"] = s3.tagging
        if s3.content_disposition:
            extra["ContentDisposition"] = s3.content_disposition
        client.put_object(Bucket=s3.bucket, Key=key, Body=body, **extra)
        if not output.disable_manifest:  # LiveKit egress uploads <dir>/<egress id>.json next to the file
            manifest = posixpath.join(posixpath.dirname(key), f"{info.egress_id}.json")
            client.put_object(Bucket=s3.bucket, Key=manifest, ContentType="application/json",
                              Body=json_format.MessageToJson(info).encode())
        if endpoint:
            location = f"{endpoint.rstrip('/')}/{s3.bucket}/{key}"
        else:
            location = f"https://{s3.bucket}.s3.amazonaws.com/{key}"
        return FileInfo(
            filename=key,
            started_at=info.started_at,
            ended_at=ended_at,
            duration=ended_at - info.started_at,
            size=len(body),
            location=location,
        )

    def _set_active_recording(self, room_name: str) -> None:
        live = self.rooms.rooms.get(room_name)
        if live is not None:
            live.info.active_recording = any(
                i.room_name == room_name and i.status in RUNNING for i in self.items.values()
            )


def _file_outputs(request: proto_egress.RoomCompositeEgressRequest) -> list[EncodedFileOutput]:
    """File outputs to S3 are what the emulator records; anything else is refused."""
    if request.stream_outputs or request.segment_outputs or request.image_outputs:
        raise TwirpError("unimplemented", "the emulator records file outputs only")
    if request.HasField("stream") or request.HasField("segments"):
        raise TwirpError("unimplemented", "the emulator records file outputs only")
    outputs = list(request.file_outputs)
    if request.HasField("file"):  # deprecated single-output field, still sent by older callers
        outputs.append(request.file)
    if not outputs:
        raise TwirpError("invalid_argument", "no outputs: set file_outputs (or file)")
    for output in outputs:
        if output.file_type not in (proto_egress.DEFAULT_FILETYPE, proto_egress.MP4):
            raise TwirpError("unimplemented", "the emulator writes MP4 files only")
        if not output.HasField("s3") or not output.s3.bucket:
            raise TwirpError("invalid_argument", "file output needs s3 upload with a bucket")
    return outputs


def _expand_filepath(filepath: str, info: EgressInfo) -> str:
    """LiveKit egress's filename templates; a directory gets the default name, a bare name `.mp4`."""
    if filepath.endswith("/"):
        filepath += DEFAULT_FILEPATH
    now = datetime.datetime.now()
    replacements = {
        "{room_name}": info.room_name,
        "{room_id}": info.room_id,
        "{time}": now.strftime("%Y-%m-%dT%H%M%S"),
        "{utc}": now.astimezone(datetime.UTC).strftime("%Y%m%d%H%M%S"),
    }
    for template, value in replacements.items():
        filepath = filepath.replace(template, value)
    if not posixpath.splitext(filepath)[1]:
        filepath += ".mp4"
    return filepath


def minimal_mp4(duration_ms: int) -> bytes:
    """A valid, empty ISO BMFF file: `ftyp` plus a `moov` holding only `mvhd` (timescale 1000)."""

    def box(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", 8 + len(payload)) + kind + payload

    ftyp = box(b"ftyp", b"isom" + struct.pack(">I", 0x200) + b"isomiso2mp41")
    identity_matrix = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    mvhd = box(
        b"mvhd",
        struct.pack(">B3xIIII", 0, 0, 0, 1000, max(duration_ms, 0))  # version, flags, times, timescale
        + struct.pack(">IH10x", 0x10000, 0x100)  # rate 1.0, volume 1.0, reserved
        + identity_matrix
        + bytes(24)  # pre_defined
        + struct.pack(">I", 1),  # next_track_ID
    )
    return ftyp + box(b"moov", mvhd)
