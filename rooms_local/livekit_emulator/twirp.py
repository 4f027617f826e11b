"""Twirp as LiveKit serves it: `POST /twirp/livekit.<Service>/<Method>`, protobuf (or JSON) bodies,
errors as JSON `{"code", "msg", "meta"}`, every call authorized by the grant LiveKit requires."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from google.protobuf import json_format
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import DecodeError, Message
from google.protobuf.message_factory import GetMessageClass
from livekit.api import TokenVerifier
from livekit.api.access_token import Claims

log = logging.getLogger(__name__)

# Twirp's error codes and the HTTP status each one travels with.
STATUS = {
    "canceled": 408,
    "invalid_argument": 400,
    "malformed": 400,
    "deadline_exceeded": 408,
    "not_found": 404,
    "bad_route": 404,
    "already_exists": 409,
    "permission_denied": 403,
    "unauthenticated": 401,
    "resource_exhausted": 429,
    "failed_precondition": 412,
    "aborted": 409,
    "out_of_range": 400,
    "unimplemented": 501,
    "internal": 500,
    "unavailable": 503,
    "dataloss": 500,
}


class TwirpError(Exception):
    def __init__(self, code: str, msg: str, meta: dict[str, str] | None = None, status: int | None = None):
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.meta = meta or {}
        self.status = status or STATUS[code]

    def body(self) -> dict:
        body = {"code": self.code, "msg": self.msg}
        if self.meta:
            body["meta"] = self.meta
        return body


# --- grants: which claim each call needs (LiveKit's server API) --------------------------------------

Grant = Callable[[Claims, Message], bool]


def room_create(claims: Claims, _: Message) -> bool:
    return bool(claims.video and claims.video.room_create)


def room_list(claims: Claims, _: Message) -> bool:
    return bool(claims.video and claims.video.room_list)


def room_record(claims: Claims, _: Message) -> bool:
    return bool(claims.video and claims.video.room_record)


def room_admin(claims: Claims, request: Message) -> bool:
    """roomAdmin is scoped: the token's `room` must be the room the request acts on."""
    return bool(claims.video and claims.video.room_admin and claims.video.room == request.room)


def sip_admin(claims: Claims, _: Message) -> bool:
    return bool(claims.sip and claims.sip.admin)


def sip_call(claims: Claims, _: Message) -> bool:
    return bool(claims.sip and claims.sip.call)


def authenticated(claims: Claims, _: Message) -> bool:
    return True


@dataclass(frozen=True)
class Method:
    request_type: type[Message]
    grant: Grant
    handler: Callable[[Message], Message]


class TwirpRouter:
    def __init__(self, api_key: str, api_secret: str) -> None:
        self._verifier = TokenVerifier(api_key, api_secret)
        self._methods: dict[tuple[str, str], Method] = {}

    def register(self, service: ServiceDescriptor, methods: dict[str, Method]) -> None:
        """Serve `methods`; every other method of the service answers `unimplemented` (once authenticated),
        so a call the emulator does not play fails loudly instead of pretending."""
        for descriptor in service.methods:
            method = methods.pop(descriptor.name, None)
            if method is None:
                method = Method(GetMessageClass(descriptor.input_type), authenticated, _unimplemented)
            self._methods[(service.name, descriptor.name)] = method
        if methods:
            raise ValueError(f"not methods of livekit.{service.name}: {sorted(methods)}")

    def handle(
        self, service: str, method_name: str, authorization: str, content_type: str, body: bytes
    ) -> tuple[int, str, bytes]:
        """Returns (status, content type, body): the response message, or a Twirp error."""
        as_json = content_type.split(";")[0].strip() == "application/json"
        try:
            method = self._methods.get((service, method_name))
            if method is None:
                raise TwirpError("bad_route", f"no handler for livekit.{service}/{method_name}")
            claims = self._authenticate(authorization)
            request = self._decode(method.request_type, body, as_json)
            if not method.grant(claims, request):
                raise TwirpError("permission_denied", f"{method.grant.__name__} grant required")
            response = method.handler(request)
        except TwirpError as err:
            return err.status, "application/json", json.dumps(err.body()).encode()
        except Exception as err:  # a bug here must still reach the client as a Twirp error, not HTML
            log.exception("livekit.%s/%s failed", service, method_name)
            body = TwirpError("internal", f"emulator error: {err!r}").body()
            return 500, "application/json", json.dumps(body).encode()
        if as_json:
            return 200, "application/json", json_format.MessageToJson(response).encode()
        return 200, "application/protobuf", response.SerializeToString()

    def _authenticate(self, authorization: str) -> Claims:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise TwirpError("unauthenticated", "authorization header must be 'Bearer <token>'")
        try:
            return self._verifier.verify(token.strip())
        except Exception as err:  # any token that does not verify is simply not authenticated
            raise TwirpError("unauthenticated", f"invalid token: {err}") from err

    @staticmethod
    def _decode(request_type: type[Message], body: bytes, as_json: bool) -> Message:
        try:
            if as_json:
                return json_format.Parse(body or b"{}", request_type(), ignore_unknown_fields=True)
            return request_type.FromString(body)
        except (DecodeError, json_format.ParseError) as err:
            raise TwirpError("malformed", f"cannot decode {request_type.__name__}: {err}") from err


def _unimplemented(request: Message) -> Message:
    raise TwirpError("unimplemented", f"{type(request).__name__} is not supported by the emulator")
