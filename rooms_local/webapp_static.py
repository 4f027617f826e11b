"""The reference web app on the local gateway: the built SPA, CORS for its origin, and a dev sign-in.

Kept apart from ``gateway.py`` on purpose: the gateway emulates API Gateway; this module is what a
platform does around it (host the frontend, sign people in). None of it exists in the Lambda API.

- ``/room/...`` (singular: the booking platform's room URLs) and ``/assets/...`` serve ``webapp/dist`` (SPA
  fallback: every ``/room/...`` path answers ``index.html``). ``/rooms/...`` stays the API.
- ``POST /dev/sign-in {sub, name?, admin?}`` mints the bearer token ``rooms token`` prints: locally it
  stands in for the platform's sign-in. It is local-only: the CDK app has no such route.
- CORS: origins in ``ROOMS_ALLOWED_ORIGINS`` (comma separated; the Vite dev server by default), and the
  gateway's own origins (every address it listens on: the app it serves calls the API there), get the
  headers API Gateway's CORS configuration would send, and preflights are answered here as API Gateway
  answers them itself (before any authorizer).
"""

from __future__ import annotations

import json
import mimetypes
import os
from pathlib import Path

from werkzeug.wrappers import Request, Response

from rooms_local.auth import mint_dev_token
from rooms_local.config import ROOT, LocalConfig

WEBAPP_DIST = ROOT / "webapp" / "dist"
APP_PREFIX = "/room/"
ASSETS_PREFIX = "/assets/"
SIGN_IN_PATH = "/dev/sign-in"
DEFAULT_DEV_ORIGINS = ("http://127.0.0.1:5173", "http://localhost:5173")
CORS_HEADERS = "authorization,content-type"
CORS_METHODS = "GET,POST,PUT,PATCH,DELETE,OPTIONS"

_MISSING_BUILD = """<!doctype html><html><head><meta charset="utf-8"><title>Rooms web app not built</title>
</head><body style="font-family:system-ui;max-width:40rem;margin:4rem auto;line-height:1.5">
<h1>The web app is not built yet</h1>
<p>Run <code>make webapp</code> in the repository (npm ci + vite build into <code>webapp/dist</code>),
then reload this page. The API itself is running: see <a href="/docs">/docs</a>.</p></body></html>"""


def allowed_origins() -> tuple[str, ...]:
    raw = os.environ.get("ROOMS_ALLOWED_ORIGINS")
    if raw is None:
        return DEFAULT_DEV_ORIGINS
    return tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())


def handle(config: LocalConfig, request: Request, dist: Path | None = None) -> Response | None:
    """The response for the app's own paths, or None when the request is for the API."""
    if request.method == "OPTIONS" and request.headers.get("access-control-request-method"):
        return Response(status=204)  # preflight: headers added by with_cors
    path = request.path
    if path == SIGN_IN_PATH:
        return _sign_in(config, request)
    if request.method not in ("GET", "HEAD"):
        return None
    if path.startswith(APP_PREFIX) or path == "/room":
        return _static(dist or WEBAPP_DIST, "index.html")
    if path.startswith(ASSETS_PREFIX):
        return _static(dist or WEBAPP_DIST, path.removeprefix("/"))
    return None


def own_origins(config: LocalConfig) -> tuple[str, ...]:
    """The origins the gateway serves the app from: each address it listens on (127.0.0.1, and with the
    real livekit-server the host side of its namespace, where a browser inside the namespace opens it)."""
    return tuple(f"http://{host}:{config.api_port}" for host in (config.host, *config.gateway_extra_hosts))


def with_cors(request: Request, response: Response, also_allowed: tuple[str, ...] = ()) -> Response:
    """``also_allowed``: origins allowed besides ``allowed_origins()`` (the gateway's own: ``own_origins``)."""
    origin = (request.headers.get("origin") or "").rstrip("/")
    if origin and (origin in also_allowed or origin in allowed_origins()):
        response.headers["access-control-allow-origin"] = origin
        response.headers["vary"] = "origin"
        response.headers["access-control-allow-headers"] = CORS_HEADERS
        response.headers["access-control-allow-methods"] = CORS_METHODS
        response.headers["access-control-max-age"] = "600"
    return response


def _static(dist: Path, relative: str) -> Response:
    if not (dist / "index.html").is_file():
        return Response(_MISSING_BUILD, status=503, content_type="text/html; charset=utf-8")
    target = (dist / relative).resolve()
    if not target.is_relative_to(dist.resolve()) or not target.is_file():
        return Response("not found", status=404, content_type="text/plain")
    content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    response = Response(target.read_bytes(), content_type=content_type)
    # Vite puts a content hash in asset names; index.html must always be fetched fresh.
    immutable = relative.startswith("assets/")
    response.headers["cache-control"] = "public, max-age=31536000, immutable" if immutable else "no-cache"
    return response


def _sign_in(config: LocalConfig, request: Request) -> Response:
    if request.method != "POST":
        return _json(405, {"code": "method_not_allowed", "message": "POST {sub, name?, admin?}"})
    try:
        body = json.loads(request.get_data() or b"{}")
    except ValueError:
        return _json(422, {"code": "invalid_input", "message": "body must be JSON", "field": "body"})
    sub = body.get("sub") if isinstance(body, dict) else None
    if not isinstance(sub, str) or not sub.strip():
        return _json(422, {"code": "invalid_input", "message": "sub is required", "field": "sub"})
    name = body.get("name")
    if name is not None and not isinstance(name, str):
        return _json(422, {"code": "invalid_input", "message": "name must be a string", "field": "name"})
    admin = body.get("admin", False)
    if not isinstance(admin, bool):
        return _json(422, {"code": "invalid_input", "message": "admin must be true or false", "field": "admin"})
    token = mint_dev_token(config, sub.strip(), name=name or None, admin=admin)
    return _json(200, {"token": token, "sub": sub.strip(), "admin": admin})


def _json(status: int, body: dict) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")
