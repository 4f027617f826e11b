"""sip_dial: phone dial-in details (members) and dial-out (host) through LiveKit SIP."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.logging import correlation_paths

from rooms.clock import utcnow
from rooms.http import build_resolver, current_caller
from rooms.observability import logger, metrics, tracer
from rooms.phone.service import dial_out, get_dial_in
from rooms.room.models import DialIn, DialOutRequest, DialOutResponse

app = build_resolver()


@app.get("/rooms/<room_id>/dial-in", summary="The room's dial-in number and PIN", tags=["members"])
def get_room_dial_in(room_id: str) -> DialIn:
    return get_dial_in(room_id, caller=current_caller(app))


@app.post("/rooms/<room_id>/dial-out", summary="Call a phone into the room (host)", tags=["host"],
          responses={429: {"description": "Too many dial-outs for this room; see retry_after_seconds"}})
def post_room_dial_out(room_id: str, request: Annotated[DialOutRequest, Body()]) -> DialOutResponse:
    return dial_out(room_id, request, caller=current_caller(app), now=utcnow())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event, context):
    return app.resolve(event, context)
