"""What every HTTP function shares: the resolver with validation, error bodies, the caller.

Error bodies are ``{"code", "message", "field"?, "errors"?}`` with a stable ``code``; nothing a caller
can send produces a 500.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from rooms.access import Caller
from rooms.errors import RoomsError, Unauthorized
from rooms.observability import logger

OPENAPI_TITLE = "Rooms API"
OPENAPI_VERSION = "1.0.0"


def error_response(status: int, code: str, message: str, **extra: Any) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    body.update({k: v for k, v in extra.items() if v is not None})
    return Response(status_code=status, content_type="application/json", body=body)


def _field_path(loc: tuple | list) -> str:
    parts = [str(p) for p in loc if p not in ("body", "path", "query")]
    return ".".join(parts) or str(loc[0] if loc else "body")


def build_resolver() -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver(enable_validation=True)

    @app.exception_handler(RequestValidationError)
    def _invalid(err: RequestValidationError) -> Response:
        errors = []
        for e in err.errors():
            loc = e.get("loc", ())
            field = _field_path(loc)
            message = e.get("msg", "invalid value")
            if e.get("type") == "json_invalid":
                field, message = "body", "request body is not valid JSON"
            elif e.get("type") == "missing" and field in ("body", ""):
                field, message = "body", "request body is required"
            errors.append({"field": field, "message": message, "type": e.get("type")})
        first = errors[0] if errors else {"field": "body", "message": "invalid request"}
        return error_response(
            422, "validation_error", f"{first['field']}: {first['message']}", field=first["field"], errors=errors
        )

    @app.exception_handler(RoomsError)
    def _domain(err: RoomsError) -> Response:
        if err.status >= 500:
            logger.warning("dependency failure", extra={"code": err.code, "error": err.message})
        return error_response(err.status, err.code, err.message, field=err.field, **err.details)

    return app


def current_caller(app: APIGatewayHttpResolver) -> Caller:
    """The caller as API Gateway's JWT authorizer saw it (claims are passed through, as strings)."""
    authorizer = app.current_event.request_context.authorizer
    claims = (authorizer.jwt_claim if authorizer else None) or {}
    sub = claims.get("sub")
    if not sub:
        raise Unauthorized("no authenticated caller", code="unauthenticated")
    scopes = set(str(claims.get("scope", "")).split())
    scopes.update(authorizer.jwt_scopes or [])
    return Caller(user_id=str(sub), scopes=frozenset(scopes), name=claims.get("name"))
