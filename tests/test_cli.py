"""The govdx command line: exit 0 on success, exit 2 with every problem on bad input."""

import json
import re

import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from api.cli import app
from catalog_schema.database import get_engine, get_sessionmaker
from catalog_schema.models import DataElement, Resource, User
from catalog_schema.resource import exchange
from demo import catalog as demo_catalog
from ingest import flows
from tests import factories, sources

runner = CliRunner()


def _use_database(monkeypatch, url):
    monkeypatch.setenv("GOVDX_DATABASE_URL", url)
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()


@pytest.fixture
def fresh_db(tmp_path, monkeypatch):
    """A new, empty SQLite database for the CLI to work on."""
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    _use_database(monkeypatch, url)
    yield url
    get_engine().dispose()
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()


@pytest.fixture
def seeded_db(engine, monkeypatch):
    """The shared database of each backend (with the demo catalog), for commands that change nothing."""
    _use_database(monkeypatch, engine.url.render_as_string(hide_password=False))
    yield engine
    get_engine().dispose()
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()


def _user_add(username, *, department, full_name="某人", password="a-long-passw0rd"):
    args = ["user", "add", username, "--role", "auditor", "--department", department]
    return runner.invoke(app, [*args, "--full-name", full_name, "--password", password])


def _counts(engine):
    with Session(engine) as s:
        return [s.scalar(select(func.count()).select_from(m)) for m in (Resource, DataElement, User)]


def test_db_upgrade_then_demo_seed_then_reimport_is_idempotent(fresh_db, tmp_path):
    upgraded = runner.invoke(app, ["db", "upgrade"])
    seeded = runner.invoke(app, ["demo", "seed"])
    exported = runner.invoke(app, ["catalog", "export", "--output", str(tmp_path / "c.yaml")])
    reimported = runner.invoke(app, ["catalog", "import", str(tmp_path / "c.yaml")])

    assert upgraded.exit_code == 0, upgraded.output
    assert seeded.exit_code == 0, seeded.output
    assert "catalog_admin" in seeded.output and demo_catalog.DEMO_PASSWORD in seeded.output
    assert exported.exit_code == 0
    assert reimported.exit_code == 0, reimported.output
    resources = len(yaml.safe_load(demo_catalog.CATALOG_FILE.read_text(encoding="utf-8"))["resources"])
    assert re.search(rf"resources\W+0\W+0\W+{resources}\b", reimported.output), reimported.output
    assert yaml.safe_load((tmp_path / "c.yaml").read_text(encoding="utf-8"))["version"] == 1


def test_demo_seed_creates_the_keyring_where_govdx_home_says_and_says_so(fresh_db, tmp_path, monkeypatch):
    monkeypatch.delenv("GOVDX_KEYS_FILE")
    monkeypatch.setenv("GOVDX_HOME", str(tmp_path / "home"))

    seeded = runner.invoke(app, ["demo", "seed"])

    assert seeded.exit_code == 0, seeded.output
    assert (tmp_path / "home" / "keys.json").exists()
    assert "keyring created" in seeded.output


def test_import_of_a_bad_file_exits_2_lists_every_problem_and_changes_nothing(seeded_db, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "resources": [
                    factories.resource(),
                    factories.resource(name="缺条件", share={"type": "conditional"}),
                    factories.resource(name="坏代码", code="999/1"),
                ],
            },
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    before = _counts(seeded_db)

    result = runner.invoke(app, ["catalog", "import", str(bad)])

    assert result.exit_code == 2
    assert "resources[1].share" in result.output and "resources[2].code" in result.output
    assert _counts(seeded_db) == before


def test_import_of_malformed_yaml_exits_2(seeded_db, tmp_path):
    bad = tmp_path / "broken.yaml"
    bad.write_text("version: 1\nresources: [\n", encoding="utf-8")

    result = runner.invoke(app, ["catalog", "import", str(bad)])

    assert result.exit_code == 2
    assert "malformed_file" in result.output


def test_import_of_a_missing_file_exits_2(seeded_db, tmp_path):
    result = runner.invoke(app, ["catalog", "import", str(tmp_path / "absent.yaml")])

    assert result.exit_code == 2
    assert "file_unreadable" in result.output


def test_dcat_export_is_json_ld(seeded_db):
    result = runner.invoke(app, ["catalog", "export", "--format", "dcat"])

    assert result.exit_code == 0
    assert json.loads(result.stdout)["@type"] == "dcat:Catalog"


def test_user_add_with_unknown_department_exits_2_and_adds_nothing(seeded_db):
    before = _counts(seeded_db)

    result = _user_add("someone", department="nowhere")

    assert result.exit_code == 2
    assert "department_not_found" in result.output
    assert _counts(seeded_db) == before


def test_user_add_with_short_password_exits_2(seeded_db):
    result = _user_add("someone", department="shujuju", password="short")

    assert result.exit_code == 2
    assert "password" in result.output


def test_user_add_creates_a_user(fresh_db):
    runner.invoke(app, ["demo", "seed"])

    result = _user_add("new_auditor", department="shujuju", full_name="新审计")

    assert result.exit_code == 0, result.output
    assert "new_auditor" in result.output


def test_dry_run_reports_what_would_change_and_saves_nothing(seeded_db, tmp_path):
    new = tmp_path / "new.yaml"
    new.write_text(
        yaml.safe_dump({"version": 1, "resources": [factories.resource()]}, allow_unicode=True),
        encoding="utf-8",
    )
    before = _counts(seeded_db)

    result = runner.invoke(app, ["catalog", "import", "--dry-run", str(new)])

    assert result.exit_code == 0, result.output
    assert "dry run" in result.output
    assert _counts(seeded_db) == before


def test_import_of_an_oversized_file_exits_2_and_changes_nothing(seeded_db, tmp_path):
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (exchange.MAX_FILE_BYTES + 1))
    before = _counts(seeded_db)

    result = runner.invoke(app, ["catalog", "import", str(big)])

    assert result.exit_code == 2
    assert "file_too_large" in result.output
    assert _counts(seeded_db) == before


def test_import_of_a_non_utf8_file_exits_2_and_changes_nothing(seeded_db, tmp_path):
    gbk = tmp_path / "gbk.yaml"
    gbk.write_bytes("version: 1\n# 中文目录\n".encode("gbk"))
    before = _counts(seeded_db)

    result = runner.invoke(app, ["catalog", "import", str(gbk)])

    assert result.exit_code == 2
    assert "file_encoding" in result.output
    assert _counts(seeded_db) == before


def _loaded(tmp_path, rows):
    """The fresh database migrated and seeded, with 公安 户籍 rows loaded."""
    runner.invoke(app, ["db", "upgrade"])
    runner.invoke(app, ["demo", "seed"])
    spec = sources.household_register(tmp_path / "huji.csv", rows)
    flows.ingest(spec, session_factory=get_sessionmaker(), sources_dir=tmp_path, run_id="test")


def test_library_show_finds_a_person_by_the_id_number_as_typed(fresh_db, tmp_path):
    _loaded(tmp_path, [sources.person(1)])
    typed = sources.id_number(1)[:6] + " " + sources.id_number(1)[6:]

    result = runner.invoke(app, ["library", "show", "population", typed])

    assert result.exit_code == 0, result.output
    assert "测试1" in result.output and sources.id_number(1) in result.output


def test_library_quarantine_lists_the_subject_key_in_the_clear(fresh_db, tmp_path):
    _loaded(tmp_path, [sources.person(1, mz="77")])

    result = runner.invoke(app, ["library", "quarantine"])

    assert result.exit_code == 0, result.output
    assert sources.id_number(1) in result.output and "ethnicity_unknown_code" in result.output
