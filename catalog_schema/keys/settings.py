"""Where the platform's keyring lives, read from GOVDX_KEYS_* environment variables."""

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from catalog_schema.settings import VAR_DIR


class KeySettings(BaseSettings):
    """The keyring file; only the demo profile may create one on first use."""

    model_config = SettingsConfigDict(env_prefix="GOVDX_KEYS_")

    file: Path = Field(default=VAR_DIR / "keys.json")
    profile: Literal["demo", "production"] = Field(
        default="production", validation_alias=AliasChoices("GOVDX_PROFILE", "profile")
    )
