"""The periodic jobs the DAGs call: load a source, report a library's or a dataset's quality.

The 更新周期 watch is ``ingest.freshness``.

Each takes plain arguments and returns a small JSON-able dict (an XCom), so a DAG task is one
call. Errors a retry cannot fix are raised as Airflow's ``AirflowFailException`` by the task
wrapper in ``dags/``; here they stay govdx errors.
"""

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import select

from catalog_schema.database import for_writing, get_sessionmaker
from catalog_schema.dataset.models import DatasetRecord
from catalog_schema.keys import service as keys_service
from catalog_schema.library import sealing
from catalog_schema.library.models import IngestBatch, LibraryRecord
from catalog_schema.library.subjects import KEY_SEPARATOR
from catalog_schema.resource.models import Resource
from catalog_schema.resource.schemas import DatasetDelivery, DeliveryAdapter
from catalog_schema.types import BatchStatus, Library
from connectors.config import load_sources
from ingest import flows
from ingest.settings import PipelineSettings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from quality.suites import SuiteResult

# Rows of a batch given to Great Expectations: enough for suite statistics, bounded in memory.
QUALITY_SAMPLE_ROWS = 100_000


def load_source(name: str, *, run_id: str, force: bool = False) -> dict[str, Any]:
    """Ingest one declared source; the batch summary."""
    settings = PipelineSettings()
    spec = load_sources(settings.sources_file).get(name)
    summary = flows.ingest(
        spec,
        session_factory=get_sessionmaker(),
        sources_dir=settings.sources_dir,
        run_id=run_id,
        force=force,
    )
    return summary.as_dict()


def run_batches(
    db: "Session", *, run_id: str, library: Library | None = None, resource_id: int | None = None
) -> list[int]:
    """Every batch the run committed for the library or dataset, whichever attempt committed it.

    Not the batch ids the load tasks handed on: an attempt whose worker was killed may live on as an
    orphan and commit its batch after the retry started, and its rows need a verdict too.
    """
    target = IngestBatch.library == library if library is not None else IngestBatch.resource_id == resource_id
    stmt = select(IngestBatch.id).where(
        IngestBatch.run_id == run_id, IngestBatch.status == BatchStatus.succeeded, target
    )
    return list(db.scalars(stmt.order_by(IngestBatch.id)))


def quality_report(library: Library, *, run_id: str) -> dict[str, Any]:
    """Run the library's Great Expectations suite over what the run's batches loaded (Data Docs too)."""
    from quality import suites  # GX is heavy to import; only this job needs it

    settings = PipelineSettings()
    session_factory = get_sessionmaker()
    keyring = keys_service.get_keyring()
    with session_factory() as db:
        batch_ids = run_batches(db, run_id=run_id, library=library)
        found = db.execute(
            select(LibraryRecord.subject_key, LibraryRecord.subject_cipher, LibraryRecord.values)
            .where(LibraryRecord.batch_id.in_(batch_ids), LibraryRecord.library == library)
            .limit(QUALITY_SAMPLE_ROWS)
        ).all()
    if not found:
        return {"library": library.value, "batches": batch_ids, "evaluated": 0, "success": None, "docs": None}
    # One row per subject, its departments' values side by side, as the library serves them: the
    # suite checks plaintext (ID number checksums…), opened in memory only.
    subjects: dict[str, dict[str, Any]] = {}
    for subject_key, subject_cipher, values in found:
        subject = sealing.open_subject(keyring, subject_key, subject_cipher) or subject_key
        subjects.setdefault(subject, {}).update(keyring.unseal(json.loads(values), aad=subject_key))
    frame = pd.DataFrame.from_dict(subjects, orient="index").astype("string")
    key = _key_element(library)
    if key is not None:
        frame[key] = frame.index
    result = suites.run_suite(
        library.value,
        frame,
        run_name=f"{library.value}-batches-{'-'.join(map(str, batch_ids))}",
        project_dir=settings.quality_dir / "gx",
    )
    docs = _record_report(session_factory, batch_ids, result, settings)
    return {
        "library": library.value,
        "batches": batch_ids,
        "evaluated": result.evaluated,
        "unsuccessful": result.unsuccessful,
        "success": result.success,
        "docs": docs,
    }


def dataset_quality_report(resource_code: str, *, run_id: str) -> dict[str, Any]:
    """Run a dataset's Great Expectations suite over the rows the run's batches loaded (Data Docs too)."""
    from quality import suites  # GX is heavy to import; only this job needs it

    settings = PipelineSettings()
    session_factory = get_sessionmaker()
    keyring = keys_service.get_keyring()
    with session_factory() as db:
        resource = db.scalars(select(Resource).where(Resource.code == resource_code)).one()
        binding = DeliveryAdapter.validate_python(resource.delivery)
        assert isinstance(binding, DatasetDelivery)
        batch_ids = run_batches(db, run_id=run_id, resource_id=resource.id)
        # An item carrying an element is named by the element's code (the first item carrying it).
        names: dict[str, str] = {}
        for item in resource.items:
            if item.element is not None and item.element.code not in names.values():
                names[item.name] = item.element.code
        found = db.execute(
            select(DatasetRecord.subject_key, DatasetRecord.subject_cipher, DatasetRecord.values)
            .where(DatasetRecord.batch_id.in_(batch_ids), DatasetRecord.resource_id == resource.id)
            .limit(QUALITY_SAMPLE_ROWS)
        ).all()
    if not found:
        return {
            "resource": resource_code,
            "batches": batch_ids,
            "evaluated": 0,
            "success": None,
            "docs": None,
        }
    rows = []
    for subject_key, subject_cipher, values in found:
        subject = sealing.open_subject(keyring, subject_key, subject_cipher) or subject_key
        row = keyring.unseal(json.loads(values), aad=subject_key)
        row.update(
            zip(binding.query_key, subject.split(KEY_SEPARATOR, len(binding.query_key) - 1), strict=False)
        )
        rows.append(row)
    frame = pd.DataFrame(rows).astype("string").rename(columns=names)
    key = [names.get(k, k) for k in [*binding.query_key, *binding.record_key]]
    name = f"dataset_{resource_code.replace('/', '_')}"
    result = suites.run_dataset_suite(
        name,
        frame,
        key=key,
        run_name=f"{name}-batches-{'-'.join(map(str, batch_ids))}",
        project_dir=settings.quality_dir / "gx",
    )
    docs = _record_report(session_factory, batch_ids, result, settings)
    return {
        "resource": resource_code,
        "batches": batch_ids,
        "evaluated": result.evaluated,
        "unsuccessful": result.unsuccessful,
        "success": result.success,
        "docs": docs,
    }


def _record_report(
    session_factory: Callable[[], "Session"],
    batch_ids: list[int],
    result: "SuiteResult",
    settings: PipelineSettings,
) -> str | None:
    """Note the suite's outcome and Data Docs page on the batches; the page's path under var/quality."""
    docs = None
    if result.docs_index is not None:
        docs = result.docs_index.resolve().relative_to(settings.quality_dir.resolve()).as_posix()
    with session_factory() as db:
        for_writing(db)
        for batch in db.scalars(select(IngestBatch).where(IngestBatch.id.in_(batch_ids))):
            batch.quality_success = result.success
            batch.quality_report = docs
        db.commit()
    return docs


def _key_element(library: Library) -> str | None:
    return {Library.population: "population.id_number", Library.legal_person: "legal_person.credit_code"}.get(
        library
    )
