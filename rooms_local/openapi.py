"""The API's OpenAPI document, generated from the code (each HTTP function's Powertools resolver)
and merged into one; committed as docs/openapi.json and served with Swagger UI by the local stack."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rooms_local.config import ROOT
from rooms_local.lambda_runtime import load_function, routes_manifest

DOCUMENT = ROOT / "docs" / "openapi.json"
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
    return merged


def render(server_url: str = DEFAULT_SERVER_URL) -> str:
    return json.dumps(generate(server_url), indent=2, sort_keys=False) + "\n"


def write(path: Path = DOCUMENT) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render())
    return path


def is_current(path: Path = DOCUMENT) -> bool:
    return path.exists() and path.read_text() == render()


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
