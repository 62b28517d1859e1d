"""Machine clients: register, authenticate (OAuth2 client credentials), rotate and revoke.

A secret is 256 random bits shown once; only its SHA-256 is stored, so a fast hash suffices
(there is nothing to guess). Every rotation and revocation bumps ``credential_version``; tokens
carry the version they were issued under, so they stop working at once, not when they expire.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Row, Table, select
from sqlalchemy.orm import Session

from authz import security
from authz.clients.models import ApiClient
from authz.types import ClientStatus
from catalog_schema.database import utcnow
from catalog_schema.department import service as department_service
from catalog_schema.errors import Conflict, NotFound, Unauthorized
from catalog_schema.user.models import User

SECRET_PREFIX = "gxs_"
# Compared against when the client id is unknown, so a wrong id and a wrong secret take alike.
_DUMMY_HASH = hashlib.sha256(b"govdx-timing-equaliser").hexdigest()
INVALID_CLIENT = ("业务系统凭证无效或已吊销", "invalid, rotated or revoked client credentials")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def get(*, db: Session, client_id: str) -> ApiClient:
    """The client with this client id, or NotFound."""
    client = db.scalar(select(ApiClient).where(ApiClient.client_id == client_id))
    if client is None:
        raise NotFound(
            f"业务系统 {client_id!r} 不存在", f"client {client_id!r} does not exist", code="client_not_found"
        )
    return client


def list_(*, db: Session, department_id: int | None = None) -> list[ApiClient]:
    """Every client (or one department's), by client id."""
    stmt = select(ApiClient).order_by(ApiClient.client_id)
    if department_id is not None:
        stmt = stmt.where(ApiClient.department_id == department_id)
    return list(db.scalars(stmt))


def create(
    *,
    db: Session,
    department: str,
    name: str,
    user: User | None,
    client_id: str | None = None,
    secret: str | None = None,
) -> tuple[ApiClient, str]:
    """Register a department system; returns it with its secret (shown this once).

    ``client_id`` and ``secret`` are for the demo city's published client only; otherwise both
    are generated.
    """
    dept = department_service.get_by_ref(db=db, ref=department)
    if db.scalar(select(ApiClient.id).where(ApiClient.department_id == dept.id, ApiClient.name == name)):
        raise Conflict(
            f"{dept.name}已有名为“{name}”的业务系统", f"{dept.slug} already has a client named {name!r}"
        )
    secret = secret or _new_secret()
    client = ApiClient(
        client_id=client_id or f"{dept.slug}-{secrets.token_hex(4)}",
        name=name,
        department_id=dept.id,
        secret_hash=_hash(secret),
        created_by_id=user.id if user else None,
    )
    db.add(client)
    db.flush()
    db.refresh(client)
    return client, secret


def rotate(*, db: Session, client: ApiClient) -> tuple[ApiClient, str]:
    """A new secret for ``client``; the old secret and every token issued under it stop working."""
    if client.status is not ClientStatus.active:
        raise Conflict(
            f"业务系统 {client.client_id} 已吊销，不能轮换凭证；请登记新的业务系统",
            f"client {client.client_id} is revoked and cannot be rotated; register a new one",
            code="client_revoked",
        )
    secret = _new_secret()
    client.secret_hash = _hash(secret)
    client.credential_version += 1
    client.rotated_at = utcnow()
    db.flush()
    return client, secret


def revoke(*, db: Session, client: ApiClient, reason: str) -> ApiClient:
    """Revoke ``client`` for good; its tokens stop working at once."""
    if client.status is ClientStatus.active:
        client.status = ClientStatus.revoked
        client.credential_version += 1
        client.revoked_at = utcnow()
        client.revoked_reason = reason
        db.flush()
    return client


def authenticate(*, db: Session, client_id: str, client_secret: str) -> ApiClient:
    """The active client these credentials name, or Unauthorized ``invalid_client`` (RFC 6749 §5.2)."""
    client = db.scalar(select(ApiClient).where(ApiClient.client_id == client_id[:64]))
    expected = client.secret_hash if client is not None else _DUMMY_HASH
    matches = hmac.compare_digest(expected, _hash(client_secret))
    if client is None or not matches or client.status is not ClientStatus.active:
        raise Unauthorized(*INVALID_CLIENT, code="invalid_client")
    return client


def issue_token(*, client: ApiClient, secret: str, ttl: timedelta) -> str:
    """A short-lived access token for ``client`` under its current credential."""
    return security.issue_client_token(
        client_id=client.client_id,
        department_id=client.department_id,
        credential_version=client.credential_version,
        secret=secret,
        ttl=ttl,
    )


@dataclass(frozen=True)
class ClientIdentity:
    """Who a data call comes from: all the data plane needs of its client, read in one query."""

    client_id: str
    department_id: int


# Built once: the data plane authenticates every call, and the ORM's per-query work would cost
# more than the query (bench-api). The data plane reads these columns joined with its grants.
_CLIENTS = cast(Table, ApiClient.__table__)
IDENTITY_COLUMNS = (
    _CLIENTS.c.client_id,
    _CLIENTS.c.department_id,
    _CLIENTS.c.status.label("client_status"),
    _CLIENTS.c.credential_version,
)


def identity_of(claims: security.ClientClaims, row: Row[Any] | None) -> ClientIdentity | None:
    """The client of a verified token, given its row (``IDENTITY_COLUMNS``); None if rotated or revoked."""
    if (
        row is None
        or row.client_status != ClientStatus.active
        or row.credential_version != claims.credential_version
        or row.department_id != claims.department_id
    ):
        return None
    return ClientIdentity(client_id=row.client_id, department_id=row.department_id)
