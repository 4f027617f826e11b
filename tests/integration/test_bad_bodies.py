"""Bodies a caller can send that the API cannot read: each is a 4xx in our error shape, never a 500.

They go through the local gateway, which hands non-UTF-8 bytes and non-text types to the function
base64-encoded with ``isBase64Encoded`` as API Gateway's HTTP API does, so the Lambda path is the one
exercised.
"""

from __future__ import annotations

import pytest

# Every route that reads a body (the placeholders are filled per test).
BODY_ROUTES = [
    ("POST", "/rooms"),
    ("PUT", "/rooms/{room}/members/{member}"),
    ("PUT", "/templates/t-bad-bodies"),
    ("POST", "/rooms/{room}/token"),
    ("POST", "/bookings/{booking}/room/token"),
    ("POST", "/sessions/no-such-session/room/token"),
    ("POST", "/rooms/{room}/dial-out"),
    ("POST", "/rooms/{room}/participants/{member}/mute"),
    ("POST", "/rooms/{room}/quality"),
]
TOKEN_ROUTES = [r for r in BODY_ROUTES if r[1].endswith("/token")]

BAD_BODIES = {
    "latin-1 json": (b'{"name": "Jos\xe9"}', "application/json", 400, "invalid_body"),
    "not utf-8": (b"\xff\xfe\x00garbage", "application/json", 400, "invalid_body"),
    "deeply nested": (b"[" * 100_000 + b"]" * 100_000, "application/json", 422, "validation_error"),
    "5001-digit integer": (b'{"name": ' + b"9" * 5001 + b"}", "application/json", 422, "validation_error"),
    "multipart without boundary": (b"--x\r\n\r\n", "multipart/form-data", 415, "unsupported_media_type"),
    "multipart with empty boundary": (b"--x\r\n\r\n", "multipart/form-data; boundary=", 415,
                                      "unsupported_media_type"),
    "text/plain": (b"hello", "text/plain", 415, "unsupported_media_type"),
}


def _path(template: str, booking_room, ids) -> str:
    return template.format(room=booking_room["room_id"], member=ids["client"], booking=ids["booking"])


@pytest.mark.parametrize("case", sorted(BAD_BODIES))
@pytest.mark.parametrize(("method", "template"), BODY_ROUTES)
def test_unreadable_bodies_are_4xx_in_our_shape(api, booking_room, ids, method, template, case):
    data, content_type, status, code = BAD_BODIES[case]
    r = api.admin(method, _path(template, booking_room, ids), data=data, headers={"content-type": content_type})
    assert r.status_code == status, r.text
    body = r.json()
    assert body["code"] == code and body["message"], body


@pytest.mark.parametrize(("method", "template"), TOKEN_ROUTES)
def test_an_empty_text_body_on_the_token_routes_is_no_body(api, booking_room, ids, method, template):
    path = _path(template, booking_room, ids)
    r = api.call(method, path, as_user=ids["client"], data=b"", headers={"content-type": "text/plain"})
    assert r.status_code in (200, 404), r.text  # the session route names a room that does not exist
    if r.status_code == 200:
        assert r.json()["token"]
    else:
        assert r.json()["code"] == "room_not_found"
