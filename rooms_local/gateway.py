"""The local HTTP API: API Gateway HTTP API (payload 2.0 + JWT authorizer), LiveKit's webhook route included.

Requests become the same events API Gateway sends, and go to the same
``handler`` entry points Lambda calls. Also serves the merged OpenAPI document and Swagger UI.
"""

from __future__ import annotations

import base64
import json
import re
import sys
import threading
import time
import traceback
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from rooms_local import webapp_static
from rooms_local.auth import AuthorizerDenied, authorize
from rooms_local.config import LocalConfig
from rooms_local.lambda_runtime import FunctionRunner, function_names, routes_manifest

WEBHOOK_PATH = "/livekit/webhook"
WEBHOOK_FUNCTION = "webhook_handler"


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    function: str
    pattern: re.Pattern[str]
    static_segments: int

    @classmethod
    def parse(cls, route_key: str, function: str) -> Route:
        method, template = route_key.split(" ", 1)
        regex = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$"
        static = sum(1 for seg in template.split("/") if seg and not seg.startswith("{"))
        return cls(method, template, function, re.compile(regex), static)

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.template}"


def load_routes() -> list[Route]:
    routes = [Route.parse(key, fn) for fn, keys in routes_manifest().items() for key in keys]
    # API Gateway prefers the most specific route: more literal segments first.
    return sorted(routes, key=lambda r: -r.static_segments)


def _now_fields() -> dict[str, Any]:
    now = datetime.now(UTC)
    return {"time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"), "timeEpoch": int(now.timestamp() * 1000)}


# Content types API Gateway HTTP APIs hand to Lambda as text; other bodies arrive base64-encoded.
_TEXT_TYPES = ("text/", "application/json", "application/javascript", "application/xml")
_TEXT_SUFFIXES = ("+json", "+xml")


def event_body(request: Request) -> tuple[str | None, bool]:
    """The body as an HTTP API puts it in the event: ``(body, isBase64Encoded)``. Text content types
    arrive as text; anything else, and bytes that are not UTF-8 (an event is JSON: it cannot carry
    them as text), arrive base64-encoded for the function to decode."""
    data = request.get_data()
    if not data:
        return None, False
    mimetype = request.mimetype
    if not mimetype or mimetype.startswith(_TEXT_TYPES) or mimetype.endswith(_TEXT_SUFFIXES):
        try:
            return data.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(data).decode("ascii"), True


def http_api_event(request: Request, route: Route, path_params: dict[str, str],
                   claims: dict[str, str] | None, request_id: str | None = None) -> dict[str, Any]:
    body, is_base64 = event_body(request)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": request.path,
        "rawQueryString": request.query_string.decode(),
        "headers": {k.lower(): v for k, v in request.headers.items()},
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": request.host,
            "domainPrefix": "local",
            "http": {
                "method": request.method,
                "path": request.path,
                "protocol": "HTTP/1.1",
                "sourceIp": request.remote_addr or "127.0.0.1",
                "userAgent": request.headers.get("user-agent", ""),
            },
            "requestId": request_id or str(uuid.uuid4()),
            "routeKey": route.route_key,
            "stage": "$default",
            **_now_fields(),
        },
        "pathParameters": path_params or None,
        "isBase64Encoded": is_base64,
        "body": body,
    }
    if request.args:
        event["queryStringParameters"] = {k: ",".join(request.args.getlist(k)) for k in request.args}
    if claims is not None:
        event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    return event


def webhook_event(request: Request, request_id: str | None = None) -> dict[str, Any]:
    """LiveKit's webhook as the HTTP API hands it to webhook_handler: the route ``POST /livekit/webhook``
    with no authorizer (LiveKit's signature is the check), the body as ``event_body`` puts it (LiveKit's
    ``application/webhook+json`` arrives as text; a body that is not UTF-8 arrives base64-encoded)."""
    return http_api_event(request, Route.parse(f"POST {WEBHOOK_PATH}", WEBHOOK_FUNCTION), {}, None, request_id)


def lambda_result_to_response(result: Any) -> Response:
    if not isinstance(result, dict) or "statusCode" not in result:
        # Payload 2.0: a non-proxy-shaped result is JSON with status 200.
        return Response(json.dumps(result), status=200, content_type="application/json")
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
    response = Response(data, status=int(result["statusCode"]))
    for key, value in (result.get("headers") or {}).items():
        response.headers[key] = value
    for key, values in (result.get("multiValueHeaders") or {}).items():
        for v in values:
            response.headers.add(key, v)
    for cookie in result.get("cookies") or []:
        response.headers.add("set-cookie", cookie)
    return response


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


@dataclass(frozen=True)
class WebhookDelivery:
    """One POST to the webhook route, as the gateway saw it (what LiveKit sent, what we said)."""

    received_at: float  # unix seconds
    remote_addr: str
    authorization: str | None
    body: bytes
    status: int
    answered_at: float = 0.0  # unix seconds, when our answer was ready (the bench's webhook latency)


class Gateway:
    def __init__(self, config: LocalConfig, runner: FunctionRunner, access_log: bool = False) -> None:
        self.access_log = access_log
        self.config = config
        self.runner = runner
        self.routes = load_routes()
        self._own_origins = webapp_static.own_origins(config)
        self._servers: list = []
        self._threads: list[threading.Thread] = []
        # The last webhook deliveries (the real-LiveKit tier reads what the server sent and our answers).
        self.webhook_deliveries: deque[WebhookDelivery] = deque(maxlen=2000)

    # -- WSGI -------------------------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        request = Request(environ)
        started = time.perf_counter()
        request_id = str(uuid.uuid4())
        try:
            # The reference web app, its dev sign-in and CORS: rooms_local/webapp_static.py.
            response = webapp_static.handle(self.config, request)
            if response is None:
                response = self.dispatch(request, request_id)
        except Exception:  # an unhandled function error: a generic 500, as API Gateway; details on the console
            print(f"[gateway] {request.method} {request.path} failed (request id {request_id}):",
                  file=sys.stderr, flush=True)
            traceback.print_exc(file=sys.stderr)
            response = _json(500, {"code": "internal_error", "message": "Internal Server Error",
                                   "request_id": request_id})
        response = webapp_static.with_cors(request, response, self._own_origins)
        response.headers["apigw-requestid"] = request_id  # as API Gateway answers, to find the logs
        if self.access_log:
            print(f"[gateway] {request.method} {request.path} → {response.status_code} "
                  f"({(time.perf_counter() - started) * 1000:.0f} ms)", file=sys.stderr, flush=True)
        return response(environ, start_response)

    def dispatch(self, request: Request, request_id: str | None = None) -> Response:
        if request.path == WEBHOOK_PATH:
            return self._webhook(request, request_id)
        if request.path in ("/openapi.json", "/docs", "/docs/") or request.path.startswith("/docs/"):
            return self._docs(request)
        if request.path == "/health":
            return _json(200, {"status": "ok", "functions": function_names()})
        allowed: list[str] = []  # methods of the routes on this path, for a 405's Allow
        for route in self.routes:
            match = route.pattern.match(request.path)
            if not match:
                continue
            if route.method != request.method:
                allowed.append(route.method)
                continue
            try:
                claims = authorize(self.config, request.headers.get("authorization"))
            except AuthorizerDenied as denied:
                # API Gateway's JWT authorizer answers {"message": "Unauthorized"} and says why in
                # WWW-Authenticate; locally the same reason is also a `code` in our error shape.
                response = _json(401, {"code": denied.code, "message": f"Unauthorized: {denied}"})
                reason = str(denied).replace('"', "'")
                response.headers["WWW-Authenticate"] = f'Bearer error="invalid_token", error_description="{reason}"'
                return response
            event = http_api_event(request, route, match.groupdict(), claims, request_id)
            return lambda_result_to_response(self.runner.invoke(route.function, event))
        if allowed:
            allow = ", ".join(sorted(set(allowed)))
            response = _json(405, {"code": "method_not_allowed",
                                   "message": f"{request.method} is not allowed on {request.path}; allowed: {allow}"})
            response.headers["Allow"] = allow
            return response
        return _json(404, {"code": "not_found", "message": "Not Found"})

    def _webhook(self, request: Request, request_id: str | None) -> Response:
        received_at = time.time()
        event = webhook_event(request, request_id)
        response = lambda_result_to_response(self.runner.invoke(WEBHOOK_FUNCTION, event))
        self.webhook_deliveries.append(WebhookDelivery(received_at, request.remote_addr or "",
                                                       request.headers.get("authorization"), request.get_data(),
                                                       response.status_code, time.time()))
        return response

    def _docs(self, request: Request) -> Response:
        from rooms_local import openapi

        if request.path == "/openapi.json" or request.args.get("format") == "json":
            return Response(openapi.render(self.config.api_url), content_type="application/json")
        asset = request.path.removeprefix("/docs/")
        if asset in openapi.SWAGGER_ASSETS:
            content_type, data = openapi.swagger_asset(asset)
            return Response(data, content_type=content_type)
        return Response(openapi.swagger_html(self.config.api_url), content_type="text/html")

    # -- server -----------------------------------------------------------------------------------------
    def start(self) -> None:
        # The configured host, plus any extra address (the host side of the real LiveKit's namespace,
        # so that livekit-server's webhooks and clients inside the namespace reach us), same port.
        for host in (self.config.host, *self.config.gateway_extra_hosts):
            server = make_server(host, self.config.api_port, self, threaded=True)
            thread = threading.Thread(target=server.serve_forever, name=f"rooms-gateway-{host}", daemon=True)
            thread.start()
            self._servers.append(server)
            self._threads.append(thread)

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers, self._threads = [], []


def wait_until_up(url: str, timeout: float = 10.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - localhost
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
