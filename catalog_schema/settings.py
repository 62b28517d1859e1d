"""Database and platform settings, read from GOVDX_* environment variables.

One root holds the platform's state on disk: ``GOVDX_HOME`` (default ``var/`` beside the project,
whatever the working directory). The keyring, the SQLite database, the sources and the quality
reports default to places under it, and a relative path given for any of them is taken under it
too, so a worker started in another directory finds the same keyring instead of another one.
"""

import functools
import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def home() -> Path:
    """The root of the platform's state (``GOVDX_HOME``), absolute; read on each call, as tests change it."""
    configured = os.environ.get("GOVDX_HOME")
    root = Path(configured).expanduser() if configured else PROJECT_ROOT / "var"
    return root if root.is_absolute() else (PROJECT_ROOT / root).resolve()


def under_home(path: Path) -> Path:
    """``path`` itself when absolute, else the same path under ``GOVDX_HOME``."""
    path = path.expanduser()
    return path if path.is_absolute() else home() / path


class DatabaseSettings(BaseSettings):
    """Where the platform database lives; SQLite under GOVDX_HOME unless GOVDX_DATABASE_URL says otherwise."""

    model_config = SettingsConfigDict(env_prefix="GOVDX_DATABASE_")

    url: str = Field(default_factory=lambda: f"sqlite:///{home() / 'govdx.sqlite'}")
    echo: bool = False
    # Connections kept open per process. Below the API's concurrent requests, every request past
    # it opens and closes a connection of its own (on SQLite, with its PRAGMAs; bench-api).
    pool_size: int = Field(default=20, ge=1, le=500)
    # Servers: test each pooled connection with a round trip before handing it out.
    pre_ping: bool = True


class PlatformSettings(BaseSettings):
    """Who runs the platform: the department that keeps the base libraries and reviews requests."""

    model_config = SettingsConfigDict(env_prefix="GOVDX_", extra="ignore")

    # Its slug: it owns the review and direct-provision stages, and may register composite resources.
    platform_department: str = "shujuju"


@functools.cache
def platform_department() -> str:
    """The platform department's slug, read once per process (the data plane asks on every call)."""
    return PlatformSettings().platform_department
