"""What every HTTP function shares: the resolver with validation, error bodies, the caller.

Error bodies are ``{"code", "message", "field"?, "errors"?}`` with a stable ``code``; nothing a caller
can send produces a 500.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from rooms.lazy_imports import POWERTOOLS_DATA_CLASSES, POWERTOOLS_EVENT_HANDLER, lazy_package

# Before any Powertools event-handler import: only the submodules the resolver uses are imported.
lazy_package(POWERTOOLS_EVENT_HANDLER)
lazy_package(POWERTOOLS_DATA_CLASSES)

from aws_lambda_powertools.event_handler.api_gateway import APIGatewayHttpResolver, Response  # noqa: E402
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import (  # noqa: E402
    OpenAPIRequestValidationMiddleware,
)
from aws_lambda_powertools.event_handler.openapi.exceptions import (  # noqa: E402
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Body as Body  # noqa: E402 (handlers' parameters)
from aws_lambda_powertools.event_handler.openapi.params import Path as Path  # noqa: E402

from rooms import store  # noqa: E402
from rooms.access import Caller  # noqa: E402
from rooms.errors import RoomsError, Unauthorized  # noqa: E402
from rooms.observability import logger  # noqa: E402

OPENAPI_TITLE = "Rooms API"
OPENAPI_VERSION = "1.0.0"


def error_response(status: int, code: str, message: str, **extra: Any) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    body.update({k: v for k, v in extra.items() if v is not None})
    return Response(status_code=status, content_type="application/json", body=body)


def _field_path(loc: tuple | list) -> str:
    parts = [str(p) for p in loc if p not in ("body", "path", "query")]
    return ".".join(parts) or str(loc[0] if loc else "body")


class InvalidBody(RoomsError):
    """The request body cannot be read at all (not UTF-8, not base64, not JSON we can parse)."""

    status = 400
    code = "invalid_body"


def _is_json_media_type(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return not media or media == "application/json" or media.endswith("+json")


def read_json_body(body: str | None, *, is_base64: bool, content_type: str) -> Any:
    """The JSON value of a request body, or None when there is none (an empty body of any type is no body).

    Raises ``RequestUnsupportedContentType`` (→ 415) for a non-JSON type, ``InvalidBody`` (→ 400) for
    bytes that are not UTF-8, and ``RequestValidationError`` (→ 422 ``validation_error``) for text that
    is not JSON Python can hold (invalid, nested past the interpreter's recursion limit, an integer of
    more digits than ``int`` parses).
    """
    if not body:
        return None
    if is_base64:
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as err:
            raise InvalidBody("request body is marked base64 but is not valid base64") from err
    else:
        data = body.encode("utf-8", "surrogatepass")
    if not data:
        return None
    if not _is_json_media_type(content_type):
        raise RequestUnsupportedContentType("Unsupported content type", errors=[{
            "type": "unsupported_content_type", "loc": ("body",),
            "msg": f"content type {content_type!r} is not accepted: send application/json",
        }])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InvalidBody(f"request body is not UTF-8 (byte {err.start}): send JSON encoded as UTF-8",
                          field="body") from err
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        problem = f"{err.msg} at position {err.pos}"
    except RecursionError:
        problem = "nested too deeply"
    except ValueError as err:  # e.g. an integer literal longer than sys.get_int_max_str_digits()
        problem = str(err).split(";", 1)[0]
    raise RequestValidationError([{"type": "json_invalid", "loc": ("body",), "msg": problem, "input": {}}])


MAX_PATH_PARAMETER_BYTES = 256


class _JsonBodyValidation(OpenAPIRequestValidationMiddleware):
    """Powertools' request validation, reading the body with ``read_json_body``.

    Powertools decodes the body with ``str.decode()`` and ``json.loads`` and lets UnicodeDecodeError,
    RecursionError, ValueError (long integers) and multipart parsing errors escape as 500s, and answers
    an empty ``text/plain`` body with 415; our routes take JSON only, so the body is read here instead.
    ``_get_body`` is Powertools' own extension point in 3.37 (pinned); tests/integration/test_bad_bodies.py holds it.
    """

    def handler(self, app: Any, next_middleware: Any) -> Any:
        # Path parameters end up in DynamoDB keys (sort keys hold at most 1024 bytes, and moto does not
        # enforce it): longer ids cannot name anything we store, so they are refused by name.
        for name, value in (app.current_event.path_parameters or {}).items():
            if len(value.encode("utf-8", "surrogatepass")) > MAX_PATH_PARAMETER_BYTES:
                raise RequestValidationError([{
                    "type": "string_too_long", "loc": ("path", name),
                    "msg": f"at most {MAX_PATH_PARAMETER_BYTES} bytes", "input": {}}])
        return super().handler(app, next_middleware)

    def _get_body(self, app: Any) -> Any:
        event = app.current_event
        return read_json_body(event.body, is_base64=event.is_base64_encoded,
                              content_type=event.headers.get("content-type", ""))


def build_resolver() -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver(enable_validation=True)
    app._request_validation_middleware = _JsonBodyValidation()

    @app.not_found
    def _no_route(_err: Exception) -> Response:
        # API Gateway matched the route, but Powertools' path patterns refuse some characters the
        # gateway accepts (e.g. U+00AD in a path parameter): answer in our shape, not Powertools'.
        return error_response(404, "not_found", "no such resource: the path has characters no id contains")

    @app.exception_handler(RequestUnsupportedContentType)
    def _unsupported(err: RequestUnsupportedContentType) -> Response:
        message = next((e.get("msg") for e in err.errors() if e.get("msg")), "send application/json")
        return error_response(415, "unsupported_media_type", message, field="body")

    @app.exception_handler(RequestValidationError)
    def _invalid(err: RequestValidationError) -> Response:
        errors = []
        for e in err.errors():
            loc = e.get("loc", ())
            field = _field_path(loc)
            message = e.get("msg", "invalid value")
            if e.get("type") == "json_invalid":
                field, message = "body", f"request body is not valid JSON: {e.get('msg')}"
            elif e.get("type") == "missing" and field in ("body", ""):
                field, message = "body", "request body is required"
            errors.append({"field": field, "message": message, "type": e.get("type")})
        first = errors[0] if errors else {"field": "body", "message": "invalid request"}
        return error_response(
            422, "validation_error", f"{first['field']}: {first['message']}", field=first["field"], errors=errors
        )

    @app.exception_handler(list(store.STORE_ERRORS))
    def _store(err: Exception) -> Response:
        if not store.unavailable(err):
            raise err  # a bug, not an outage: Lambda's 500, with the traceback in the logs
        logger.warning("DynamoDB unavailable", extra={"error": repr(err)})
        return error_response(503, "store_unavailable", "the room store is unavailable right now; retry shortly")

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
