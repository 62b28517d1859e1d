"""Where the platform's keyring lives, read from GOVDX_KEYS_* environment variables."""

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from catalog_schema.settings import home, under_home


class KeySettings(BaseSettings):
    """The keyring file (under GOVDX_HOME unless absolute). Reading never creates it: `govdx keys init`
    does, or `govdx demo seed` in the demo profile."""

    model_config = SettingsConfigDict(env_prefix="GOVDX_KEYS_")

    file: Path = Field(default_factory=lambda: home() / "keys.json")
    profile: Literal["demo", "production"] = Field(
        default="production", validation_alias=AliasChoices("GOVDX_PROFILE", "profile")
    )

    @field_validator("file")
    @classmethod
    def _under_home(cls, value: Path) -> Path:
        return under_home(value)
