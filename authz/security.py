"""Passwords and access tokens.

Passwords are hashed with Argon2id (argon2-cffi, RFC 9106 parameters), salted per hash and
slow by design. Access tokens are JWTs (RFC 7519) signed with HMAC-SHA256 and short-lived;
the verifier pins the algorithm, so ``alg: none`` and algorithm-swap tokens are refused.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps the timing of a wrong username
# and a wrong password alike.
_DUMMY_HASH = _hasher.hash("govdx-timing-equaliser")
ALGORITHM = "HS256"
ISSUER = "govdx"


def hash_password(password: str) -> str:
    """An Argon2id hash of ``password`` with a fresh salt."""
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    """Whether ``password`` matches ``password_hash``; a missing hash costs the same time."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class TokenClaims:
    username: str
    role: str
    department_id: int
    expires_at: datetime


def issue_token(*, username: str, role: str, department_id: int, secret: str, ttl: timedelta) -> str:
    """A signed access token for the user, valid for ``ttl``."""
    now = datetime.now(UTC)
    payload = {
        "iss": ISSUER,
        "sub": username,
        "role": role,
        "dept": department_id,
        "iat": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def read_token(token: str, *, secret: str) -> TokenClaims | None:
    """The claims of a valid token, or None when it is malformed, tampered with or expired."""
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "iss"]},
        )
        return TokenClaims(
            username=str(payload["sub"]),
            role=str(payload["role"]),
            department_id=int(payload["dept"]),
            expires_at=datetime.fromtimestamp(payload["exp"], UTC),
        )
    except (jwt.PyJWTError, KeyError, TypeError, ValueError):
        return None
