"""Where the pipelines find their sources and write their reports (GOVDX_ prefix)."""

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from catalog_schema.settings import home, under_home

# The demo city's declared sources, the default until GOVDX_SOURCES_FILE names a real one.
DEMO_SOURCES_FILE = Path(__file__).resolve().parents[1] / "demo" / "sources.yaml"


class PipelineSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GOVDX_", extra="ignore")

    # The declared department sources (sources.yaml); the demo's by default.
    sources_file: Path = DEMO_SOURCES_FILE
    # Where file drops live and relative file paths in sources.yaml resolve (under GOVDX_HOME).
    sources_dir: Path = Field(default_factory=lambda: home() / "sources")
    # Great Expectations project and its Data Docs (under GOVDX_HOME).
    quality_dir: Path = Field(default_factory=lambda: home() / "quality")

    @field_validator("sources_dir", "quality_dir")
    @classmethod
    def _under_home(cls, value: Path) -> Path:
        return under_home(value)
