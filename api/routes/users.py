"""Users: the platform administrator's."""

from typing import Annotated

from fastapi import APIRouter, Depends

from api.deps import DbSession, Paging, RowId, requires
from authz.permissions import UserManage
from catalog_schema.pagination import Page, page_of
from catalog_schema.user import service as user_service
from catalog_schema.user.models import User
from catalog_schema.user.schemas import UserCreate, UserRead, UserUpdate

router = APIRouter(prefix="/users", tags=["users 用户"], dependencies=[requires(UserManage)])


def _user(db: DbSession, user_id: RowId) -> User:
    return user_service.get(db=db, user_id=user_id)


PathUser = Annotated[User, Depends(_user)]


@router.get("", response_model=Page[UserRead], summary="用户列表 / list users")
def list_users(db: DbSession, paging: Paging) -> Page[UserRead]:
    users, total = user_service.list_(db=db, params=paging)
    return page_of([UserRead.of(u) for u in users], total, paging)


@router.post("", response_model=UserRead, status_code=201, summary="新增用户 / add a user")
def create_user(db: DbSession, data: UserCreate) -> UserRead:
    return UserRead.of(user_service.create(db=db, data=data))


@router.get("/{user_id}", response_model=UserRead, summary="用户详情 / one user")
def get_user(user: PathUser) -> UserRead:
    return UserRead.of(user)


@router.patch(
    "/{user_id}",
    response_model=UserRead,
    summary="修改用户(角色、部门、密码、停用) / update a user",
)
def update_user(db: DbSession, user: PathUser, data: UserUpdate) -> UserRead:
    return UserRead.of(user_service.update(db=db, user=user, data=data))
