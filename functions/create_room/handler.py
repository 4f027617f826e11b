"""create_room: POST /rooms — create (201) or return (200) the room of a booking or session occurrence."""

from typing import Annotated

from aws_lambda_powertools.logging import correlation_paths

from rooms.access import require_admin
from rooms.clock import utcnow
from rooms.http import Body, Response, build_resolver, current_caller
from rooms.lifecycle.booking_events import confirm_room
from rooms.observability import logger, metrics, tracer
from rooms.room.models import CreateRoomRequest, RoomView
from rooms.settings import get_settings

app = build_resolver()


@app.post("/rooms", summary="Create or return the room of a booking or service-session occurrence",
          responses={200: {"description": "The room already existed"}, 201: {"description": "Created"},
                     409: {"description": "room_cancelled: the room of this booking or session was cancelled"}},
          tags=["admin"])
def post_room(request: Annotated[CreateRoomRequest, Body()]) -> Response[RoomView]:
    caller = current_caller(app)
    require_admin(caller)
    room, created = confirm_room(request, caller=caller, now=utcnow(), settings=get_settings())
    return Response(status_code=201 if created else 200, content_type="application/json",
                    body=room.model_dump(mode="json"))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event, context):
    return app.resolve(event, context)
