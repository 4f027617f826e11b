"""Roles and the LiveKit grants each one carries.

The server decides the role; the client never picks it. Grants are expressed in LiveKit's own JWT
vocabulary (the camelCase ``video`` claim) so the token module can sign them without importing
``livekit.api``.
"""

from __future__ import annotations

from typing import Literal

Role = Literal["host", "participant", "viewer", "recorder"]


def video_grants(role: Role, room: str, *, waiting: bool = False) -> dict[str, object]:
    """The ``video`` claim for ``role`` in ``room``: never a server-API grant.

    LiveKit defaults canPublish/canSubscribe/canPublishData to true, so every denial is explicit.
    A participant held in the waiting room can neither publish nor subscribe (nor send data) until
    the host admits them with an UpdateParticipant permission change.
    """
    if role in ("host", "participant"):
        # No server-API grant for a browser, host included: LiveKit's roomRecord is project-wide (any
        # room's egress, EnsureRecordPermission has no room scope) and roomAdmin lets the holder call
        # RoomService directly, past our policy. Host powers go through our API.
        grants: dict[str, object] = {"roomJoin": True, "canPublish": True, "canSubscribe": True, "canPublishData": True}
    elif role == "viewer":
        grants = {"roomJoin": True, "canPublish": False, "canSubscribe": True, "canPublishData": False}
    elif role == "recorder":
        grants = {
            "roomJoin": True,
            "recorder": True,
            "hidden": True,
            "canSubscribe": True,
            "canPublish": False,
            "canPublishData": False,
        }
    else:  # pragma: no cover - Literal guards this
        raise ValueError(f"unknown role {role!r}")
    if waiting and role != "host":
        grants.update(canPublish=False, canSubscribe=False, canPublishData=False)
    grants["room"] = room
    return grants


def admitted_permission(role: Role) -> dict[str, bool]:
    """The ParticipantPermission a waiting participant gets when the host admits them."""
    grants = video_grants(role, room="")
    return {
        "can_publish": bool(grants["canPublish"]),
        "can_subscribe": bool(grants["canSubscribe"]),
        "can_publish_data": bool(grants["canPublishData"]),
    }
