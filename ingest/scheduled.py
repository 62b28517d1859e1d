"""The periodic jobs the DAGs call: load a source, report a library's or a dataset's quality, flag
missed update cycles.

Each takes plain arguments and returns a small JSON-able dict (an XCom), so a DAG task is one
call. Errors a retry cannot fix are raised as Airflow's ``AirflowFailException`` by the task
wrapper in ``dags/``; here they stay govdx errors.
"""

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import func, select

from catalog_schema.database import for_writing, get_sessionmaker, utcnow
from catalog_schema.dataset.models import DatasetRecord
from catalog_schema.element.models import DataElement
from catalog_schema.keys import service as keys_service
from catalog_schema.library import sealing
from catalog_schema.library.models import IngestBatch, LibraryRecord, ResourceFreshness
from catalog_schema.library.subjects import KEY_SEPARATOR
from catalog_schema.resource.models import Resource, ResourceItem
from catalog_schema.resource.schemas import DatasetDelivery, DeliveryAdapter
from catalog_schema.types import BatchStatus, DeliveryKind, Library, ResourceStatus, UpdateCycle
from connectors.config import SourceSpec, load_sources
from ingest import flows
from ingest.batch import RESUBMIT_PREFIX
from ingest.settings import PipelineSettings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from quality.suites import SuiteResult

# How long each 更新周期 may go without new data before it counts as missed.
CYCLE_PERIODS: dict[UpdateCycle, timedelta | None] = {
    UpdateCycle.realtime: timedelta(hours=1),
    UpdateCycle.daily: timedelta(days=1),
    UpdateCycle.weekly: timedelta(days=7),
    UpdateCycle.monthly: timedelta(days=31),
    UpdateCycle.quarterly: timedelta(days=92),
    UpdateCycle.semiannual: timedelta(days=183),
    UpdateCycle.yearly: timedelta(days=366),
    UpdateCycle.irregular: None,
}
# Rows of a batch given to Great Expectations: enough for suite statistics, bounded in memory.
QUALITY_SAMPLE_ROWS = 100_000


def sources_of(library: Library, settings: PipelineSettings | None = None) -> list[SourceSpec]:
    """Declared sources of ``library``, in declaration order."""
    settings = settings or PipelineSettings()
    return [s for s in load_sources(settings.sources_file).sources if s.library is library]


def dataset_sources(settings: PipelineSettings | None = None) -> list[SourceSpec]:
    """Declared sources of resource datasets (库表交换), in declaration order."""
    settings = settings or PipelineSettings()
    return [s for s in load_sources(settings.sources_file).sources if s.resource is not None]


def dataset_dag_id(source: str) -> str:
    """The id of the DAG that loads a dataset source."""
    return f"govdx_dataset_{source}"


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


def quality_report(library: Library, batch_ids: list[int]) -> dict[str, Any]:
    """Run the library's Great Expectations suite over what these batches loaded; Data Docs under var/."""
    from quality import suites  # GX is heavy to import; only this job needs it

    settings = PipelineSettings()
    session_factory = get_sessionmaker()
    keyring = keys_service.get_keyring()
    with session_factory() as db:
        found = db.execute(
            select(LibraryRecord.subject_key, LibraryRecord.subject_cipher, LibraryRecord.values)
            .where(LibraryRecord.batch_id.in_(batch_ids), LibraryRecord.library == library)
            .limit(QUALITY_SAMPLE_ROWS)
        ).all()
    if not found:
        return {"library": library.value, "evaluated": 0, "success": None, "docs": None}
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
        "evaluated": result.evaluated,
        "unsuccessful": result.unsuccessful,
        "success": result.success,
        "docs": docs,
    }


def dataset_quality_report(resource_code: str, batch_ids: list[int]) -> dict[str, Any]:
    """Run a dataset's Great Expectations suite over the rows these batches loaded; Data Docs under var/."""
    from quality import suites  # GX is heavy to import; only this job needs it

    settings = PipelineSettings()
    session_factory = get_sessionmaker()
    keyring = keys_service.get_keyring()
    with session_factory() as db:
        resource = db.scalars(select(Resource).where(Resource.code == resource_code)).one()
        binding = DeliveryAdapter.validate_python(resource.delivery)
        assert isinstance(binding, DatasetDelivery)
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
        return {"resource": resource_code, "evaluated": 0, "success": None, "docs": None}
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


def flag_missed_update_cycles(*, now: datetime | None = None) -> dict[str, Any]:
    """Record when each published resource last got data and whether its 更新周期 was missed."""
    now = now or utcnow()
    declared = load_sources(PipelineSettings().sources_file).sources
    session_factory = get_sessionmaker()
    missed = []
    with session_factory() as db:
        for_writing(db)
        resources = db.scalars(select(Resource).where(Resource.status == ResourceStatus.published)).all()
        for resource in resources:
            elements = set(
                db.scalars(
                    select(DataElement.code)
                    .join(ResourceItem, ResourceItem.element_id == DataElement.id)
                    .where(ResourceItem.resource_id == resource.id)
                )
            )
            if resource.delivery_kind is DeliveryKind.dataset:
                # A dataset is fresh from its own sources' loads only.
                feeding = [s.name for s in declared if s.resource == resource.code]
            else:
                feeding = [
                    s.name
                    for s in declared
                    if s.library is not None
                    and s.department == resource.provider.slug
                    and elements & set(s.elements)
                ]
            last = None
            if feeding:
                last = db.scalar(
                    select(func.max(IngestBatch.finished_at)).where(
                        IngestBatch.source.in_(feeding),
                        # New data arrived: a skipped unchanged file or a resubmission is not an update.
                        IngestBatch.status == BatchStatus.succeeded,
                        IngestBatch.rows_read > 0,
                        IngestBatch.run_id.not_like(f"{RESUBMIT_PREFIX}%"),
                    )
                )
            period = CYCLE_PERIODS[resource.update_cycle]
            due = last + period if last is not None and period is not None else None
            is_missed = (
                bool(feeding) and period is not None and (last is None or (due is not None and due < now))
            )
            row = db.get(ResourceFreshness, resource.id) or ResourceFreshness(resource_id=resource.id)
            row.last_loaded_at, row.due_at, row.missed = last, due, is_missed
            row.sources, row.checked_at = ",".join(feeding)[:500], now
            db.add(row)
            if is_missed:
                missed.append(resource.code)
        db.commit()
    return {"checked": len(resources), "missed": missed}
