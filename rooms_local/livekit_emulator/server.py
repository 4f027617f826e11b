"""The LiveKit emulator: Twirp for the real `livekit-api` client, `/dev/…` for simulated clients.

Control endpoints (JSON in and out, no auth; errors are `{"code", "msg"}` with an HTTP status):
    POST /dev/join           {"token", "publish": ["audio", "video"]}  -> ParticipantInfo
    POST /dev/leave          {"room", "identity"}                      -> ParticipantInfo
    POST /dev/abort          {"room", "identity"} or {"token"}         -> ParticipantInfo
    POST /dev/sip/dial-in    {"number", "pin", "from"}                 -> ParticipantInfo
    GET  /dev/state                                                     -> rooms, egress, sip, revocations, …
    POST /dev/config         {"fail_egress", "refuse_egress_start", "fail_sip_numbers", "hold_webhooks",
                              "webhook_urls", "enable_remote_unmute"}
    POST /dev/webhooks/flush {"shuffle", "duplicate", "seed"}          -> counts
    POST /dev/webhooks/drain {"timeout"}                                -> counts (504 if still busy)
    POST /dev/clock          {"advance": seconds, "freeze": bool}       -> {"offset", "now", "frozen"}
join, leave, abort and dial-in answer once the webhooks they caused are delivered (or have failed),
unless webhooks are held; Twirp calls never wait, as with LiveKit.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable

from livekit.protocol import egress as proto_egress
from livekit.protocol import room as proto_room
from livekit.protocol import sip as proto_sip
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from .clock import Clock
from .egress import Egresses
from .rooms import Rooms, to_dict
from .sip import DEFAULT_SIP_FAILURE, Sip
from .twirp import TwirpError, TwirpRouter
from .webhooks import WebhookNotifier

WEBHOOK_WAIT_S = 15.0


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:  # tests and the local stack log what matters
        pass


class LiveKitEmulator:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 7880,
        api_key: str = "devkey",
        api_secret: str = "secret",  # noqa: S107 (LiveKit's public dev credentials)
        webhook_urls: Iterable[str] = (),
        s3_endpoint_url: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.api_key = api_key
        self.api_secret = api_secret
        lock = threading.RLock()  # one lock for all state: rooms, egress and SIP refer to each other
        self.notifier = WebhookNotifier(api_key, api_secret, webhook_urls)
        self.clock = Clock()
        self.rooms = Rooms(lock, self.notifier, api_key, api_secret, self.clock)
        self.egress = Egresses(lock, self.notifier, self.rooms, s3_endpoint_url)
        self.sip = Sip(lock, self.rooms)
        self.rooms.on_room_created = self.egress.start_auto_egress
        self.rooms.on_room_closed = self.egress.end_room_egress
        self.rooms.on_track_published = self.egress.track_published
        self.twirp = TwirpRouter(api_key, api_secret)
        self.twirp.register(proto_room.DESCRIPTOR.services_by_name["RoomService"], self.rooms.twirp_methods())
        self.twirp.register(proto_egress.DESCRIPTOR.services_by_name["Egress"], self.egress.twirp_methods())
        self.twirp.register(proto_sip.DESCRIPTOR.services_by_name["SIP"], self.sip.twirp_methods())
        self._control: dict[tuple[str, str], Callable[[dict], tuple[int, dict]]] = {
            ("POST", "/dev/join"): self._join,
            ("POST", "/dev/leave"): self._leave,
            ("POST", "/dev/abort"): self._abort,
            ("POST", "/dev/sip/dial-in"): self._dial_in,
            ("GET", "/dev/state"): lambda _: (200, self.state()),
            ("POST", "/dev/config"): self._configure,
            ("POST", "/dev/webhooks/flush"): self._flush,
            ("POST", "/dev/webhooks/drain"): self._drain,
            ("POST", "/dev/clock"): self._advance_clock,
        }
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> LiveKitEmulator:
        self._server = make_server(self.host, self.port, self, threaded=True, request_handler=_QuietHandler)
        self.port = self._server.server_port  # port 0 picked a free one
        self.notifier.start()
        # A short poll interval keeps stop() quick (tests start and stop a server per test).
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="livekit-dev", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self.rooms.stop()
        self.notifier.stop()

    def __enter__(self) -> LiveKitEmulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def state(self) -> dict:
        return {
            **self.rooms.state(),
            "egress": self.egress.state(),
            "sip": self.sip.state(),
            "webhooks": self.notifier.snapshot(),
            "config": self._config(),
        }

    # --- HTTP --------------------------------------------------------------------------------------

    def __call__(self, environ, start_response):
        request = Request(environ)
        return self._respond(request)(environ, start_response)

    def _respond(self, request: Request) -> Response:
        path = request.path
        if path.startswith("/twirp/"):
            return self._twirp(request)
        if path == "/" and request.method == "GET":
            return Response("OK", content_type="text/plain")  # LiveKit's health check answers the same
        handler = self._control.get((request.method, path))
        try:
            if handler is None:
                raise TwirpError("bad_route", f"no route for {request.method} {path}")
            try:
                body = json.loads(request.get_data() or b"{}") if request.method == "POST" else {}
            except ValueError as err:
                raise TwirpError("malformed", f"body is not JSON: {err}") from err
            if not isinstance(body, dict):
                raise TwirpError("malformed", "body must be a JSON object")
            status, payload = handler(body)
        except TwirpError as err:
            status, payload = err.status, err.body()
        except (ValueError, TypeError) as err:  # e.g. a seed or timeout that is not a number
            status, payload = 400, TwirpError("invalid_argument", str(err)).body()
        return Response(json.dumps(payload), status=status, content_type="application/json")

    def _twirp(self, request: Request) -> Response:
        _, _, rest = request.path.partition("/twirp/livekit.")
        service, _, method = rest.partition("/")
        if request.method != "POST" or not service or not method:
            err = TwirpError("bad_route", f"no handler for {request.method} {request.path}")
            return Response(json.dumps(err.body()), status=err.status, content_type="application/json")
        status, content_type, body = self.twirp.handle(
            service,
            method,
            request.headers.get("Authorization", ""),
            request.headers.get("Content-Type", "application/protobuf"),
            request.get_data(),
        )
        return Response(body, status=status, content_type=content_type)

    # --- control endpoints -------------------------------------------------------------------------

    def _settled(self, participant) -> tuple[int, dict]:
        """Answer once the webhooks this action caused (and any they provoked) are delivered."""
        self.notifier.wait_idle(WEBHOOK_WAIT_S)
        return 200, to_dict(participant)

    def _join(self, body: dict) -> tuple[int, dict]:
        publish = body.get("publish") or []
        if not isinstance(publish, list):
            raise TwirpError("invalid_argument", 'publish must be a list such as ["audio", "video"]')
        return self._settled(self.rooms.join(_required(body, "token"), publish))

    def _leave(self, body: dict) -> tuple[int, dict]:
        return self._settled(self.rooms.leave(_required(body, "room"), _required(body, "identity")))

    def _abort(self, body: dict) -> tuple[int, dict]:
        if body.get("token"):
            return self._settled(self.rooms.abort(token=body["token"]))
        return self._settled(self.rooms.abort(_required(body, "room"), _required(body, "identity")))

    def _dial_in(self, body: dict) -> tuple[int, dict]:
        number, from_number = _required(body, "number"), _required(body, "from")
        return self._settled(self.sip.dial_in(number, str(body.get("pin") or ""), from_number))

    def _configure(self, body: dict) -> tuple[int, dict]:
        unknown = set(body) - {"fail_egress", "refuse_egress_start", "fail_sip_numbers", "hold_webhooks",
                               "webhook_urls", "enable_remote_unmute"}
        if unknown:
            raise TwirpError("invalid_argument", f"unknown options: {sorted(unknown)}")
        if "fail_egress" in body:
            self.egress.fail_egress = bool(body["fail_egress"])
        if "refuse_egress_start" in body:
            self.egress.refuse_egress_start = bool(body["refuse_egress_start"])
        if "fail_sip_numbers" in body:
            numbers = body["fail_sip_numbers"] or []
            # A list fails each number with 486 Busy Here; a mapping picks the SIP status per number.
            if isinstance(numbers, dict):
                self.sip.fail_numbers = {str(n): int(code) for n, code in numbers.items()}
            else:
                self.sip.fail_numbers = {str(n): DEFAULT_SIP_FAILURE for n in numbers}
        if "enable_remote_unmute" in body:
            self.rooms.enable_remote_unmute = bool(body["enable_remote_unmute"])
        if "hold_webhooks" in body:
            self.notifier.hold = bool(body["hold_webhooks"])
        if "webhook_urls" in body:
            self.notifier.urls = list(body["webhook_urls"] or [])
        return 200, self._config()

    def _config(self) -> dict:
        return {
            "fail_egress": self.egress.fail_egress,
            "refuse_egress_start": self.egress.refuse_egress_start,
            "fail_sip_numbers": dict(self.sip.fail_numbers),
            "hold_webhooks": self.notifier.hold,
            "enable_remote_unmute": self.rooms.enable_remote_unmute,
            "webhook_urls": list(self.notifier.urls),
        }

    def _flush(self, body: dict) -> tuple[int, dict]:
        flushed = self.notifier.flush(
            shuffle=bool(body.get("shuffle")),
            duplicate=bool(body.get("duplicate")),
            seed=int(body.get("seed", 0)),
        )
        self.notifier.wait_idle(WEBHOOK_WAIT_S)
        return 200, {"flushed": flushed, **self.notifier.snapshot()}

    def _drain(self, body: dict) -> tuple[int, dict]:
        if not self.notifier.wait_idle(float(body.get("timeout", WEBHOOK_WAIT_S))):
            raise TwirpError(
                "deadline_exceeded", f"webhooks still queued: {self.notifier.snapshot()}", status=504
            )
        return 200, self.notifier.snapshot()


    def _advance_clock(self, body: dict) -> tuple[int, dict]:
        seconds = body.get("advance", 0)
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
            raise TwirpError("invalid_argument", "advance must be a number of seconds >= 0")
        if "freeze" in body:
            self.clock.freeze(bool(body["freeze"]))
        offset = self.clock.advance(float(seconds))
        return 200, {"offset": offset, "now": self.clock.now(), "frozen": self.clock.frozen}


def _required(body: dict, name: str) -> str:
    value = body.get(name)
    if not value or not isinstance(value, str):
        raise TwirpError("invalid_argument", f"{name} is required")
    return value
