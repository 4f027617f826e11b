"""401s say why, with a code (the local gateway's emulation of API Gateway's JWT authorizer)."""

from __future__ import annotations

import time

import jwt
import pytest
import requests


def _jwt(config, **overrides) -> str:
    now = int(time.time())
    claims = {"iss": config.jwt_issuer, "aud": config.jwt_audience, "sub": "u-1", "iat": now, "exp": now + 600}
    secret = overrides.pop("secret", config.jwt_secret)
    claims.update(overrides)
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, secret, algorithm="HS256")


CASES = {
    "no header": (lambda c: None, "missing_token"),
    "not bearer": (lambda c: "Basic dXNlcjpwYXNz", "malformed_token"),
    "not a JWT": (lambda c: "Bearer not-a-jwt", "malformed_token"),
    "expired": (lambda c: "Bearer " + _jwt(c, exp=int(time.time()) - 3600), "token_expired"),
    "wrong issuer": (lambda c: "Bearer " + _jwt(c, iss="https://elsewhere.example"), "wrong_issuer"),
    "wrong audience": (lambda c: "Bearer " + _jwt(c, aud="another-api"), "wrong_audience"),
    "wrong key": (lambda c: "Bearer " + _jwt(c, secret="another-secret-of-at-least-32-bytes"), "invalid_signature"),
    "no sub": (lambda c: "Bearer " + _jwt(c, sub=None), "missing_claim"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_401_names_the_reason(stack, case):
    make, code = CASES[case]
    header = make(stack.config)
    r = requests.get(f"{stack.config.api_url}/templates", headers={"authorization": header} if header else {},
                     timeout=30)
    assert r.status_code == 401
    assert r.json()["code"] == code, r.text
    assert r.json()["message"].startswith("Unauthorized")
    assert r.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
