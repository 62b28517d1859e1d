"""A run's quality report covers every batch the run committed, not only those its tasks handed on."""

from catalog_schema.types import Library
from ingest import flows, scheduled
from tests import sources


def test_the_report_finds_every_batch_of_its_run_an_orphaned_attempts_included(db, session_factory, tmp_path):
    huji = sources.household_register(tmp_path / "huji.csv", [sources.person(1), sources.person(2)])
    load = {"session_factory": session_factory, "sources_dir": tmp_path}
    orphan = flows.ingest(huji, run_id="run-1", **load)  # the killed worker's attempt, committed later
    retry = flows.ingest(huji, run_id="run-1", force=True, **load)
    other_run = flows.ingest(huji, run_id="run-2", force=True, **load)

    found = scheduled.run_batches(db, run_id="run-1", library=Library.population)

    assert found == [orphan.batch_id, retry.batch_id]
    assert other_run.batch_id not in found
