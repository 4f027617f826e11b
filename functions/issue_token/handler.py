"""issue_token: a member's LiveKit join token (the LiveKit room is created at the first request)."""

from typing import Annotated

from aws_lambda_powertools.logging import correlation_paths

from rooms.clock import utcnow
from rooms.http import Body, build_resolver, current_caller
from rooms.observability import logger, metrics, tracer
from rooms.room.ids import room_id_for_booking, room_id_for_session
from rooms.room.join import issue_join_token
from rooms.room.models import TokenRequest, TokenResponse
from rooms.settings import get_settings

app = build_resolver()


def _issue(room_id: str, request: TokenRequest | None) -> TokenResponse:
    return issue_join_token(room_id, caller=current_caller(app), now=utcnow(),
                            name=request.name if request else None, settings=get_settings())


@app.post("/rooms/<room_id>/token", summary="Join token for a room", tags=["members"])
def room_token(room_id: str, request: Annotated[TokenRequest | None, Body()] = None) -> TokenResponse:
    return _issue(room_id, request)


@app.post("/bookings/<booking_id>/room/token", summary="Join token for a booking's room", tags=["members"])
def booking_token(booking_id: str, request: Annotated[TokenRequest | None, Body()] = None) -> TokenResponse:
    return _issue(room_id_for_booking(booking_id), request)


@app.post("/sessions/<service_session_id>/room/token", summary="Join token for a session's room",
          tags=["members"])
def session_token(service_session_id: str, request: Annotated[TokenRequest | None, Body()] = None) -> TokenResponse:
    return _issue(room_id_for_session(service_session_id), request)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event, context):
    return app.resolve(event, context)
