"""recording_control: start/stop/list recordings, expiring URLs, delete, recording consent."""

from typing import Annotated

from aws_lambda_powertools.logging import correlation_paths

from rooms.clock import utcnow
from rooms.http import Body, build_resolver, current_caller
from rooms.observability import logger, metrics, tracer
from rooms.recordings.models import (
    ConsentRequest,
    DeletedRecording,
    RecordingConsentView,
    RecordingList,
    RecordingUrl,
    RecordingView,
)
from rooms.recordings.service import (
    delete_recording,
    give_consent,
    list_room_recordings,
    recording_url,
    start_recording,
    stop_recording,
    withdraw_consent,
)
from rooms.settings import get_settings

app = build_resolver()


@app.get("/rooms/<room_id>/recordings", summary="Recordings of a room the caller may see", tags=["members"])
def get_recordings(room_id: str) -> RecordingList:
    return list_room_recordings(room_id, caller=current_caller(app), now=utcnow())


@app.post("/rooms/<room_id>/recordings", summary="Start recording the room (host)", tags=["host"],
          responses={409: {"description": "Recording disabled, already running, or consent missing"}})
def post_recording(room_id: str) -> RecordingView:
    return start_recording(room_id, caller=current_caller(app), now=utcnow(), settings=get_settings())


@app.post("/rooms/<room_id>/recordings/<recording_id>/stop", summary="Stop a recording (host)", tags=["host"],
          responses={409: {"description": "Not running, or a compliance recording"}})
def post_stop(room_id: str, recording_id: str) -> RecordingView:
    return stop_recording(room_id, recording_id, caller=current_caller(app), now=utcnow(), settings=get_settings())


@app.get("/recordings/<recording_id>/url", summary="An expiring URL of a recording", tags=["members"],
         responses={403: {"description": "Not allowed"}, 410: {"description": "Access ended"}})
def get_recording_url(recording_id: str) -> RecordingUrl:
    return recording_url(recording_id, caller=current_caller(app), now=utcnow(), settings=get_settings())


@app.delete("/recordings/<recording_id>", summary="Delete a recording: file and record (admin or host)",
            tags=["host"])
def delete_recording_route(recording_id: str) -> DeletedRecording:
    return delete_recording(recording_id, caller=current_caller(app), now=utcnow(), settings=get_settings())


@app.post("/rooms/<room_id>/recording-consent", summary="Consent to being recorded in this room", tags=["members"])
def post_consent(room_id: str,
                 request: Annotated[ConsentRequest | None, Body()] = None) -> RecordingConsentView:
    return give_consent(room_id, request, caller=current_caller(app), now=utcnow(), settings=get_settings())


@app.delete("/rooms/<room_id>/recording-consent", summary="Withdraw recording consent", tags=["members"])
def delete_consent(room_id: str,
                   request: Annotated[ConsentRequest | None, Body()] = None) -> RecordingConsentView:
    """Withdrawal stops a running optional recording (its file ends there: egress cannot pause a file)."""
    return withdraw_consent(room_id, request, caller=current_caller(app), now=utcnow(), settings=get_settings())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event, context):
    return app.resolve(event, context)
