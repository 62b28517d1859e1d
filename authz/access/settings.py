"""Settings of the data plane (GOVDX_DATA_ prefix): how many keys a batch may name, how exports stream."""

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class DataSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GOVDX_DATA_", extra="ignore")

    # GOVDX_DATA_MAX_BATCH: keys one batch lookup may name.
    max_batch: int = Field(default=100, ge=1, le=10_000)
    # Subjects per Parquet row group of an export: memory stays bounded by this, not by the library.
    # Each group is traced (an access record, committed) before it leaves: at 20,000 the commits
    # cost about 2% of an export, at 5,000 about 7% (bench-export).
    export_rows: int = Field(default=20_000, ge=1, le=1_000_000)


@lru_cache(maxsize=1)
def get_settings() -> DataSettings:
    """The data plane's settings, read once per process."""
    return DataSettings()
