"""room_control: the host runs a session (participants, admit, mute, remove), attendance, quality samples."""

from typing import Annotated

from aws_lambda_powertools.logging import correlation_paths

from rooms.attendance import host_controls
from rooms.attendance.models import (
    AskUnmuteRequest,
    AttendanceView,
    HostActionResult,
    HostMessageRequest,
    MuteRequest,
    ParticipantsView,
    QualitySampleAccepted,
    QualitySampleIn,
)
from rooms.attendance.service import read_attendance, record_quality_sample
from rooms.audit import AuditView, read_audit
from rooms.clock import utcnow
from rooms.evidence.export import AttendanceExport, export_attendance
from rooms.http import Body, Response, build_resolver, current_caller
from rooms.observability import logger, metrics, tracer
from rooms.settings import get_settings

app = build_resolver()


@app.get("/rooms/<room_id>/participants", summary="Who is connected now, with their attendance (host)",
         tags=["host"])
def get_participants(room_id: str) -> ParticipantsView:
    return host_controls.list_participants(room_id, caller=current_caller(app), now=utcnow())


@app.get("/rooms/<room_id>/attendance", summary="Attendance for billing (host, or the platform backend)",
         tags=["host"])
def get_attendance(room_id: str) -> AttendanceView:
    return read_attendance(room_id, caller=current_caller(app), now=utcnow())


@app.get("/rooms/<room_id>/attendance/export", summary="Signed attendance export for a dispute (host, admin)",
         tags=["evidence"])
def get_attendance_export(room_id: str) -> AttendanceExport:
    return export_attendance(room_id, caller=current_caller(app), now=utcnow(), settings=get_settings())


@app.get("/rooms/<room_id>/audit", summary="Every action on the room, oldest first (host, admin)",
         tags=["evidence"])
def get_audit(room_id: str) -> AuditView:
    return read_audit(room_id, caller=current_caller(app))


@app.post("/rooms/<room_id>/participants/<identity>/admit", summary="Admit from the waiting room (host)",
          tags=["host"])
def post_admit(room_id: str, identity: str) -> HostActionResult:
    return host_controls.admit(room_id, identity, caller=current_caller(app), now=utcnow(), settings=get_settings())


@app.post("/rooms/<room_id>/participants/<identity>/mute", summary="Mute a participant's audio or video (host)",
          tags=["host"])
def post_mute(room_id: str, identity: str, request: Annotated[MuteRequest, Body()]) -> HostActionResult:
    return host_controls.mute(room_id, identity, request, caller=current_caller(app), now=utcnow(),
                              settings=get_settings())


@app.post("/rooms/<room_id>/participants/<identity>/message",
          summary="Message one participant, e.g. a client in the waiting room (host)", tags=["host"])
def post_message(room_id: str, identity: str, request: Annotated[HostMessageRequest, Body()]) -> HostActionResult:
    return host_controls.message(room_id, identity, request, caller=current_caller(app), now=utcnow(),
                                 settings=get_settings())


@app.post("/rooms/<room_id>/participants/<identity>/ask-unmute",
          summary="Ask a participant to unmute: a data message their client shows (host)", tags=["host"])
def post_ask_unmute(room_id: str, identity: str,
                    request: Annotated[AskUnmuteRequest, Body()]) -> HostActionResult:
    return host_controls.ask_unmute(room_id, identity, request, caller=current_caller(app), now=utcnow())


@app.delete("/rooms/<room_id>/participants/<identity>", summary="Remove a participant from the session (host)",
            tags=["host"])
def delete_participant(room_id: str, identity: str) -> HostActionResult:
    return host_controls.remove(room_id, identity, caller=current_caller(app), now=utcnow(), settings=get_settings())


@app.post("/rooms/<room_id>/quality", summary="Report a connection-quality sample (members)", tags=["members"],
          responses={201: {"description": "Recorded on the caller's attendance"}})
def post_quality(room_id: str, sample: Annotated[QualitySampleIn, Body()]) -> Response[QualitySampleAccepted]:
    accepted = record_quality_sample(room_id, sample, caller=current_caller(app), now=utcnow())
    return Response(status_code=201, content_type="application/json", body=accepted.model_dump(mode="json"))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event, context):
    return app.resolve(event, context)
