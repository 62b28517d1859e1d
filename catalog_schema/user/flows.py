"""Signing in and changing one's password; failed attempts counted, too many locking the account or address.

GB/T 22239 三级 asks that repeated failed sign-ins be limited: after ``max_failures`` failures of an
account, or ``max_failures_per_address`` from one address, within ``lock_minutes``, the account or
the address is locked until ``lock_minutes`` after its last failure. A name no user has counts as
well (the lock must not tell which names exist). While locked, no password is checked and nothing is
counted, so the lock ends on time even while someone keeps trying. A successful sign-in clears
its account's failures, not its address's.

The password check reads only; the slow hash must not hold a write lock (SQLite has one for the
whole database). A failure is written after it, in a short transaction of its own.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from catalog_schema.database import for_writing, utcnow
from catalog_schema.errors import GovdxError, InvalidInput, Problem, Unauthorized
from catalog_schema.user import password_policy
from catalog_schema.user import service as user_service
from catalog_schema.user.models import LoginFailure, User
from catalog_schema.user.settings import login_settings
from catalog_schema.validation import BilingualValueError

MAX_NAME = 64
SHANGHAI = ZoneInfo("Asia/Shanghai")  # the time users read; authz.calendar's zone


class LoginLocked(GovdxError):
    """Too many failed sign-ins: 429 until the lock ends."""

    status = 429
    code = "login_locked"


def _bad_credentials() -> Unauthorized:
    return Unauthorized("用户名或密码错误", "incorrect username or password", code="invalid_credentials")


def _locked_until(
    db: Session, column: InstrumentedAttribute[str | None], value: str, limit: int, now: datetime
) -> datetime | None:
    """When the lock on this name or address ends, if it has ``limit`` failures in the window."""
    window = timedelta(minutes=login_settings().lock_minutes)
    count, last = db.execute(
        select(func.count(), func.max(LoginFailure.at)).where(column == value, LoginFailure.at > now - window)
    ).one()
    if count < limit or last is None:
        return None
    return last + window


def _refuse_if_locked(db: Session, username: str, address: str | None, now: datetime) -> None:
    settings = login_settings()
    until = _locked_until(db, LoginFailure.username, username, settings.max_failures, now)
    whom, whom_en = "该账户", "this account"
    if until is None and address:
        until = _locked_until(db, LoginFailure.address, address, settings.max_failures_per_address, now)
        whom, whom_en = "来自此地址的登录", "signing in from this address"
    if until is None:
        return
    retry_after = max(1, int((until - now).total_seconds()))
    raise LoginLocked(
        f"登录失败次数过多，{whom}已锁定至 {until.astimezone(SHANGHAI):%H:%M}（北京时间），"
        "请稍后再试或联系平台管理员",
        f"too many failed sign-ins: {whom_en} is locked until {until:%Y-%m-%d %H:%M} UTC; try later "
        "or ask the platform administrator",
        extra={"locked_until": until.isoformat(), "retry_after": retry_after},
    )


class PasswordExpired(GovdxError):
    """Right credentials, but the password is older than the policy allows: it must be changed first."""

    status = 403
    code = "password_expired"


def sign_in(
    *, session_factory: sessionmaker[Session], username: str, password: str, address: str | None
) -> User:
    """The active user with these credentials; Unauthorized if wrong, LoginLocked, PasswordExpired."""
    user = _checked(session_factory=session_factory, username=username, password=password, address=address)
    max_age = password_policy.policy().max_age_days
    if max_age and user.password_changed_at < utcnow() - timedelta(days=max_age):
        raise PasswordExpired(
            f"密码已超过 {max_age} 天未更换，请先修改密码（POST /api/v1/auth/password）或联系平台管理员",
            f"the password is older than {max_age} days; change it first (POST /api/v1/auth/password) "
            "or ask the platform administrator",
        )
    return user


def change_password(
    *,
    session_factory: sessionmaker[Session],
    username: str,
    password: str,
    new_password: str,
    address: str | None,
) -> User:
    """Set a new password for whoever knows the current one (an expired one too); ends every session."""
    user = _checked(session_factory=session_factory, username=username, password=password, address=address)
    try:
        password_policy.validate(new_password, username=user.username)
    except BilingualValueError as error:
        raise InvalidInput(
            error.message,
            error.message_en,
            problems=[Problem("new_password", error.message, error.message_en)],
        ) from None
    if new_password == password:
        message, message_en = "新密码不能与当前密码相同", "the new password must differ from the current one"
        raise InvalidInput(message, message_en, problems=[Problem("new_password", message, message_en)])
    with session_factory() as db:
        for_writing(db)
        stored = user_service.get(db=db, user_id=user.id)
        user_service.set_password(db=db, user=stored, password=new_password)
        db.commit()
        return stored


def _checked(
    *, session_factory: sessionmaker[Session], username: str, password: str, address: str | None
) -> User:
    """The active user with these credentials; Unauthorized if wrong, LoginLocked if locked."""
    # As typed, cut to fit; a NUL byte (which PostgreSQL's text refuses, and no user name has) kept visible.
    name = username.strip()[:MAX_NAME].replace("\x00", "\ufffd")
    now = utcnow()
    with session_factory() as db:
        _refuse_if_locked(db, name, address, now)
        # Closing (not rolling back) the read: the user's attributes stay loaded for the caller.
        user = user_service.authenticate(db=db, username=name, password=password)
        to_clear = user is not None and db.scalar(
            select(LoginFailure.id).where(LoginFailure.username == name).limit(1)
        )
    # A sign-in with nothing to clear writes nothing: it never waits for a writer.
    if user is None or to_clear:
        with session_factory() as db:
            for_writing(db)
            if user is None:
                db.add(LoginFailure(username=name, address=address, at=now))
            else:
                db.execute(delete(LoginFailure).where(LoginFailure.username == name))
            db.commit()
    if user is None:
        raise _bad_credentials()
    return user
