"""Access tokens (password hashing is the user domain's: ``catalog_schema.user.passwords``).

Access tokens are JWTs (RFC 7519) signed with HMAC-SHA256 and short-lived;
the verifier pins the algorithm, so ``alg: none`` and algorithm-swap tokens are refused.
A token says whom it is for in ``typ``: a person's token (``user``) never passes as a machine
client's (``client``, OAuth2 client credentials, RFC 6749 §4.4) or the other way round.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

ALGORITHM = "HS256"
ISSUER = "govdx"
USER_TOKEN = "user"
CLIENT_TOKEN = "client"


@dataclass(frozen=True)
class TokenClaims:
    username: str
    role: str
    department_id: int
    expires_at: datetime
    # The user's session generation it was issued in; a token of an older one is void.
    generation: int = 0
    # One sign-in's id, kept by the tokens that renew it (a portal session; CSRF is bound to it).
    session_id: str = ""


def issue_token(
    *,
    username: str,
    role: str,
    department_id: int,
    secret: str,
    ttl: timedelta,
    generation: int = 0,
    session_id: str | None = None,
) -> str:
    """A signed access token for the user, valid for ``ttl``, in a session (a new one unless given)."""
    now = datetime.now(UTC)
    payload = {
        "gen": generation,
        "sid": session_id or uuid.uuid4().hex,
        "iss": ISSUER,
        "sub": username,
        "role": role,
        "dept": department_id,
        "typ": USER_TOKEN,
        "iat": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def read_token(token: str, *, secret: str) -> TokenClaims | None:
    """The claims of a valid token, or None when it is malformed, tampered with or expired."""
    payload = _decode(token, secret, USER_TOKEN)
    try:
        if payload is None:
            return None
        return TokenClaims(
            username=str(payload["sub"]),
            role=str(payload["role"]),
            department_id=int(payload["dept"]),
            expires_at=datetime.fromtimestamp(payload["exp"], UTC),
            generation=int(payload.get("gen", 0)),
            session_id=str(payload.get("sid") or payload.get("jti") or ""),
        )
    except (KeyError, TypeError, ValueError):
        return None


def _decode(token: str, secret: str, kind: str) -> dict[str, Any] | None:
    """The payload of a valid, unexpired token of ``kind``, or None."""
    try:
        payload: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "iss"]},
        )
    except (jwt.PyJWTError, TypeError, ValueError):
        return None
    # Tokens issued before ``typ`` existed were all user tokens.
    return payload if payload.get("typ", USER_TOKEN) == kind else None


@dataclass(frozen=True)
class ClientClaims:
    client_id: str
    department_id: int
    credential_version: int
    expires_at: datetime


def issue_client_token(
    *, client_id: str, department_id: int, credential_version: int, secret: str, ttl: timedelta
) -> str:
    """A signed access token for a machine client; ``cv`` ties it to the current credential."""
    now = datetime.now(UTC)
    payload = {
        "iss": ISSUER,
        "sub": client_id,
        "typ": CLIENT_TOKEN,
        "dept": department_id,
        "cv": credential_version,
        "iat": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


# Client tokens already verified, until they expire. A department system sends the same token with
# every call for its 10 minutes, and verifying it (base64, HMAC, claims) is a tenth of a data call
# (bench-api). Only a token that verified with this secret gets in, and its expiry is checked on
# every hit; rotation and revocation are still checked against the database on every call.
_VERIFIED: dict[tuple[str, str], ClientClaims] = {}
_VERIFIED_MAX = 4096


def read_client_token(token: str, *, secret: str) -> ClientClaims | None:
    """The claims of a valid machine-client token, or None (malformed, tampered, expired, a user's)."""
    now = datetime.now(UTC)
    claims = _VERIFIED.get((token, secret))
    if claims is not None:
        return claims if claims.expires_at > now else None
    claims = _client_claims(token, secret)
    if claims is not None and claims.expires_at > now:
        if len(_VERIFIED) >= _VERIFIED_MAX:
            _forget_expired(now)
        _VERIFIED[(token, secret)] = claims
    return claims


def _forget_expired(now: datetime) -> None:
    """Drop expired tokens from the cache; if none had expired, drop the oldest half."""
    for key, claims in list(_VERIFIED.items()):
        if claims.expires_at <= now:
            _VERIFIED.pop(key, None)
    if len(_VERIFIED) >= _VERIFIED_MAX:
        for key in list(_VERIFIED)[: _VERIFIED_MAX // 2]:
            _VERIFIED.pop(key, None)


def _client_claims(token: str, secret: str) -> ClientClaims | None:
    payload = _decode(token, secret, CLIENT_TOKEN)
    try:
        if payload is None:
            return None
        return ClientClaims(
            client_id=str(payload["sub"]),
            department_id=int(payload["dept"]),
            credential_version=int(payload["cv"]),
            expires_at=datetime.fromtimestamp(payload["exp"], UTC),
        )
    except (KeyError, TypeError, ValueError):
        return None
