"""Where backups go and how they are sealed, read from GOVDX_BACKUP_* environment variables."""

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from catalog_schema.settings import home, under_home


class BackupSettings(BaseSettings):
    """The backup folder (under GOVDX_HOME unless absolute), the passphrase, scrypt's cost, pg tools."""

    model_config = SettingsConfigDict(env_prefix="GOVDX_BACKUP_")

    dir: Path = Field(default_factory=lambda: home() / "backups")
    # Read from the environment only when no --passphrase-file is given; never logged.
    passphrase: SecretStr | None = None
    # scrypt's N = 2^kdf_log2_n (r = 8, p = 1): 2^17 takes 128 MiB and about a second here.
    kdf_log2_n: int = Field(default=17, ge=14, le=20)
    # The folder of pg_dump and pg_restore when PATH's are not the ones to use (Debian:
    # /usr/lib/postgresql/<major>/bin).
    pg_bin: Path | None = None
    # The database to connect to for CREATE, ALTER and DROP DATABASE on the server.
    pg_maintenance_db: str = "postgres"
    # Where a PostgreSQL backup is restored to be verified; default the platform's own server.
    scratch_url: SecretStr | None = None

    @field_validator("dir")
    @classmethod
    def _under_home(cls, value: Path) -> Path:
        return under_home(value)
