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
