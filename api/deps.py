"""Request dependencies: the database session, the current user, and declared permissions.

The request owns the transaction through the dependency its route declares, beside the route:

- ``DbSession``: one session for the request, committed once after the route returns (before the
  response is sent) and rolled back on any error. A POST, PUT, PATCH or DELETE writes: its session
  takes the write lock before its first statement (``for_writing``; SQLite begins IMMEDIATE), so
  writers queue for SQLite's single lock instead of failing between their read and their write.
- ``ReadDb``: the same session, for a POST that only reads (logging in, verifying a certificate, the
  benchmark's lookup). It never takes the write lock: a login must not queue for (or hold) it while
  the deliberately slow password hash runs. It still commits at the end, as ``DbSession`` does.
- ``SessionFactory``: for routes that run their own transactions (ingest batches on resubmission,
  the data plane's group commit, streaming exports that outlive the request). They open sessions
  from it; the request's session, if the current user needs one, then only reads.

``CurrentUser`` and the route share the one request session, so the route's declaration decides for
the whole request: ``get_db`` reads it off the matched route (``reads_only``) before the session's
first statement.
"""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Query, Request, params
from fastapi.routing import APIRoute
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session, sessionmaker

from api.settings import ApiSettings
from authz import security
from authz.permissions import Permission
from catalog_schema.database import for_writing
from catalog_schema.errors import Unauthorized
from catalog_schema.keys import service as keys_service
from catalog_schema.keys.service import Keyring
from catalog_schema.pagination import MAX_PAGE_SIZE, PageParams
from catalog_schema.user import service as user_service
from catalog_schema.user.models import User

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def client_address(request: Request) -> str | None:
    """The caller's address as the access log and the sign-in locks keep it (api.middleware settled it)."""
    return request.client.host[:64] if request.client else None


oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_db(request: Request) -> Iterator[Session]:
    """One session per request; the request owns the transaction and commits once at the end."""
    session: Session = request.app.state.sessionmaker()
    if request.method not in SAFE_METHODS and not reads_only(request.scope.get("route")):
        for_writing(session)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# scope="function": commit before the response is sent, so a failed commit is the client's error.
DbSession = Annotated[Session, Depends(get_db, scope="function")]


# async: handing on the session needs no worker thread.
async def get_read_db(db: DbSession) -> Session:
    """The request's session, for a POST that only reads: it never takes the write lock."""
    return db


ReadDb = Annotated[Session, Depends(get_read_db)]


async def get_session_factory(request: Request) -> sessionmaker[Session]:
    """The app's session factory, for a route that opens and commits its own transactions."""
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    return factory


SessionFactory = Annotated[sessionmaker[Session], Depends(get_session_factory)]


def reads_only(route: object) -> bool:
    """Whether the route declared ``ReadDb`` or ``SessionFactory``: its request session never writes."""
    if not isinstance(route, APIRoute):
        return False
    return any(d.call in (get_read_db, get_session_factory) for d in route.dependant.dependencies)


# async: reading app state needs no worker thread (a sync dependency costs every request a hop).
async def get_settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


Settings = Annotated[ApiSettings, Depends(get_settings)]

_BAD_CREDENTIALS = (
    "身份凭证无效或已过期，请重新登录",
    "invalid or expired credentials; log in again",
)


def get_current_user(
    db: DbSession, settings: Settings, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> User:
    """The active user named by a valid bearer token; any failure is the same 401."""
    claims = security.read_token(token, secret=settings.secret_key) if token else None
    user = user_service.get_by_username(db=db, username=claims.username) if claims else None
    if claims is None or user is None or not user.is_active or claims.generation != user.session_generation:
        raise Unauthorized(*_BAD_CREDENTIALS, code="invalid_token")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def get_current_keyring() -> Keyring:
    """The platform keyring (re-read when the key file changes, e.g. after ``govdx keys rotate``)."""
    return keys_service.get_keyring()


# What is sealed at rest is opened only for the readers a route admits.
CurrentKeyring = Annotated[Keyring, Depends(get_current_keyring)]


async def bearer_token(token: Annotated[str | None, Depends(oauth2_scheme)]) -> str | None:
    """The raw bearer token of the request, if any (the data plane records failed logins itself)."""
    return token


BearerToken = Annotated[str | None, Depends(bearer_token)]


def requires(permission: Permission) -> params.Depends:
    """A dependency that lets the request through only if the current user has ``permission``."""

    def check(user: CurrentUser) -> User:
        return permission.check(user)

    check.__name__ = f"requires_{permission.name.replace(' ', '_')}"
    return Depends(check)


def page_params(
    page: Annotated[int, Query(ge=1, le=100_000, description="页码 / page number")] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="每页条数 / page size")] = 20,
) -> PageParams:
    return PageParams(page=page, page_size=page_size)


Paging = Annotated[PageParams, Depends(page_params)]

# Path and query parameters, constrained before any of them reaches the database.
RowId = Annotated[int, Path(ge=1, le=2**31 - 1, description="编号 / id")]
DepartmentKeyPath = Annotated[str, Path(min_length=2, max_length=32, pattern=r"^[A-Za-z0-9_]+$")]
ElementCodePath = Annotated[str, Path(max_length=64, pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")]
ElementCodeQuery = Annotated[
    str | None,
    Query(max_length=64, pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$", description="数据元代码"),
]
DepartmentKeyQuery = Annotated[
    str | None,
    Query(min_length=2, max_length=32, pattern=r"^[A-Za-z0-9_]+$", description="部门简码或统一社会信用代码"),
]
