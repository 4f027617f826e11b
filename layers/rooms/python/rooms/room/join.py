"""Join tokens: who gets one, with which grants, and the LiveKit room created just in time."""

from __future__ import annotations

import random
import time
import uuid
from datetime import datetime, timedelta

from rooms import audit, metric_names, store
from rooms.access import Caller, require_member, require_room
from rooms.clock import iso
from rooms.errors import Conflict, Forbidden, Gone
from rooms.livekit_gateway.client import livekit_credentials
from rooms.observability import logger, metrics
from rooms.phone import numbers as phone_numbers
from rooms.phone import service as phone
from rooms.room.livekit_room import OPENABLE, open_livekit_room, room_config, room_link
from rooms.room.models import TokenResponse
from rooms.room.status import RoomStatus, is_over
from rooms.room.tokens import mint_join_token
from rooms.settings import Settings
from rooms.store import JoinTokenRecord, Member, RoomItem

# Attempts at the member's conditional write before answering 409 token_race (with retry_after_seconds),
# and the jittered backoff between them (uniform in [0, min(cap, base * 2**attempt)]).
_MAX_ATTEMPTS = 12
_BACKOFF_BASE_S = 0.01
_BACKOFF_CAP_S = 0.5


def issue_join_token(room_id: str, *, caller: Caller, now: datetime, name: str | None = None,
                     settings: Settings) -> TokenResponse:
    """Issue the caller's join token for a room, superseding the previous one.

    Steady state costs two DynamoDB round trips: one BatchGetItem (room + membership) and one
    TransactWriteItems (token record, membership's live token, previous token superseded, and on the
    first join the room's LiveKit state).
    """
    for attempt in range(_MAX_ATTEMPTS):
        if attempt:
            # Lost the member's conditional write to a concurrent request (the same member asking twice
            # at once: tabs, retries): wait a little (jittered, growing) and re-read consistently, so the
            # race stays invisible to clients. One request wins each round, so the bound covers bursts.
            time.sleep(random.uniform(0, min(_BACKOFF_CAP_S, _BACKOFF_BASE_S * 2 ** attempt)))  # noqa: S311
        room, member = store.get_room_and_member(room_id, caller.user_id, consistent=attempt > 0)
        room = require_room(room, room_id)
        member = require_member(caller, room, member)
        _require_joinable(room)
        response = _issue(room, member, caller=caller, now=now, name=name, settings=settings)
        if response is not None:
            return response
    raise Conflict("token issuance raced with other requests of this member; retry", code="token_race",
                   retry_after_seconds=1)


def _require_joinable(room: RoomItem) -> None:
    if room.status == RoomStatus.EXPIRED:
        raise Gone(f"room {room.room_id} has expired", code="room_expired")
    if room.status == RoomStatus.CANCELLED:
        raise Conflict(f"room {room.room_id} was cancelled", code="room_cancelled")
    if is_over(room.status):
        raise Conflict(f"room {room.room_id} is {room.status}", code="room_ended")


def _issue(room: RoomItem, member: Member, *, caller: Caller, now: datetime, name: str | None,
           settings: Settings) -> TokenResponse | None:
    role = member.role
    waiting = bool(room.waiting_room) and role != "host" and not member.admitted_at

    room_updates: list = []
    room_condition = None
    if not room.livekit_created_at:
        # Just in time: the LiveKit room exists from the first token request on, not from booking time.
        room_updates = open_livekit_room(room, now=now, settings=settings)
        room_condition = OPENABLE
    elif may_be_full(room):
        _require_seat(room, member.user_id)

    if room.recording_mandatory and role != "viewer":
        _require_recording(room, now=now, settings=settings)

    config = room_config(room, now=now, settings=settings)
    # the PIN's dispatch rule (no-op once it exists)
    phone.on_livekit_room_open(room, now=now, settings=settings, config=config)

    creds = livekit_credentials(settings)
    jti = uuid.uuid4().hex
    token = mint_join_token(
        api_key=creds.api_key,
        api_secret=creds.api_secret,
        room=room.livekit_room,
        identity=member.user_id,
        name=name or member.name or caller.name or "",
        role=role,
        jti=jti,
        now=now,
        ttl=timedelta(seconds=settings.token_ttl_seconds),
        waiting=waiting,
        metadata=_participant_metadata(room, role),
        attributes={"rooms.role": role, "rooms.jti": jti},
        room_config=config.claim(),
    )
    issued_at, expires_at = iso(token.issued_at), iso(token.expires_at)
    record = JoinTokenRecord(
        room.pk,
        JoinTokenRecord.sort_key(member.user_id, issued_at, jti),
        room_id=room.room_id,
        jti=jti,
        identity=member.user_id,
        role=role,
        waiting=waiting,
        issued_at=issued_at,
        expires_at=expires_at,
        ttl=token.expires_at + timedelta(days=30),
    )
    try:
        done = store.record_issued_token(
            room=room, member=member, record=record, room_updates=room_updates, room_condition=room_condition,
            audit=[audit.entry(room, at=issued_at, actor=caller.user_id, action="token.issued",
                               target=member.user_id, details={"role": role, "waiting": waiting, "jti": jti,
                                                               "expires_at": expires_at}, settings=settings)],
        )
    except PermissionError:
        raise Forbidden("your membership of this room was revoked", code="membership_revoked") from None
    if not done:
        return None
    metrics.add_metric(name=metric_names.TOKENS_ISSUED, unit="Count", value=1)
    logger.info(
        "join token issued",
        extra={"action": "token.issue", "actor": caller.user_id, "room_id": room.room_id, "role": role,
               "waiting": waiting, "jti": jti},
    )
    return TokenResponse(
        token=token.jwt,
        server_url=settings.client_url,
        identity=member.user_id,
        role=role,
        expires_at=expires_at,
        waiting=waiting,
        room_id=room.room_id,
        livekit_room=room.livekit_room,
        dial_in=phone_numbers.dial_in_details(room),
    )


def may_be_full(room: RoomItem) -> bool:
    """The room's ``connected_hint`` (kept by the participant webhooks, from the room item this request
    already read: no round trip) says every seat may be taken. Only then is LiveKit asked."""
    return int(room.connected_hint or 0) >= int(room.max_participants)


def seats_taken(participants, identity: str) -> int:
    """The seats LiveKit counts against max participants that ``identity`` would not take back: every
    participant but the dependent ones (egress, agents) and ``identity``'s own connection, which LiveKit
    replaces when the same identity joins again (a reload, a second tab)."""
    from rooms.livekit_gateway.room_service import counts_toward_max

    return sum(1 for p in participants if p.identity != identity and counts_toward_max(p))


def _require_seat(room: RoomItem, identity: str) -> None:
    """409 room_full when LiveKit confirms the room is full for ``identity`` (LiveKit itself would refuse
    the join with an error the browser cannot read); a hint that drifted only costs this one
    ListParticipants, never a refusal. Hosts too: LiveKit refuses them alike."""
    from rooms.livekit_gateway.room_service import list_live_participants

    taken = seats_taken(list_live_participants(room.livekit_room), identity)
    if taken >= int(room.max_participants):
        logger.info("join refused: room full", extra={"action": "token.room_full", "actor": identity,
                                                      "room_id": room.room_id, "connected": taken,
                                                      "max_participants": int(room.max_participants)})
        raise Conflict(f"room {room.room_id} is full: all {int(room.max_participants)} places are taken; "
                       "try again when someone leaves", code="room_full",
                       max_participants=int(room.max_participants))


def _require_recording(room: RoomItem, *, now: datetime, settings: Settings) -> None:
    """A room whose template makes recording mandatory admits nobody who may publish unless LiveKit has
    its egress running (started here if missing). "Running" is starting or active: a room composite stays
    EGRESS_STARTING until a track is published, so requiring ACTIVE would lock out the first publisher.
    Viewers (who cannot publish) are admitted either way."""
    # (imported here: only mandatory-recording rooms need it, and the token path's cold start does not)
    from rooms.recordings.ensure import VERIFIED, verify_recording

    outcome = verify_recording(room, settings=settings, now=now, reason="join")
    if outcome not in VERIFIED:
        detail = "a recording start is in flight; retry" if outcome == "in_flight" else "it cannot be started"
        raise Conflict(f"room {room.room_id} must be recorded and is not ({detail})", code="recording_not_active",
                       outcome=outcome)


def _participant_metadata(room: RoomItem, role: str) -> dict[str, str]:
    return {"room_id": room.room_id, "role": role, **room_link(room)}
