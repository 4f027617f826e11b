"""room_admin: the platform backend's administration (admin scope): members, ending rooms, templates."""

from typing import Annotated

from aws_lambda_powertools.logging import correlation_paths

from rooms.access import require_admin
from rooms.clock import utcnow
from rooms.evidence.models import ErasureReport
from rooms.evidence.retention import (
    LegalHoldRequest,
    LegalHoldView,
    place_legal_hold,
    read_legal_hold,
    release_legal_hold,
)
from rooms.http import Body, Path, Response, build_resolver, current_caller
from rooms.lifecycle.booking import cancel_room, update_room
from rooms.lifecycle.booking_models import CancelRoomRequest, CancelRoomResponse, UpdateRoomRequest
from rooms.lifecycle.ending import end_room
from rooms.observability import logger, metrics, tracer
from rooms.room.catalog import delete_template, list_templates, put_template
from rooms.room.membership import grant_membership, revoke_membership
from rooms.room.models import (
    EndRoomResponse,
    GrantMemberRequest,
    MemberView,
    RoomView,
    TemplateDeleted,
    TemplateIn,
    TemplateList,
    TemplateView,
)
from rooms.settings import get_settings

app = build_resolver()


@app.delete("/users/<user_id>/data", summary="Erase or pseudonymise a person's data across rooms (admin)",
            tags=["evidence"])
def delete_user_data(
    user_id: Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@+-]*$")],
) -> ErasureReport:
    # imported on use: an erasure reaches attendance, recordings and the evidence export, which this
    # function's other routes never need (its cold start: `make bench BENCH=cold_start`)
    from rooms.evidence.erasure import erase_user_data

    return erase_user_data(user_id, caller=current_caller(app), now=utcnow(), settings=get_settings())


@app.put("/rooms/<room_id>/legal-hold", summary="Place a legal hold: nothing of the room is deleted (admin)",
         tags=["evidence"])
def put_legal_hold(room_id: str, request: Annotated[LegalHoldRequest, Body()]) -> LegalHoldView:
    return place_legal_hold(room_id, request, caller=current_caller(app), now=utcnow(), settings=get_settings())


@app.get("/rooms/<room_id>/legal-hold", summary="The room's legal hold and pending retention deletions (admin)",
         tags=["evidence"])
def get_legal_hold(room_id: str) -> LegalHoldView:
    return read_legal_hold(room_id, caller=current_caller(app))


@app.delete("/rooms/<room_id>/legal-hold", summary="Release the legal hold (admin)", tags=["evidence"])
def delete_legal_hold(room_id: str) -> LegalHoldView:
    return release_legal_hold(room_id, caller=current_caller(app), now=utcnow(), settings=get_settings())


@app.put("/rooms/<room_id>/members/<user_id>", summary="Grant membership (role, display name)", tags=["admin"],
         responses={200: {"description": "The membership was updated"}, 201: {"description": "Granted"}})
def put_member(
    room_id: str,
    user_id: Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@+-]*$")],
    request: Annotated[GrantMemberRequest, Body()],
) -> Response[MemberView]:
    caller = current_caller(app)
    require_admin(caller)
    member, created = grant_membership(room_id, user_id, request, caller=caller, now=utcnow(), settings=get_settings())
    return Response(status_code=201 if created else 200, content_type="application/json",
                    body=member.model_dump(mode="json"))


@app.delete("/rooms/<room_id>/members/<user_id>", summary="Revoke membership: tokens revoked, removed from LiveKit",
            tags=["admin"])
def delete_member(room_id: str, user_id: str) -> MemberView:
    caller = current_caller(app)
    require_admin(caller)
    return revoke_membership(room_id, user_id, caller=caller, now=utcnow(), settings=get_settings())


@app.delete("/rooms/<room_id>", summary="End the room now", tags=["admin"])
def delete_room(room_id: str) -> EndRoomResponse:
    caller = current_caller(app)
    require_admin(caller)
    room, changed = end_room(room_id, caller=caller, now=utcnow(), settings=get_settings())
    return EndRoomResponse(room=room, changed=changed)


@app.patch("/rooms/<room_id>", summary="Reschedule a room or change its settings", tags=["admin"],
           responses={409: {"description": "room_ended, room_cancelled, or not_changeable_live (the field "
                                           "named cannot change while the LiveKit room is open)"}})
def patch_room(room_id: str, request: Annotated[UpdateRoomRequest, Body()]) -> RoomView:
    caller = current_caller(app)
    require_admin(caller)
    return update_room(room_id, request, actor=caller.user_id, now=utcnow(), settings=get_settings()).room


@app.post("/rooms/<room_id>/cancel", summary="Cancel a room: tokens revoked, everyone removed, PIN released",
          tags=["admin"], responses={409: {"description": "room_ended: the room already ended"}})
def post_cancel(room_id: str, request: Annotated[CancelRoomRequest | None, Body()] = None) -> CancelRoomResponse:
    caller = current_caller(app)
    require_admin(caller)
    room, changed = cancel_room(room_id, actor=caller.user_id, now=utcnow(),
                                reason=request.reason if request else None, settings=get_settings())
    return CancelRoomResponse(room=room, changed=changed)


@app.get("/templates", summary="Room templates (built-in, overridden, custom)", tags=["admin"])
def get_templates() -> TemplateList:
    require_admin(current_caller(app))
    return list_templates()


@app.put("/templates/<name>", summary="Override a built-in template or define a custom one", tags=["admin"])
def put_template_route(
    name: Annotated[str, Path(pattern=r"^[a-z][a-z0-9_-]{0,62}$")],
    request: Annotated[TemplateIn, Body()],
) -> TemplateView:
    caller = current_caller(app)
    require_admin(caller)
    return put_template(name, request, actor=caller.user_id, now=utcnow())


@app.delete("/templates/<name>", summary="Back to the built-in template (or remove a custom one)", tags=["admin"])
def delete_template_route(name: Annotated[str, Path(pattern=r"^[a-z][a-z0-9_-]{0,62}$")]) -> TemplateDeleted:
    caller = current_caller(app)
    require_admin(caller)
    return delete_template(name, actor=caller.user_id)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event, context):
    return app.resolve(event, context)
