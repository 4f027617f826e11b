"""The API's OpenAPI document, generated from the code (each HTTP function's Powertools resolver)
and merged into one; committed as docs/openapi.json and served with Swagger UI by the local stack."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rooms_local.config import ROOT
from rooms_local.lambda_runtime import load_function, routes_manifest

DOCUMENT = ROOT / "docs" / "openapi.json"
ERROR_CATALOGUE = ROOT / "docs" / "errors.md"
SWAGGER_ASSETS = {
    "swagger-ui-bundle.min.js": "application/javascript",
    "swagger-ui.min.css": "text/css",
}


# The committed document names the default local URL; the running stack serves its own (rooms_local.gateway).
DEFAULT_SERVER_URL = "http://127.0.0.1:3000"


def generate(server_url: str = DEFAULT_SERVER_URL) -> dict[str, Any]:
    from rooms.http import OPENAPI_TITLE, OPENAPI_VERSION

    merged: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for name in sorted(routes_manifest()):
        app = load_function(name).app
        doc = json.loads(app.get_openapi_json_schema(title=OPENAPI_TITLE, version=OPENAPI_VERSION))
        merged.setdefault("openapi", doc["openapi"])
        merged.setdefault("info", doc["info"])
        for path, ops in doc.get("paths", {}).items():
            for op in ops.values():
                op["x-lambda-function"] = name
            paths.setdefault(path, {}).update(ops)
        schemas.update(doc.get("components", {}).get("schemas", {}))
    merged["info"]["description"] = (
        "Video rooms for a booking platform on LiveKit. Every route needs a bearer JWT (API Gateway "
        "JWT authorizer); admin routes need the rooms/admin scope. Errors are "
        '{"code", "message", "field"?} with a stable code.'
    )
    merged["servers"] = [{"url": server_url, "description": "local stack"}]
    merged["paths"] = dict(sorted(paths.items()))
    merged["components"] = {
        "schemas": dict(sorted(schemas.items())),
        "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
    }
    merged["security"] = [{"bearerAuth": []}]
    _document_errors(merged)
    merged["x-error-codes"] = _error_codes()
    return merged


def _error_codes() -> list[dict[str, Any]]:
    """The error-code catalogue (rooms.errors.ERROR_CODES), as the document's ``x-error-codes``."""
    from rooms.errors import ERROR_CODES

    return [{"code": e.code, "statuses": list(e.statuses), "meaning": e.meaning, "source": e.source}
            for e in sorted(ERROR_CODES.values(), key=lambda e: (min(e.statuses), e.code))]


ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "required": ["code", "message"],
    "properties": {
        "code": {"type": "string", "description": "Stable machine-readable code"},
        "message": {"type": "string", "description": "What went wrong, for a person"},
        "field": {"type": "string", "description": "The request field at fault, when there is one"},
        "errors": {"type": "array", "description": "Every validation problem (422)", "items": {
            "type": "object", "properties": {"field": {"type": "string"}, "message": {"type": "string"},
                                             "type": {"type": "string"}}}},
    },
    "additionalProperties": True,  # some codes carry details (retry_after_seconds, sip_status_code, ...)
}

# Answers every route can give (the authorizer's 401, LiveKit or DynamoDB unavailable), and those of
# routes with path parameters, bodies, or writes.
_ERRORS_ALL = {401: "Missing or invalid bearer token (see README: code says why)",
               403: "The caller may not do this", 503: "LiveKit or DynamoDB unavailable; retry",
               422: "Invalid path, query or body field (code validation_error or the field's own code)"}
_ERRORS_PATH = {404: "No such room, member, recording or template"}
_ERRORS_BODY = {400: "The body is not UTF-8 (invalid_body)", 415: "The body is not application/json"}
_ERRORS_WRITE = {409: "The state does not allow it (the code says which state)"}


def _document_errors(doc: dict[str, Any]) -> None:
    """Every error status a route answers, with our ``Error`` body (Powertools documents FastAPI's 422
    shape, and puts the success model on any status given in ``responses=``); a route whose success
    model landed on an error status gets it back on 200."""
    from rooms.errors import ERROR_CODES

    schema = json.loads(json.dumps(ERROR_SCHEMA))
    schema["properties"]["code"]["enum"] = sorted(ERROR_CODES)  # every code: the catalogue (x-error-codes)
    schema["properties"]["code"]["description"] += " (docs/errors.md and x-error-codes say what each means)"
    doc["components"]["schemas"]["Error"] = schema
    doc["components"]["schemas"].pop("HTTPValidationError", None)
    doc["components"]["schemas"].pop("ValidationError", None)
    error_content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            responses = op["responses"]
            success = next((r.get("content") for status, r in responses.items()
                            if not str(status).startswith("2") and str(status) != "422" and r.get("content")), None)
            if success and not any(str(status).startswith("2") for status in responses):
                responses["200"] = {"description": "Successful Response", "content": success}
            wanted = dict(_ERRORS_ALL)
            if "{" in path:
                wanted.update(_ERRORS_PATH)
            if "requestBody" in op:
                wanted.update(_ERRORS_BODY)
            if method != "get":
                wanted.update(_ERRORS_WRITE)
            for status, description in wanted.items():
                responses.setdefault(str(status), {"description": description})
            for status, response in responses.items():
                if not str(status).startswith("2"):
                    if str(status) == "422":
                        response["description"] = _ERRORS_ALL[422]
                    response["content"] = error_content
            op["responses"] = dict(sorted(responses.items()))


def render(server_url: str = DEFAULT_SERVER_URL) -> str:
    return json.dumps(generate(server_url), indent=2, sort_keys=False) + "\n"


_SOURCES = {"api": "the API's functions", "authorizer": "the JWT authorizer in front of every route",
            "gateway": "the HTTP gateway (API Gateway; locally rooms_local.gateway)"}


def render_error_catalogue() -> str:
    """docs/errors.md: every error ``code``, its status(es) and meaning, from rooms.errors.ERROR_CODES."""
    lines = [
        "# Error codes",
        "",
        "<!-- generated by `rooms openapi` from rooms.errors.ERROR_CODES; `rooms openapi --check` fails when stale -->",
        "",
        'Every error answer is `{"code", "message", "field"?, ...}`; `code` is stable and is one of these',
        "(the OpenAPI document's `Error.code` enum and `x-error-codes` carry the same list). Who answers:",
        *(f"- {key}: {text}." for key, text in _SOURCES.items()),
        "",
        "| code | status | meaning | answered by |",
        "|---|---|---|---|",
    ]
    for entry in _error_codes():
        statuses = ", ".join(str(s) for s in entry["statuses"])
        lines.append(f"| `{entry['code']}` | {statuses} | {entry['meaning']} | {entry['source']} |")
    return "\n".join(lines) + "\n"


def write(path: Path = DOCUMENT) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render())
    ERROR_CATALOGUE.write_text(render_error_catalogue())
    return path


def is_current(path: Path = DOCUMENT) -> bool:
    return (path.exists() and path.read_text() == render()
            and ERROR_CATALOGUE.exists() and ERROR_CATALOGUE.read_text() == render_error_catalogue())


def _swagger_dir() -> Path:
    import aws_lambda_powertools.event_handler as eh

    return Path(eh.__file__).parent / "openapi" / "swagger_ui"


def swagger_asset(name: str) -> tuple[str, bytes]:
    return SWAGGER_ASSETS[name], (_swagger_dir() / name).read_bytes()


def swagger_html(server_url: str = DEFAULT_SERVER_URL) -> str:
    from aws_lambda_powertools.event_handler.openapi.swagger_ui.html import generate_swagger_html

    # Powertools ships the Swagger UI assets, so the page works offline.
    return generate_swagger_html(
        spec=render(server_url), swagger_js="/docs/swagger-ui-bundle.min.js",
        swagger_css="/docs/swagger-ui.min.css", swagger_base_url="/docs", oauth2_config=None,
    )
