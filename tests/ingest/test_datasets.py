"""Loading a resource's dataset (库表交换): the library engine's checks, quarantine and SCD2, per row."""

import json

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from catalog_schema.dataset import subjects as dataset_subjects
from catalog_schema.dataset.models import DatasetRecord
from catalog_schema.keys.service import SEALED
from catalog_schema.library.models import Discrepancy, IngestBatch, QuarantinedRow
from catalog_schema.resource import service as resource_service
from connectors.config import SourceSpec
from ingest import flows
from ingest.registry import SourceConfigError
from tests import sources
from tests.sources import SUBSISTENCE


def ingest(spec, session_factory, tmp_path, **kwargs):
    return flows.ingest(spec, session_factory=session_factory, sources_dir=tmp_path, run_id="test", **kwargs)


def rows_of(db, keyring, id_number, *, current=True):
    stored = dataset_subjects.stored_key(keyring, SUBSISTENCE, [id_number])
    query = select(DatasetRecord).where(DatasetRecord.subject_key == stored).order_by(DatasetRecord.id)
    if current:
        query = query.where(DatasetRecord.valid_to.is_(None))
    return db.scalars(query).all()


def values(keyring, record):
    return keyring.unseal(json.loads(record.values), aad=record.subject_key)


def test_a_dataset_load_reconciles_and_keeps_every_record_of_a_subject(
    session_factory, db, tmp_path, keyring
):
    reassessed = sources.subsistence_row(2, rdrq="2026-06-01", jzlb="03", ybzje="1800.00")
    spec = sources.subsistence(
        tmp_path / "dibao.csv", [sources.subsistence_row(1), sources.subsistence_row(2), reassessed]
    )

    summary = ingest(spec, session_factory, tmp_path)

    batch = db.get(IngestBatch, summary.batch_id)
    resource = resource_service.get_by_code(db=db, code=SUBSISTENCE)
    assert (summary.inserted, summary.quarantined, batch.reconciles) == (3, 0, True)
    assert (batch.library, batch.resource_id) == (None, resource.id)
    assert sorted(values(keyring, r)["救助类别"] for r in rows_of(db, keyring, sources.id_number(2))) == [
        "01",
        "03",
    ]


def test_a_dataset_row_seals_sensitive_items_and_keeps_the_query_key_out_of_its_values(
    session_factory, db, tmp_path, keyring
):
    ingest(
        sources.subsistence(tmp_path / "dibao.csv", [sources.subsistence_row(1)]), session_factory, tmp_path
    )

    (record,) = rows_of(db, keyring, sources.id_number(1))
    stored = json.loads(record.values)
    assert "公民身份号码" not in stored and "姓名" not in stored and SEALED in stored
    assert stored["救助类别"] == "01"
    assert values(keyring, record)["姓名"] == "测试1"


def test_bad_dataset_rows_are_quarantined_with_their_reasons(session_factory, db, tmp_path):
    good = sources.id_number(3)
    rows = [
        sources.subsistence_row(1),
        sources.subsistence_row(3, sfzh=good[:-1] + ("1" if good.endswith("0") else "0")),
        sources.subsistence_row(4, sfzh=""),
        sources.subsistence_row(5, ybzje="一千"),
        sources.subsistence_row(6, rdrq=""),
    ]

    summary = ingest(sources.subsistence(tmp_path / "dibao.csv", rows), session_factory, tmp_path)

    reasons = {
        r.source_row: {x["rule"] for x in json.loads(r.reasons)}
        for r in db.scalars(select(QuarantinedRow).where(QuarantinedRow.batch_id == summary.batch_id))
    }
    assert (summary.inserted, summary.quarantined) == (1, 4)
    assert reasons == {
        2: {"id_checksum"},
        3: {"required_missing"},
        4: {"number_invalid"},
        5: {"required_missing"},
    }


def test_a_repeated_record_key_of_a_subject_is_quarantined_as_a_duplicate(session_factory, db, tmp_path):
    rows = [sources.subsistence_row(1), sources.subsistence_row(1, ybzje="999.00")]

    summary = ingest(sources.subsistence(tmp_path / "dibao.csv", rows), session_factory, tmp_path)

    (row,) = db.scalars(select(QuarantinedRow).where(QuarantinedRow.batch_id == summary.batch_id))
    assert (summary.inserted, row.source_row) == (1, 2)
    assert {x["rule"] for x in json.loads(row.reasons)} == {"duplicate_key"}


def test_an_unchanged_dataset_row_is_skipped_and_a_changed_one_is_versioned(
    session_factory, db, tmp_path, keyring
):
    path = tmp_path / "dibao.csv"
    ingest(
        sources.subsistence(path, [sources.subsistence_row(1), sources.subsistence_row(2)]),
        session_factory,
        tmp_path,
    )

    again = ingest(
        sources.subsistence(path, [sources.subsistence_row(1), sources.subsistence_row(2, ybzje="1600.00")]),
        session_factory,
        tmp_path,
    )

    history = rows_of(db, keyring, sources.id_number(2), current=False)
    assert (again.unchanged, again.updated, again.inserted) == (1, 1, 0)
    assert [values(keyring, r)["月保障金额"] for r in history] == ["1520.00", "1600.00"]
    assert history[0].valid_to == history[1].valid_from and history[1].valid_to is None


def test_a_row_absent_from_a_full_reload_stays_current(session_factory, db, tmp_path, keyring):
    path = tmp_path / "dibao.csv"
    ingest(
        sources.subsistence(path, [sources.subsistence_row(1), sources.subsistence_row(2)]),
        session_factory,
        tmp_path,
    )

    ingest(sources.subsistence(path, [sources.subsistence_row(1)]), session_factory, tmp_path)

    assert len(rows_of(db, keyring, sources.id_number(2))) == 1


def test_a_dataset_load_opens_no_discrepancy_ticket(session_factory, db, tmp_path):
    before = db.scalar(select(func.count()).select_from(Discrepancy))

    ingest(
        sources.subsistence(tmp_path / "dibao.csv", [sources.subsistence_row(1)]), session_factory, tmp_path
    )

    assert db.scalar(select(func.count()).select_from(Discrepancy)) == before


def test_a_dataset_source_of_another_department_than_the_provider_is_refused(session_factory, db, tmp_path):
    spec = sources.subsistence(tmp_path / "dibao.csv", [sources.subsistence_row(1)], department="renshe")

    with pytest.raises(SourceConfigError) as refused:
        ingest(spec, session_factory, tmp_path)

    assert "不是资源 203001/000001" in refused.value.message and "provider" in refused.value.message_en
    assert db.scalar(select(func.count()).select_from(DatasetRecord)) == 0


def test_a_dataset_source_mapping_a_column_to_an_unknown_item_is_refused(session_factory, tmp_path):
    spec = sources.subsistence(
        tmp_path / "dibao.csv",
        [sources.subsistence_row(1)],
        columns={**sources.SUBSISTENCE_COLUMNS, "bz": "备注"},
    )

    with pytest.raises(SourceConfigError) as refused:
        ingest(spec, session_factory, tmp_path)

    assert "备注" in refused.value.message


def test_a_source_naming_both_a_library_and_a_resource_is_invalid():
    with pytest.raises(ValidationError) as invalid:
        SourceSpec.model_validate(
            {
                "name": "both",
                "title": "两者",
                "department": "minzheng",
                "library": "population",
                "resource": SUBSISTENCE,
                "connector": {"kind": "file", "path": "x.csv"},
                "columns": {"sfzh": "population.id_number"},
                "key": ["population.id_number"],
            }
        )

    assert "exactly one of library" in str(invalid.value)


def test_a_library_resource_is_not_a_dataset_source_target(session_factory, tmp_path):
    spec = sources.subsistence(tmp_path / "dibao.csv", [sources.subsistence_row(1)]).model_copy(
        update={"resource": "101004/000001"}
    )

    with pytest.raises(SourceConfigError) as refused:
        ingest(spec, session_factory, tmp_path)

    assert "不是库表交换" in refused.value.message
