"""``govdx demo sources``: writes the sources and lists their faults, or refuses with a reason."""

from pathlib import Path

from typer.testing import CliRunner

from api.cli import app
from demo.sources.manifest import Manifest

runner = CliRunner()


def test_demo_sources_command_writes_the_sources_and_lists_their_faults(tmp_path: Path) -> None:
    out = tmp_path / "sources"

    result = runner.invoke(app, ["demo", "sources", "--people", "150", "--orgs", "60", "--out", str(out)])

    assert result.exit_code == 0, result.output
    assert Manifest.load(out / "manifest.json").people == 150
    assert "gongan_huji" in result.output and "uscc_pilot ×2" in result.output


def test_demo_sources_command_refuses_too_small_a_city(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "sources", "--people", "10", "--out", str(tmp_path)])

    assert result.exit_code == 2
    assert "人口数至少为 100" in result.output and "invalid_input" in result.output
    assert not (tmp_path / "manifest.json").exists()


def test_demo_sources_command_refuses_an_output_path_that_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.write_text("", encoding="utf-8")

    result = runner.invoke(app, ["demo", "sources", "--people", "150", "--orgs", "60", "--out", str(target)])

    assert result.exit_code == 2 and "不是目录" in result.output
