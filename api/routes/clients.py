"""Machine clients: the OAuth2 client-credentials token, and registering, rotating and revoking clients."""

import base64
import binascii
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Header, Path, status

from api.deps import CurrentUser, DbSession, ReadDb, Settings, requires
from authz.clients import service as clients_service
from authz.clients.schemas import ClientCreate, ClientRead, ClientRevoke, ClientSecret, ClientToken
from authz.permissions import ClientManage
from catalog_schema.errors import InvalidInput, Unauthorized

router = APIRouter(tags=["clients 业务系统凭证"])

ClientIdPath = Annotated[str, Path(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_]+-[0-9a-f]{8}$")]


def _basic(authorization: str | None) -> tuple[str, str] | None:
    """(client_id, secret) from an HTTP Basic header (RFC 6749 §2.3.1), if there is one."""
    if not authorization or not authorization.lower().startswith("basic "):
        return None
    try:
        client_id, _, secret = base64.b64decode(authorization[6:], validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return client_id, secret


@router.post(
    "/auth/client-token",
    response_model=ClientToken,
    summary="业务系统换取访问令牌 / OAuth2 client credentials (RFC 6749 §4.4)",
)
def client_token(
    db: ReadDb,
    settings: Settings,
    grant_type: Annotated[str, Form(max_length=40)],
    client_id: Annotated[str | None, Form(max_length=64)] = None,
    client_secret: Annotated[str | None, Form(max_length=200)] = None,
    authorization: Annotated[str | None, Header(max_length=400)] = None,
) -> ClientToken:
    if grant_type != "client_credentials":
        raise InvalidInput(
            "grant_type 必须为 client_credentials",
            "grant_type must be client_credentials",
            code="unsupported_grant_type",
        )
    credentials = _basic(authorization) or (client_id, client_secret)
    if not credentials[0] or not credentials[1]:
        raise Unauthorized(*clients_service.INVALID_CLIENT, code="invalid_client")
    client = clients_service.authenticate(db=db, client_id=credentials[0], client_secret=credentials[1])
    ttl = timedelta(minutes=settings.client_token_ttl_minutes)
    token = clients_service.issue_token(client=client, secret=settings.secret_key, ttl=ttl)
    return ClientToken(access_token=token, expires_in=int(ttl.total_seconds()))


@router.get(
    "/clients",
    response_model=list[ClientRead],
    dependencies=[requires(ClientManage)],
    summary="业务系统列表 / machine clients",
)
def list_clients(db: DbSession) -> list[ClientRead]:
    return [ClientRead.of(c) for c in clients_service.list_(db=db)]


@router.post(
    "/clients",
    response_model=ClientSecret,
    status_code=status.HTTP_201_CREATED,
    dependencies=[requires(ClientManage)],
    summary="登记业务系统（密钥仅显示这一次）/ register a client; the secret is shown once",
)
def create_client(db: DbSession, user: CurrentUser, data: ClientCreate) -> ClientSecret:
    client, secret = clients_service.create(db=db, department=data.department, name=data.name, user=user)
    return ClientSecret(**ClientRead.of(client).model_dump(), client_secret=secret)


@router.post(
    "/clients/{client_id}/rotate",
    response_model=ClientSecret,
    dependencies=[requires(ClientManage)],
    summary="轮换密钥，旧密钥和已签发令牌立即失效 / rotate the secret",
)
def rotate_client(db: DbSession, client_id: ClientIdPath) -> ClientSecret:
    client, secret = clients_service.rotate(db=db, client=clients_service.get(db=db, client_id=client_id))
    return ClientSecret(**ClientRead.of(client).model_dump(), client_secret=secret)


@router.post(
    "/clients/{client_id}/revoke",
    response_model=ClientRead,
    dependencies=[requires(ClientManage)],
    summary="吊销业务系统 / revoke a client",
)
def revoke_client(db: DbSession, client_id: ClientIdPath, data: ClientRevoke) -> ClientRead:
    client = clients_service.get(db=db, client_id=client_id)
    return ClientRead.of(clients_service.revoke(db=db, client=client, reason=data.reason))
