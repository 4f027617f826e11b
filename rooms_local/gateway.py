"""The local HTTP API: API Gateway HTTP API (payload 2.0 + JWT authorizer) and the webhook function URL.

Requests become the same events API Gateway and Lambda function URLs send, and go to the same
``handler`` entry points Lambda calls. Also serves the merged OpenAPI document and Swagger UI.
"""

from __future__ import annotations

import base64
import json
import re
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

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


def http_api_event(request: Request, route: Route, path_params: dict[str, str],
                   claims: dict[str, str] | None) -> dict[str, Any]:
    body = request.get_data()
    text_body = body.decode("utf-8") if body else None
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
            "requestId": str(uuid.uuid4()),
            "routeKey": route.route_key,
            "stage": "$default",
            **_now_fields(),
        },
        "pathParameters": path_params or None,
        "isBase64Encoded": False,
        "body": text_body,
    }
    if request.args:
        event["queryStringParameters"] = {k: ",".join(request.args.getlist(k)) for k in request.args}
    if claims is not None:
        event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    return event


def function_url_event(request: Request) -> dict[str, Any]:
    """A Lambda function URL event. The body is base64-encoded, as function URLs may do, so the
    webhook handler's raw-body path is always exercised."""
    body = request.get_data()
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": request.path,
        "rawQueryString": request.query_string.decode(),
        "headers": {k.lower(): v for k, v in request.headers.items()},
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "local-webhook-url",
            "domainName": request.host,
            "http": {"method": request.method, "path": request.path, "protocol": "HTTP/1.1",
                     "sourceIp": request.remote_addr or "127.0.0.1",
                     "userAgent": request.headers.get("user-agent", "")},
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            **_now_fields(),
        },
        "body": base64.b64encode(body).decode() if body else None,
        "isBase64Encoded": True,
    }


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
    """One POST to the webhook function URL, as the gateway saw it (what LiveKit sent, what we said)."""

    received_at: float  # unix seconds
    remote_addr: str
    authorization: str | None
    body: bytes
    status: int


class Gateway:
    def __init__(self, config: LocalConfig, runner: FunctionRunner, access_log: bool = False) -> None:
        self.access_log = access_log
        self.config = config
        self.runner = runner
        self.routes = load_routes()
        self._servers: list = []
        self._threads: list[threading.Thread] = []
        # The last webhook deliveries (the real-LiveKit tier reads what the server sent and our answers).
        self.webhook_deliveries: deque[WebhookDelivery] = deque(maxlen=2000)

    # -- WSGI -------------------------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        request = Request(environ)
        started = time.perf_counter()
        try:
            response = self.dispatch(request)
        except Exception as err:  # an unhandled function error: what API Gateway returns
            response = _json(500, {"message": "Internal Server Error", "error": repr(err)})
        if self.access_log:
            print(f"[gateway] {request.method} {request.path} → {response.status_code} "
                  f"({(time.perf_counter() - started) * 1000:.0f} ms)", file=sys.stderr, flush=True)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        if request.path == WEBHOOK_PATH:
            return self._webhook(request)
        if request.path in ("/openapi.json", "/docs", "/docs/") or request.path.startswith("/docs/"):
            return self._docs(request)
        if request.path == "/health":
            return _json(200, {"status": "ok", "functions": function_names()})
        method_allowed = False
        for route in self.routes:
            match = route.pattern.match(request.path)
            if not match:
                continue
            if route.method != request.method:
                method_allowed = True
                continue
            try:
                claims = authorize(self.config, request.headers.get("authorization"))
            except AuthorizerDenied:
                return _json(401, {"message": "Unauthorized"})
            event = http_api_event(request, route, match.groupdict(), claims)
            return lambda_result_to_response(self.runner.invoke(route.function, event))
        return _json(405 if method_allowed else 404, {"message": "Not Found"})

    def _webhook(self, request: Request) -> Response:
        received_at = time.time()
        if WEBHOOK_FUNCTION not in function_names():
            response = _json(404, {"message": "webhook_handler is not built yet"})
        else:
            response = lambda_result_to_response(self.runner.invoke(WEBHOOK_FUNCTION, function_url_event(request)))
        self.webhook_deliveries.append(WebhookDelivery(received_at, request.remote_addr or "",
                                                       request.headers.get("authorization"), request.get_data(),
                                                       response.status_code))
        return response

    def _docs(self, request: Request) -> Response:
        from rooms_local import openapi

        if request.path == "/openapi.json" or request.args.get("format") == "json":
            return Response(openapi.render(), content_type="application/json")
        asset = request.path.removeprefix("/docs/")
        if asset in openapi.SWAGGER_ASSETS:
            content_type, data = openapi.swagger_asset(asset)
            return Response(data, content_type=content_type)
        return Response(openapi.swagger_html(), content_type="text/html")

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
