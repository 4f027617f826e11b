"""Domain errors: each carries a stable machine-readable code and the HTTP status it maps to.

Domain code raises these; the HTTP layer turns them into JSON error bodies. Nothing here knows about
API Gateway.
"""

from __future__ import annotations


class RoomsError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None, **details):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.field = field
        self.details = details


class InvalidInput(RoomsError):
    status = 422
    code = "invalid_input"


class Unauthorized(RoomsError):
    status = 401
    code = "unauthorized"


class Forbidden(RoomsError):
    status = 403
    code = "forbidden"


class NotFound(RoomsError):
    status = 404
    code = "not_found"


class Conflict(RoomsError):
    status = 409
    code = "conflict"


class Gone(RoomsError):
    status = 410
    code = "gone"


class TooManyRequests(RoomsError):
    status = 429
    code = "rate_limited"


class UpstreamUnavailable(RoomsError):
    """LiveKit (or another dependency) failed; the caller may retry."""

    status = 503
    code = "upstream_unavailable"


# --- the error-code catalogue ----------------------------------------------------------------------------
# Every ``code`` an answer of ours can carry, with its status(es) and meaning: the one registry that
# docs/errors.md and the OpenAPI document (``Error.code``'s enum, ``x-error-codes``) are generated from
# (``rooms openapi``); tests/unit/test_error_codes.py fails when the code answers a code not listed here,
# or lists one nothing answers. ``source``: who answers it: "api" (our functions), "authorizer" (the JWT
# authorizer in front of every route: API Gateway's in AWS, rooms_local.auth locally), "gateway" (the
# local HTTP gateway, as API Gateway would).


class ErrorCode:
    __slots__ = ("code", "meaning", "source", "statuses")

    def __init__(self, code: str, statuses: tuple[int, ...], meaning: str, source: str = "api") -> None:
        self.code, self.statuses, self.meaning, self.source = code, statuses, meaning, source


def _catalogue(*entries: tuple) -> dict[str, ErrorCode]:
    return {e[0]: ErrorCode(*e) for e in entries}


ERROR_CODES: dict[str, ErrorCode] = _catalogue(
    # generic (a RoomsError raised without a more specific code)
    ("bad_request", (400,), "The request cannot be served as sent."),
    ("invalid_input", (422,), "A field's value is not accepted; `field` names it."),
    ("unauthorized", (401,), "The caller is not authenticated."),
    ("forbidden", (403,), "The caller may not do this."),
    ("not_found", (404,), "No such resource (also: a path no route serves)."),
    ("conflict", (409,), "The resource's state does not allow this."),
    ("gone", (410,), "The resource existed and is no longer available."),
    ("rate_limited", (429,), "Too many requests; retry later."),
    ("upstream_unavailable", (503,), "A dependency failed; retry."),
    # reading the request
    ("invalid_body", (400,), "The body is not UTF-8 text (or not valid base64 when marked so)."),
    ("unsupported_media_type", (415,), "The body is not application/json."),
    ("validation_error", (422,), "A path, query or body field is invalid; `field` and `errors` say which."),
    # who may
    ("unauthenticated", (401,), "The request reached a function without an authenticated caller."),
    ("admin_scope_required", (403,), "The route needs the rooms/admin scope."),
    ("not_a_member", (403, 422), "The caller (403) or the named user (422) is not a member of the room."),
    ("membership_revoked", (403,), "The caller's membership of the room was revoked."),
    ("host_only", (403,), "Only the room's host may do this."),
    ("recording_access_denied", (403,), "Recordings of this room are for the practitioner only."),
    ("recording_access_expired", (410,), "Members' access to this room's recordings has ended."),
    # rooms and members
    ("room_not_found", (404,), "No such room (or no room for this booking)."),
    ("member_not_found", (404,), "The user is not an (active) member of the room."),
    ("room_ended", (409,), "The room has ended (or was cancelled or expired) and cannot do this."),
    ("room_cancelled", (409,), "The room was cancelled."),
    ("room_expired", (410,), "The room expired: nobody opened it before its scheduled end."),
    ("room_not_live", (409,), "The room is not live (ended, cancelled or expired): members cannot change."),
    ("room_not_open", (409,), "The room has not been opened in LiveKit yet (join it first)."),
    ("room_not_running", (404, 409), "The room has no running LiveKit room right now."),
    ("room_update_race", (409,), "The room changed while it was being updated; retry."),
    ("not_changeable_live", (409,), "This setting cannot change while the LiveKit room is open."),
    ("recording_not_active", (409,), "The room must be recorded (recording_mandatory) and LiveKit has no egress "
     "running for it; `outcome` says whether a start is in flight (retry) or failed. Viewers are not refused."),
    ("room_full", (409,), "Every place in the room (max_participants, counted by LiveKit: phone callers too, "
     "recorders and agents not) is taken by someone else; a join token would be refused by LiveKit. Retry when "
     "someone leaves. The caller's own connection never counts: they may rejoin."),
    ("token_race", (409,), "Token issuance kept racing other requests of this member; retry after "
                           "retry_after_seconds (rare: races are retried inside first)."),
    ("invalid_schedule", (422,), "scheduled_end needs scheduled_start and must come after it."),
    ("duplicate_member", (422,), "members lists a user_id twice."),
    ("members_over_max_participants", (422,), "More members (host included) than max_participants."),
    ("max_participants_over_limit", (422,), "max_participants is above the template's limit."),
    ("room_type_required", (422,), "Give service_type, room_type or template: a room's kind is never guessed."),
    ("room_type_mismatch", (422,), "room_type contradicts the template or service type."),
    ("unknown_service_type", (422,), "service_type maps to no template; give room_type or template."),
    ("unknown_template", (422,), "No template of this name."),
    ("invalid_template", (422,), "The template body is not a valid template."),
    ("template_not_found", (404,), "No template override or custom template of this name."),
    # host controls
    ("participant_not_connected", (404,), "The participant is not connected to the room."),
    ("track_not_published", (404,), "The participant publishes no track of this kind."),
    ("cannot_remove_self", (422,), "The host cannot remove themselves."),
    ("remote_unmute_disabled", (409,), "The LiveKit server refuses remote unmute; ask the participant instead."),
    # attendance and quality
    ("not_connected", (409,), "The caller never connected to the room: no attendance to report on."),
    ("quality_samples_full", (409,), "The member reached the room's limit of quality samples."),
    ("sample_time_skew", (422,), "measured_at is more than 5 minutes away from now."),
    # recordings
    ("recording_not_found", (404,), "No such recording."),
    ("recording_disabled", (409,), "Recording is disabled for the room."),
    ("recording_running", (409,), "A recording is running or being started (stop it first)."),
    ("recording_not_running", (409,), "The recording is not running."),
    ("recording_not_available", (409,), "The recording's file is not available (yet, or any more)."),
    ("recording_consent_missing", (409,), "Recording needs the consent of every participant."),
    ("recording_compliance", (403, 409), "A compliance recording cannot be stopped (409) or deleted by members (403)."),
    ("recording_policy_locked", (422,), "The template records for compliance: recording cannot be changed."),
    ("consent_version_outdated", (409,), "The consent text version is not the room's current one."),
    ("livekit_refused", (503,), "LiveKit refused to start the recording (egress)."),
    # phone
    ("phone_not_enabled", (409,), "Phone is not enabled for the room."),
    ("dial_in_not_enabled", (404,), "The room has no phone dial-in."),
    ("sip_region_unavailable", (422,), "No dial-in number is configured for the region."),
    ("pin_unavailable", (409,), "No free dial-in PIN on the number right now; retry."),
    ("dial_out_not_found", (404,), "No dial-out with that id in the room."),
    ("dial_out_unavailable", (503,), "The dial-out could not be queued (the event bus refused it); retry."),
    ("dial_out_rate_limited", (429,), "The room reached its dial-out limit; see retry_after_seconds."),
    ("dial_out_not_configured", (503,), "Dial-out is not configured in this deployment."),
    ("call_me_not_allowed", (403,), "Only the host dials out: the room does not let members ask to be called "
                                    "(sip.call_me), or the caller is a viewer."),
    ("call_me_self_only", (403,), "A member may ask a call only for themselves: user_id must be the caller's."),
    ("call_me_waiting", (403,), "The member is still in the waiting room: the host admits them before a call."),
    ("dial_out_member_rate_limited", (429,), "The member asked to be called too often; see retry_after_seconds."),
    ("dial_out_not_yours", (403,), "A member sees only the calls they asked for; the host sees all."),
    # evidence
    ("legal_hold", (409,), "The room is under a legal hold: nothing of it may be deleted."),
    ("signing_key_missing", (503,), "No evidence signing key is configured."),
    # dependencies
    ("livekit_unavailable", (503,), "LiveKit did not answer in time or is unreachable; retry (what an ending or "
                                    "revocation owed LiveKit is finished by the sweeper)."),
    ("livekit_unauthenticated", (503,), "LiveKit refused the service's API key (alarmed: LiveKitAuthFailures)."),
    ("store_unavailable", (503,), "DynamoDB is unreachable or throttling; retry."),
    # the LiveKit webhook (webhook_handler)
    ("missing_signature", (401,), "Webhook without an Authorization header."),
    ("invalid_signature", (401,), "Webhook (or bearer token) signature does not verify."),
    ("invalid_event", (400,), "Signed webhook body that is not a LiveKit event."),
    # the JWT authorizer
    ("missing_token", (401,), "No Authorization header: send `Authorization: Bearer <JWT>`.", "authorizer"),
    ("malformed_token", (401,), "The Authorization header is not a bearer JWT.", "authorizer"),
    ("token_expired", (401,), "The bearer token has expired.", "authorizer"),
    ("token_not_yet_valid", (401,), "The bearer token is not valid yet (nbf).", "authorizer"),
    ("wrong_issuer", (401,), "The bearer token's issuer is not the configured one.", "authorizer"),
    ("wrong_audience", (401,), "The bearer token's audience is not the configured one.", "authorizer"),
    ("missing_claim", (401,), "The bearer token lacks exp, iss or sub.", "authorizer"),
    ("invalid_token", (401,), "The bearer token is not accepted (another reason).", "authorizer"),
    # the HTTP gateway
    ("method_not_allowed", (405,), "The path has no route for this method; `Allow` lists those it has.", "gateway"),
    ("internal_error", (500,), "A bug: the traceback is in the function's logs.", "gateway"),
)
