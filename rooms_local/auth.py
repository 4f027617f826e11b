"""Dev bearer tokens, checked the way API Gateway's JWT authorizer checks them.

API Gateway validates issuer, audience, expiry and signature, then passes the claims (as strings) in
``requestContext.authorizer.jwt.claims``. In AWS the issuer is Cognito or the platform's OIDC
provider (RS256 with JWKS); locally one shared HS256 secret stands in for that key pair.
"""

from __future__ import annotations

import time

import jwt

from rooms_local.config import LocalConfig

ADMIN_SCOPE = "rooms/admin"


def mint_dev_token(config: LocalConfig, sub: str, *, name: str | None = None, admin: bool = False,
                   ttl_seconds: int = 3600) -> str:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": config.jwt_issuer,
        "aud": config.jwt_audience,
        "sub": sub,
        "iat": now,
        "exp": now + ttl_seconds,
        "scope": ADMIN_SCOPE if admin else "rooms/user",
    }
    if name:
        claims["name"] = name
    return jwt.encode(claims, config.jwt_secret, algorithm="HS256")


class AuthorizerDenied(Exception):
    """Why the authorizer refused: ``code`` is one of missing_token, malformed_token, token_expired,
    token_not_yet_valid, wrong_issuer, wrong_audience, invalid_signature, missing_claim."""

    def __init__(self, message: str, code: str = "invalid_token") -> None:
        super().__init__(message)
        self.code = code


# PyJWT's errors → our 401 codes (most specific first: ExpiredSignatureError is an InvalidTokenError).
_DENIALS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "token_expired"),
    (jwt.ImmatureSignatureError, "token_not_yet_valid"),
    (jwt.InvalidIssuerError, "wrong_issuer"),
    (jwt.InvalidAudienceError, "wrong_audience"),
    (jwt.MissingRequiredClaimError, "missing_claim"),
    (jwt.InvalidSignatureError, "invalid_signature"),
    (jwt.DecodeError, "malformed_token"),
)


def authorize(config: LocalConfig, authorization: str | None) -> dict[str, str]:
    """The claims API Gateway would pass on, or AuthorizerDenied (→ 401)."""
    if not authorization:
        raise AuthorizerDenied("no Authorization header: send `Authorization: Bearer <JWT>`", "missing_token")
    if not authorization.lower().startswith("bearer "):
        raise AuthorizerDenied("the Authorization header is not `Bearer <JWT>`", "malformed_token")
    token = authorization.split(" ", 1)[1].strip()
    try:
        claims = jwt.decode(
            token, config.jwt_secret, algorithms=["HS256"], audience=config.jwt_audience,
            issuer=config.jwt_issuer, options={"require": ["exp", "iss", "sub"]},
        )
    except jwt.PyJWTError as err:
        code = next((c for kind, c in _DENIALS if isinstance(err, kind)), "invalid_token")
        raise AuthorizerDenied(str(err), code) from err
    # API Gateway hands claims to the integration as strings.
    return {k: v if isinstance(v, str) else str(v) for k, v in claims.items()}
