"""Database settings, read from GOVDX_DATABASE_* environment variables."""

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
