"""sip_dial: phone dial-in details (members) and dial-out (host; "call me" members) through LiveKit SIP.

A dial-out is answered 202 with its ``dial_out_id``: the call is placed by the ``dial_out_worker`` function
(asynchronous), and its outcome is read at ``GET …/dial-outs/{dial_out_id}``."""

from typing import Annotated

from aws_lambda_powertools.logging import correlation_paths

from rooms.clock import utcnow
from rooms.http import Body, Response, build_resolver, current_caller
from rooms.observability import logger, metrics, tracer
from rooms.phone.dial_out import get_dial_out, list_dial_outs, request_dial_out
from rooms.phone.service import get_dial_in
from rooms.room.models import DialIn, DialOutList, DialOutRequest, DialOutResponse
from rooms.settings import get_settings

app = build_resolver()
_DIAL_OUT_SCHEMA = {"$ref": "#/components/schemas/DialOutResponse"}


@app.get("/rooms/<room_id>/dial-in", summary="The room's dial-in number and PIN", tags=["members"])
def get_room_dial_in(room_id: str) -> DialIn:
    return get_dial_in(room_id, caller=current_caller(app))


@app.post("/rooms/<room_id>/dial-out", summary="Call a phone into the room (host; or a participant "
                                            "asking to be called themselves where sip.call_me); placed asynchronously",
          tags=["host"],
          responses={202: {"description": "Requested: follow it at GET /rooms/{room_id}/dial-outs/{dial_out_id}",
                           "content": {"application/json": {"schema": _DIAL_OUT_SCHEMA}}},
                     429: {"description": "Too many dial-outs for this room (dial_out_rate_limited) or asked by "
                                          "this member (dial_out_member_rate_limited); see retry_after_seconds"}})
def post_room_dial_out(room_id: str, request: Annotated[DialOutRequest, Body()]) -> Response[DialOutResponse]:
    accepted = request_dial_out(room_id, request, caller=current_caller(app), now=utcnow(), settings=get_settings())
    return Response(status_code=202, content_type="application/json", body=accepted.model_dump(mode="json"))


@app.get("/rooms/<room_id>/dial-outs", summary="The room's dial-outs and their outcomes (host)", tags=["host"])
def get_room_dial_outs(room_id: str) -> DialOutList:
    return list_dial_outs(room_id, caller=current_caller(app))


@app.get("/rooms/<room_id>/dial-outs/<dial_out_id>", summary="One dial-out and its outcome (host; a member: their own)",
         tags=["host"])
def get_room_dial_out(room_id: str, dial_out_id: str) -> DialOutResponse:
    return get_dial_out(room_id, dial_out_id, caller=current_caller(app))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event, context):
    return app.resolve(event, context)
