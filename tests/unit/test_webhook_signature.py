"""Our webhook check (PyJWT + the body's SHA-256, without ``livekit.api``) against livekit-api's own
``WebhookReceiver``: the same accept/reject on every body, header and secret of the matrix, and the
same event when both accept."""

from __future__ import annotations

import base64
import hashlib
import json
import time

import jwt
import pytest
from livekit import api

from rooms.livekit_gateway.webhook import InvalidWebhook, receive, webhook_event

KEY, SECRET = "devkey", "a-secret-of-at-least-32-characters!!"

BODY = json.dumps({
    "event": "participant_joined", "id": "EV_1", "createdAt": "1767225600",
    "room": {"sid": "RM_1", "name": "room-1"},
    "participant": {"sid": "PA_1", "identity": "user-1", "name": "User", "state": "ACTIVE", "joinedAt": "1767225599",
                    "kind": "SIP", "attributes": {"rooms.jti": "j1"},
                    "permission": {"canSubscribe": True, "canPublish": True, "hidden": False},
                    "tracks": [{"sid": "TR_1", "type": "AUDIO", "source": "MICROPHONE", "muted": True}]},
})
EGRESS_BODY = json.dumps({
    "event": "egress_ended", "id": "EV_2", "createdAt": "1767225600",
    "egressInfo": {"egressId": "EG_1", "roomName": "room-1", "status": "EGRESS_COMPLETE",
                   "fileResults": [{"filename": "recordings/r/r.0123456789ab.mp4", "size": "42"}]},
})


def _sha(body: str) -> str:
    return base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()


def _token(body: str | None = None, *, key: str = KEY, secret: str = SECRET, sha: str | None = None,
           exp_in: int | None = 600, nbf_in: int | None = None, alg: str = "HS256", extra: dict | None = None) -> str:
    now = int(time.time())
    claims: dict = {"iss": key, "sub": "", "nbf": now + (nbf_in or 0) - (0 if nbf_in else 5)}
    if exp_in is not None:
        claims["exp"] = now + exp_in
    if sha is not None:
        claims["sha256"] = sha
    elif body is not None:
        claims["sha256"] = _sha(body)
    claims.update(extra or {})
    return jwt.encode(claims, secret, algorithm=alg)


def _livekit_token(body: str) -> str:
    return api.AccessToken(KEY, SECRET).with_sha256(_sha(body)).to_jwt()


CASES = {
    "signed by livekit-api": (BODY, lambda: _livekit_token(BODY), SECRET),
    "egress event": (EGRESS_BODY, lambda: _livekit_token(EGRESS_BODY), SECRET),
    "hand-signed": (BODY, lambda: _token(BODY), SECRET),
    "unknown fields are ignored": ('{"event": "room_started", "id": "EV_3", "futureField": 1, "room": {"name": "r"}}',
                                   lambda: _token('{"event": "room_started", "id": "EV_3", "futureField": 1, '
                                                  '"room": {"name": "r"}}'), SECRET),
    "wrong secret": (BODY, lambda: _token(BODY, secret="another-secret-of-at-least-32-chars!!"), SECRET),
    "verified with another secret": (BODY, lambda: _token(BODY), "another-secret-of-at-least-32-chars!!"),
    "another api key": (BODY, lambda: _token(BODY, key="otherkey"), SECRET),
    "no sha256 claim": (BODY, lambda: _token(None), SECRET),
    "sha256 of another body": (BODY, lambda: _token(EGRESS_BODY), SECRET),
    "body changed after signing": (BODY + " ", lambda: _token(BODY), SECRET),
    "sha256 not base64": (BODY, lambda: _token(sha="!!not-base64!!"), SECRET),
    "expired": (BODY, lambda: _token(BODY, exp_in=-120), SECRET),
    "expired within the leeway": (BODY, lambda: _token(BODY, exp_in=-30), SECRET),
    "no exp": (BODY, lambda: _token(BODY, exp_in=None), SECRET),
    "not yet valid": (BODY, lambda: _token(BODY, nbf_in=600), SECRET),
    "HS512": (BODY, lambda: _token(BODY, alg="HS512"), SECRET),
    "Bearer prefix": (BODY, lambda: "Bearer " + _token(BODY), SECRET),
    "garbage header": (BODY, lambda: "not-a-jwt", SECRET),
    "body is not JSON": ("not json", lambda: _token("not json"), SECRET),
    "field of the wrong type": ('{"event": "room_started", "createdAt": "soon"}',
                                lambda: _token('{"event": "room_started", "createdAt": "soon"}'), SECRET),
}


def _theirs(body: str, header: str, secret: str):
    try:
        return api.WebhookReceiver(api.TokenVerifier(KEY, secret)).receive(body, header)
    except Exception:
        return None


def _ours(body: str, header: str, secret: str):
    try:
        return receive(body, header, api_key=KEY, api_secret=secret)
    except InvalidWebhook:
        return None


@pytest.mark.parametrize("case", list(CASES))
def test_same_answer_as_livekit_webhook_receiver(case):
    body, header, secret = CASES[case]
    token = header()
    theirs, ours = _theirs(body, token, secret), _ours(body, token, secret)
    assert (theirs is not None) == (ours is not None), case
    if theirs is not None:
        assert ours == webhook_event(theirs)


def test_the_matrix_has_both_answers():
    answers = {case: _ours(body, header(), secret) is not None for case, (body, header, secret) in CASES.items()}
    assert answers["signed by livekit-api"] and answers["expired within the leeway"]
    assert not answers["wrong secret"] and not answers["body changed after signing"] and not answers["no exp"]


def test_the_event_is_read_into_our_vocabulary():
    event = receive(BODY, _livekit_token(BODY), api_key=KEY, api_secret=SECRET)
    assert (event.id, event.event, event.created_at, event.room_name, event.room_sid) == (
        "EV_1", "participant_joined", 1767225600, "room-1", "RM_1")
    p = event.participant
    assert (p.identity, p.sid, p.kind, p.joined_at, p.attributes, p.hidden) == (
        "user-1", "PA_1", "sip", 1767225599, {"rooms.jti": "j1"}, False)
    assert [(t.sid, t.type, t.source, t.muted) for t in p.tracks] == [("TR_1", "audio", "microphone", True)]
    assert event.egress is None and event.track.sid == ""
    egress = receive(EGRESS_BODY, _livekit_token(EGRESS_BODY), api_key=KEY, api_secret=SECRET).egress
    assert egress is not None and egress.status == "complete" and egress.room_name == "room-1"
    assert [f.filename for f in egress.files] == ["recordings/r/r.0123456789ab.mp4"]
