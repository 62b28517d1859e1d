"""Log in (OAuth2 password flow) and who am I."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CurrentUser, DbSession, SessionFactory, Settings, client_address
from api.settings import ApiSettings
from authz import security
from catalog_schema.user import flows as user_flows
from catalog_schema.user import service as user_service
from catalog_schema.user.models import User
from catalog_schema.user.schemas import UserRead

router = APIRouter(prefix="/auth", tags=["auth 认证"])


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


def _token_for(user: User, settings: ApiSettings) -> Token:
    """A bearer token for ``user``, in the user's current session generation."""
    ttl = timedelta(minutes=settings.token_ttl_minutes)
    token = security.issue_token(
        username=user.username,
        role=user.role.value,
        department_id=user.department_id,
        secret=settings.secret_key,
        ttl=ttl,
        generation=user.session_generation,
    )
    return Token(access_token=token, expires_in=int(ttl.total_seconds()))


@router.post("/token", response_model=Token, summary="登录，换取访问令牌 / log in")
def login(
    request: Request,
    factory: SessionFactory,
    settings: Settings,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
) -> Token:
    user = user_flows.sign_in(
        session_factory=factory,
        username=form.username,
        password=form.password,
        address=client_address(request),
    )
    return _token_for(user, settings)


@router.post(
    "/logout", status_code=204, summary="退出：作废本用户的全部令牌 / log out: end every token of the user"
)
def logout(db: DbSession, user: CurrentUser) -> Response:
    user_service.end_sessions(db=db, user=user)
    return Response(status_code=204)


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(max_length=64)
    current_password: str = Field(max_length=128)
    new_password: str = Field(max_length=128)


@router.post(
    "/password",
    response_model=Token,
    summary="修改本人密码（过期的也可），作废旧令牌并换取新令牌 / change one's password",
)
def change_password(
    request: Request, factory: SessionFactory, settings: Settings, body: PasswordChange
) -> Token:
    user = user_flows.change_password(
        session_factory=factory,
        username=body.username,
        password=body.current_password,
        new_password=body.new_password,
        address=client_address(request),
    )
    return _token_for(user, settings)


@router.get("/me", response_model=UserRead, summary="当前用户 / current user")
def me(user: CurrentUser) -> UserRead:
    return UserRead.of(user)
