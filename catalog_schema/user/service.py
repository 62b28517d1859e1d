"""Reads and writes of users, and checking a login."""

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog_schema.database import utcnow
from catalog_schema.department import service as department_service
from catalog_schema.errors import Conflict, InvalidInput, NotFound, Problem
from catalog_schema.pagination import PageParams, paginate
from catalog_schema.user import password_policy, passwords
from catalog_schema.user.models import User
from catalog_schema.user.schemas import UserCreate, UserUpdate

USERNAME = re.compile(r"[a-z][a-z0-9_.]{2,31}")


def get(*, db: Session, user_id: int) -> User:
    """The user with this id, or NotFound."""
    user = db.get(User, user_id)
    if user is None:
        raise NotFound(f"用户 {user_id} 不存在", f"user {user_id} does not exist", code="user_not_found")
    return user


def get_by_username(*, db: Session, username: str) -> User | None:
    """The user with this username, if any."""
    return db.scalar(select(User).where(User.username == username))


def list_(*, db: Session, params: PageParams) -> tuple[list[User], int]:
    """A page of users by username."""
    return paginate(db, select(User).order_by(User.username), params)


def create(*, db: Session, data: UserCreate) -> User:
    """Add a user with a hashed password; the username must be unused."""
    if get_by_username(db=db, username=data.username) is not None:
        raise Conflict(
            f"用户名 {data.username!r} 已存在",
            f"username {data.username!r} is taken",
            code="user_duplicate",
        )
    dept = department_service.get_by_ref(db=db, ref=data.department)
    user = User(
        username=data.username,
        full_name=data.full_name,
        role=data.role,
        department=dept,
        password_hash=passwords.hash_password(data.password),
    )
    db.add(user)
    db.flush()
    return user


def update(*, db: Session, user: User, data: UserUpdate) -> User:
    """Change a user's name, role, department, password or active flag."""
    if data.department is not None:
        user.department = department_service.get_by_ref(db=db, ref=data.department)
    if data.full_name is not None:
        user.full_name = data.full_name
    if data.role is not None:
        user.role = data.role
    if data.password is not None:
        if not password_policy.is_valid(data.password, username=user.username):
            raise InvalidInput(
                "密码不得包含用户名",
                "a password must not contain the user name",
                problems=[
                    Problem("password", "密码不得包含用户名", "a password must not contain the user name")
                ],
            )
        set_password(db=db, user=user, password=data.password)
    if data.is_active is not None:
        if user.is_active and not data.is_active:
            end_sessions(db=db, user=user)
        user.is_active = data.is_active
    db.flush()
    return user


def set_password(*, db: Session, user: User, password: str) -> None:
    """Store a new password (hashed), stamp its age, and end every session of the user."""
    user.password_hash = passwords.hash_password(password)
    user.password_changed_at = utcnow()
    end_sessions(db=db, user=user)


def end_sessions(*, db: Session, user: User) -> None:
    """Void every token the user holds, in every worker: their generation is no longer the user's."""
    user.session_generation = User.session_generation + 1
    db.flush()
    db.refresh(user, ["session_generation"])


def authenticate(*, db: Session, username: str, password: str) -> User | None:
    """The active user with these credentials, or None (without saying which part was wrong)."""
    # A name no user can have is not looked up (it may hold bytes the database refuses, e.g. NUL).
    user = get_by_username(db=db, username=username) if USERNAME.fullmatch(username) else None
    ok = passwords.verify_password(password, user.password_hash if user else None)
    if user is None or not ok or not user.is_active:
        return None
    return user
