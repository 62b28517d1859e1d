"""Where the pipelines find their sources and write their reports (GOVDX_ prefix)."""

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

# The demo city's declared sources, the default until GOVDX_SOURCES_FILE names a real one.
DEMO_SOURCES_FILE = Path(__file__).resolve().parents[1] / "demo" / "sources.yaml"


class PipelineSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GOVDX_", extra="ignore")

    # The declared department sources (sources.yaml); the demo's by default.
    sources_file: Path = DEMO_SOURCES_FILE
    # Where file drops live and relative file paths in sources.yaml resolve.
    sources_dir: Path = Path("var/sources")
    # Great Expectations project and its Data Docs.
    quality_dir: Path = Path("var/quality")
