"""create_room: POST /rooms — create (201) or return (200) the room of a booking or session occurrence."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.logging import correlation_paths

from rooms.access import require_admin
from rooms.clock import utcnow
from rooms.http import build_resolver, current_caller
from rooms.observability import logger, metrics, tracer
from rooms.room.models import CreateRoomRequest, RoomView
from rooms.room.service import create_room

app = build_resolver()


@app.post("/rooms", summary="Create or return the room of a booking or service-session occurrence",
          responses={200: {"description": "The room already existed"}, 201: {"description": "Created"}},
          tags=["admin"])
def post_room(request: Annotated[CreateRoomRequest, Body()]) -> Response[RoomView]:
    caller = current_caller(app)
    require_admin(caller)
    room, created = create_room(request, caller=caller, now=utcnow())
    return Response(status_code=201 if created else 200, content_type="application/json",
                    body=room.model_dump(mode="json"))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event, context):
    return app.resolve(event, context)
