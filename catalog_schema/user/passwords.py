"""Password hashing: Argon2id (argon2-cffi, RFC 9106 parameters), salted per hash, slow by design.

``GOVDX_PASSWORD_HASH_PROFILE=cheapest`` selects argon2-cffi's cheapest parameters, for the test
suite (it hashes a password for every user it creates) and the demo; anywhere else it is refused
at start-up (:func:`check_settings`). A verifier reads the parameters from each stored hash, so
hashes of either profile verify under both.
"""

import os
from functools import cache
from typing import Literal

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class PasswordSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GOVDX_PASSWORD_", extra="ignore")

    hash_profile: Literal["rfc_9106_low_memory", "cheapest"] = "rfc_9106_low_memory"
    profile: Literal["demo", "production"] = Field(
        default="production", validation_alias=AliasChoices("GOVDX_PROFILE", "profile")
    )

    @model_validator(mode="after")
    def _cheapest_only_for_tests_and_the_demo(self) -> "PasswordSettings":
        # pytest names itself in PYTEST_VERSION, for its own process and those it starts.
        if self.hash_profile == "cheapest" and self.profile != "demo" and "PYTEST_VERSION" not in os.environ:
            raise ValueError(
                "GOVDX_PASSWORD_HASH_PROFILE=cheapest makes password hashes cheap to crack; it is "
                "allowed only in the test suite and with GOVDX_PROFILE=demo"
            )
        return self


def check_settings() -> None:
    """Read the password settings now, so a bad value stops start-up instead of the first login."""
    PasswordSettings()


@cache
def _hasher() -> tuple[PasswordHasher, str]:
    """The hasher of the configured profile, and a hash to verify against when a user is missing."""
    name = PasswordSettings().hash_profile
    hasher = PasswordHasher.from_parameters(
        profiles.CHEAPEST if name == "cheapest" else profiles.RFC_9106_LOW_MEMORY
    )
    # Verifying against this when the user does not exist keeps the timing of a wrong username
    # and a wrong password alike.
    return hasher, hasher.hash("govdx-timing-equaliser")


def hash_password(password: str) -> str:
    """An Argon2id hash of ``password`` with a fresh salt."""
    return _hasher()[0].hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    """Whether ``password`` matches ``password_hash``; a missing hash costs the same time."""
    hasher, dummy = _hasher()
    try:
        return hasher.verify(password_hash or dummy, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False
