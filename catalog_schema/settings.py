"""Database and platform settings, read from GOVDX_* environment variables."""

import functools
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

VAR_DIR = Path("var")


class DatabaseSettings(BaseSettings):
    """Where the platform database lives; SQLite under var/ unless GOVDX_DATABASE_URL says otherwise."""

    model_config = SettingsConfigDict(env_prefix="GOVDX_DATABASE_")

    url: str = Field(default=f"sqlite:///{VAR_DIR / 'govdx.sqlite'}")
    echo: bool = False
    # Connections kept open per process. Below the API's concurrent requests, every request past
    # it opens and closes a connection of its own (on SQLite, with its PRAGMAs; bench-api).
    pool_size: int = Field(default=20, ge=1, le=500)


class PlatformSettings(BaseSettings):
    """Who runs the platform: the department that keeps the base libraries and reviews requests."""

    model_config = SettingsConfigDict(env_prefix="GOVDX_", extra="ignore")

    # Its slug: it owns the review and direct-provision stages, and may register composite resources.
    platform_department: str = "shujuju"


@functools.cache
def platform_department() -> str:
    """The platform department's slug, read once per process (the data plane asks on every call)."""
    return PlatformSettings().platform_department
