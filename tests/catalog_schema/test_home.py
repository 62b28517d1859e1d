"""GOVDX_HOME: one root for the platform's state, whatever the working directory."""

from pathlib import Path

from catalog_schema import settings
from catalog_schema.keys.settings import KeySettings
from catalog_schema.settings import DatabaseSettings
from ingest.settings import PipelineSettings


def test_state_defaults_under_var_beside_the_project_whatever_the_working_directory(monkeypatch, tmp_path):
    monkeypatch.delenv("GOVDX_HOME", raising=False)
    monkeypatch.delenv("GOVDX_KEYS_FILE", raising=False)
    monkeypatch.delenv("GOVDX_SOURCES_DIR", raising=False)
    monkeypatch.chdir(tmp_path)

    var = Path(settings.__file__).resolve().parents[1] / "var"

    assert KeySettings().file == var / "keys.json"
    assert (PipelineSettings().sources_dir, PipelineSettings().quality_dir) == (
        var / "sources",
        var / "quality",
    )


def test_govdx_home_anchors_the_keyring_sources_quality_and_database(monkeypatch, tmp_path):
    for name in ("GOVDX_KEYS_FILE", "GOVDX_SOURCES_DIR", "GOVDX_QUALITY_DIR", "GOVDX_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GOVDX_HOME", str(tmp_path / "state"))

    pipelines = PipelineSettings()

    assert KeySettings().file == tmp_path / "state" / "keys.json"
    assert (pipelines.sources_dir, pipelines.quality_dir) == (
        tmp_path / "state/sources",
        tmp_path / "state/quality",
    )
    assert DatabaseSettings().url == f"sqlite:///{tmp_path / 'state' / 'govdx.sqlite'}"


def test_a_relative_path_is_taken_under_govdx_home_not_the_working_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("GOVDX_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("GOVDX_KEYS_FILE", "secrets/keys.json")
    monkeypatch.setenv("GOVDX_SOURCES_DIR", "drops")
    monkeypatch.chdir(tmp_path)

    assert KeySettings().file == tmp_path / "state" / "secrets" / "keys.json"
    assert PipelineSettings().sources_dir == tmp_path / "state" / "drops"
