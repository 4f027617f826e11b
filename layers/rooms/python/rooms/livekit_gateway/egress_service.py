"""LiveKit Egress (Twirp ``livekit.Egress``): room composite recordings to an MP4 file in S3 (or R2).

Callers get plain dataclasses back (``EgressState``), never protocol messages, so the domain does not
import ``livekit``. The egress's ``EgressInfo`` (webhooks and ListEgress) is read with ``egress_state``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rooms.livekit_gateway.client import NotFoundInLiveKit, run, run_or

# EgressStatus names → our lower-case names, and their order (a later state never goes back).
STATUS_NAMES = {
    "EGRESS_STARTING": "starting",
    "EGRESS_ACTIVE": "active",
    "EGRESS_ENDING": "ending",
    "EGRESS_COMPLETE": "complete",
    "EGRESS_FAILED": "failed",
    "EGRESS_ABORTED": "aborted",
    "EGRESS_LIMIT_REACHED": "limit_reached",
}
STATUS_RANK = {"starting": 1, "active": 2, "ending": 3, "complete": 4, "failed": 4, "aborted": 4,
               "limit_reached": 4}
RUNNING = ("starting", "active", "ending")


@dataclass(frozen=True)
class FileTarget:
    """Where the egress writes the MP4: an S3 bucket or any S3-compatible endpoint (R2: endpoint,
    region "auto", path style). Empty keys let a self-hosted egress use its host's credentials."""

    filepath: str
    bucket: str
    region: str | None = None
    endpoint: str | None = None
    force_path_style: bool = False
    access_key: str | None = None
    secret: str | None = None
    content_disposition: str | None = None


@dataclass(frozen=True)
class EgressFile:
    filename: str
    location: str
    size: int
    duration_ns: int
    started_at_ns: int
    ended_at_ns: int


@dataclass(frozen=True)
class EgressState:
    egress_id: str
    room_name: str
    status: str  # one of STATUS_NAMES' values
    started_at_ns: int
    ended_at_ns: int
    error: str
    filepaths: tuple[str, ...]  # the requested file outputs' paths
    files: tuple[EgressFile, ...]  # the results, once uploaded

    @property
    def rank(self) -> int:
        return STATUS_RANK.get(self.status, 0)

    @property
    def running(self) -> bool:
        return self.status in RUNNING


class EgressNotRunning(Exception):
    """StopEgress refused: the egress already ended (or is ending)."""


def egress_state(info: Any) -> EgressState:
    """Our view of an ``EgressInfo`` (from a webhook or ListEgress)."""
    from livekit.protocol import egress as proto

    paths: list[str] = []
    if info.HasField("room_composite"):
        request = info.room_composite
        paths = [o.filepath for o in request.file_outputs if o.filepath]
        if request.HasField("file") and request.file.filepath:
            paths.append(request.file.filepath)
    results = list(info.file_results)
    if not results and info.HasField("file") and info.file.filename:
        results = [info.file]  # the deprecated single-file result
    return EgressState(
        egress_id=info.egress_id,
        room_name=info.room_name,
        status=STATUS_NAMES.get(proto.EgressStatus.Name(info.status), "starting"),
        started_at_ns=int(info.started_at),
        ended_at_ns=int(info.ended_at),
        error=info.error,
        filepaths=tuple(paths),
        files=tuple(
            EgressFile(filename=f.filename, location=f.location, size=int(f.size), duration_ns=int(f.duration),
                       started_at_ns=int(f.started_at), ended_at_ns=int(f.ended_at))
            for f in results
        ),
    )


def room_composite_request(api: Any, room_name: str, target: FileTarget) -> Any:
    """A room composite recording to one MP4 file (``room_name`` may be empty in CreateRoom's auto egress)."""
    s3 = api.S3Upload(bucket=target.bucket, force_path_style=target.force_path_style)
    if target.region:
        s3.region = target.region
    if target.endpoint:
        s3.endpoint = target.endpoint
    if target.access_key and target.secret:
        s3.access_key, s3.secret = target.access_key, target.secret
    if target.content_disposition:
        s3.content_disposition = target.content_disposition
    # disable_manifest: egress would upload a <dir>/<EG_id>.json next to the file (an object our bucket's
    # object-created handler would take for a recording, and room data nobody asked for)
    output = api.EncodedFileOutput(file_type=api.EncodedFileType.MP4, filepath=target.filepath, s3=s3,
                                   disable_manifest=True)
    return api.RoomCompositeEgressRequest(room_name=room_name, file_outputs=[output])


def start_room_composite(room_name: str, target: FileTarget) -> EgressState:
    async def call(lk: Any, api: Any) -> Any:
        return await lk.egress.start_room_composite_egress(room_composite_request(api, room_name, target))

    return egress_state(run(call))


def stop_egress(egress_id: str) -> EgressState:
    """Stop a running egress. Raises EgressNotRunning when it already ended or does not exist."""
    from livekit import api as lkapi

    async def call(lk: Any, api: Any) -> Any:
        return await lk.egress.stop_egress(api.StopEgressRequest(egress_id=egress_id))

    try:
        return egress_state(run(call))
    except NotFoundInLiveKit as err:
        raise EgressNotRunning(str(err)) from err
    except lkapi.ServerError as err:
        if err.code in ("failed_precondition", "invalid_argument"):
            raise EgressNotRunning(err.message) from err
        raise


def list_egress(room_name: str | None = None, *, egress_id: str | None = None,
                active: bool = False) -> list[EgressState]:
    """Egresses of a room (or one egress), all pages."""

    async def call(lk: Any, api: Any) -> Any:
        items: list[Any] = []
        token = ""
        while True:
            request = api.ListEgressRequest(active=active)
            if room_name:
                request.room_name = room_name
            if egress_id:
                request.egress_id = egress_id
            if token:
                request.page_token.token = token
            response = await lk.egress.list_egress(request)
            items.extend(response.items)
            token = response.next_page_token.token if response.HasField("next_page_token") else ""
            if not token:
                return items

    return [egress_state(info) for info in run_or(call, [])]
