"""room_query: members (and the platform backend) read a room, by id or by what it belongs to."""

from aws_lambda_powertools.logging import correlation_paths

from rooms.http import build_resolver, current_caller
from rooms.observability import logger, metrics, tracer
from rooms.room.ids import room_id_for_booking, room_id_for_session
from rooms.room.models import RoomView
from rooms.room.service import read_room

app = build_resolver()


@app.get("/rooms/<room_id>", summary="A room", tags=["members"])
def get_room(room_id: str) -> RoomView:
    return read_room(room_id, caller=current_caller(app))


@app.get("/bookings/<booking_id>/room", summary="The room of a booking", tags=["members"])
def get_booking_room(booking_id: str) -> RoomView:
    return read_room(room_id_for_booking(booking_id), caller=current_caller(app))


@app.get("/sessions/<service_session_id>/room", summary="The room of a service-session occurrence",
         tags=["members"])
def get_session_room(service_session_id: str) -> RoomView:
    return read_room(room_id_for_session(service_session_id), caller=current_caller(app))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event, context):
    return app.resolve(event, context)
