"""Every demo source loaded end to end; every injected fault ends where the manifest says it must.

The demo generator records each fault it injects (source, row, key, expected outcome). This
module loads all demo sources once per database backend, inside a transaction rolled back at
the end, and checks each fault's outcome: quarantined with its rule, held for review, or
loaded with a discrepancy ticket.
"""

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from catalog_schema.dataset.models import DatasetRecord
from catalog_schema.element.models import DataElement
from catalog_schema.keys import service as keys_service
from catalog_schema.library import service as library_service
from catalog_schema.library import subjects
from catalog_schema.library.models import Discrepancy, IngestBatch, LibraryRecord, QuarantinedRow
from catalog_schema.types import BatchStatus, QuarantineQueue
from connectors.config import load_sources
from demo import health_api
from demo import sources as demo_sources
from ingest import flows
from ingest.batch import BatchSummary
from ingest.settings import DEMO_SOURCES_FILE

SIZES = {"people": 400, "orgs": 120}


# Generated once at import: the faults parametrise the tests, and the same files are loaded.
_GENERATED = tempfile.TemporaryDirectory(prefix="govdx-demo-sources-")
demo_sources.generate(Path(_GENERATED.name), people=SIZES["people"], orgs=SIZES["orgs"], seed=7)
_MANIFEST: dict[str, Any] = json.loads((Path(_GENERATED.name) / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def demo_dir() -> Path:
    return Path(_GENERATED.name)


@pytest.fixture(scope="module")
def loaded(
    engine: Engine, demo_dir: Path, monkeypatch_module: pytest.MonkeyPatch
) -> Iterator[tuple[sessionmaker[Session], dict[str, BatchSummary]]]:
    """All demo sources loaded in declaration order, in a transaction rolled back afterwards."""
    server, base_url = health_api.serve(demo_dir / "weijian" / "vital_records.json")
    for name, value in demo_sources.demo_connection_env(demo_dir, base_url).items():
        monkeypatch_module.setenv(name, value)
    with engine.connect() as conn:
        outer = conn.begin()
        factory = sessionmaker(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
        summaries = {
            spec.name: flows.ingest(spec, session_factory=factory, sources_dir=demo_dir, run_id="test")
            for spec in load_sources(DEMO_SOURCES_FILE).sources
        }
        try:
            yield factory, summaries
        finally:
            server.shutdown()
            outer.rollback()


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def _faults(kind: str) -> list[dict[str, Any]]:
    return [f for f in _MANIFEST["faults"] if f["expected"].startswith(kind)]


def test_every_demo_source_loads_and_reconciles(loaded: tuple[sessionmaker[Session], dict[str, Any]]) -> None:
    factory, summaries = loaded
    with factory() as db:
        batches = db.scalars(
            select(IngestBatch).where(IngestBatch.id.in_([s.batch_id for s in summaries.values()]))
        )
        states = {b.source: (b.status, b.reconciles, b.rows_read > 0) for b in batches}
    assert states == {name: (BatchStatus.succeeded, True, True) for name in summaries}


@pytest.mark.parametrize(
    "fault",
    _faults("quarantined:") + _faults("review:"),
    ids=lambda f: f"{f['source']}-{f['fault']}-{f['row']}",
)
def test_fault_is_quarantined_with_its_rule(
    loaded: tuple[sessionmaker[Session], dict[str, BatchSummary]], fault: dict[str, Any]
) -> None:
    factory, summaries = loaded
    queue_name, rule = fault["expected"].split(":")
    with factory() as db:
        row = db.scalar(
            select(QuarantinedRow).where(
                QuarantinedRow.batch_id == summaries[fault["source"]].batch_id,
                QuarantinedRow.source_row == fault["row"],
            )
        )
    assert row is not None, fault
    assert rule in {r["rule"] for r in json.loads(row.reasons)}
    assert row.queue is (QuarantineQueue.review if queue_name == "review" else QuarantineQueue.rejected)


@pytest.mark.parametrize(
    "fault", _faults("discrepancy:"), ids=lambda f: f"{f['source']}-{f['fault']}-{f['row']}"
)
def test_fault_opens_a_discrepancy_ticket(
    loaded: tuple[sessionmaker[Session], dict[str, BatchSummary]], fault: dict[str, Any]
) -> None:
    factory, _ = loaded
    element = fault["expected"].split(":", 1)[1]
    library = load_sources(DEMO_SOURCES_FILE).get(fault["source"]).library
    parts = library_service.key_parts(library=library, subject_key=fault["key"])
    stored = subjects.stored_key(keys_service.get_keyring(), library, parts)
    with factory() as db:
        found = db.scalar(
            select(func.count())
            .select_from(Discrepancy)
            .join(DataElement, DataElement.id == Discrepancy.element_id)
            .where(DataElement.code == element, Discrepancy.subject_key == stored)
        )
    assert found == 1, fault


def test_quarantined_rows_are_not_in_the_library(
    loaded: tuple[sessionmaker[Session], dict[str, BatchSummary]],
) -> None:
    factory, _ = loaded
    with factory() as db:
        overlap = db.scalar(
            select(func.count())
            .select_from(LibraryRecord)
            .join(
                QuarantinedRow,
                (QuarantinedRow.batch_id == LibraryRecord.batch_id)
                & (QuarantinedRow.source_row == LibraryRecord.source_row),
            )
        )
    assert overlap == 0


def test_reloading_unchanged_sources_changes_nothing(
    loaded: tuple[sessionmaker[Session], dict[str, BatchSummary]], demo_dir: Path
) -> None:
    factory, _ = loaded
    with factory() as db:
        before = db.scalar(select(func.count()).select_from(LibraryRecord))
        open_tickets = db.scalar(select(func.count()).select_from(Discrepancy))
    again = [
        flows.ingest(spec, session_factory=factory, sources_dir=demo_dir, run_id="again", force=True)
        for spec in load_sources(DEMO_SOURCES_FILE).sources
    ]
    with factory() as db:
        after = db.scalar(select(func.count()).select_from(LibraryRecord))
        tickets_after = db.scalar(select(func.count()).select_from(Discrepancy))
    assert (after, tickets_after) == (before, open_tickets)
    assert all(s.inserted == 0 and s.updated == 0 for s in again)


@pytest.mark.parametrize("source", ["minzheng_dibao", "fayuan_shixin_mingdan"])
def test_a_demo_dataset_source_loads_every_row_but_its_faults(
    loaded: tuple[sessionmaker[Session], dict[str, BatchSummary]], source: str
) -> None:
    factory, summaries = loaded
    written = _MANIFEST["sources"][source]["rows"]
    faults = [f for f in _MANIFEST["faults"] if f["source"] == source]
    summary = summaries[source]
    with factory() as db:
        rows = db.scalar(
            select(func.count()).select_from(DatasetRecord).where(DatasetRecord.batch_id == summary.batch_id)
        )
    assert (summary.rows_read, summary.quarantined, summary.inserted) == (
        written,
        len(faults),
        written - len(faults),
    )
    assert rows == written - len(faults)
