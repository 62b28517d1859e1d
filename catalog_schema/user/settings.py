"""Sign-in settings: how many failed sign-ins lock an account or an address, and for how long."""

from functools import cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class LoginSettings(BaseSettings):
    """GB/T 22239 三级 8.1.4.1: 登录失败处理 (end the session, limit failed attempts, lock on excess)."""

    model_config = SettingsConfigDict(env_prefix="GOVDX_LOGIN_", extra="ignore")

    max_failures: int = Field(default=5, ge=1, le=100)  # per account, within the lock window
    max_failures_per_address: int = Field(default=5, ge=1, le=1000)  # offices behind one NAT may need more
    lock_minutes: int = Field(default=15, ge=1, le=24 * 60)


@cache
def login_settings() -> LoginSettings:
    return LoginSettings()
