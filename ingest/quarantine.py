"""Quarantined rows loaded again with their corrections, one batch per source."""

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog_schema.errors import Conflict, InvalidInput, NotFound
from catalog_schema.library.models import QuarantinedRow
from catalog_schema.library.schemas import Resubmit
from catalog_schema.types import QuarantineStatus
from connectors.config import load_sources
from ingest import flows
from ingest.batch import RESUBMIT_PREFIX, BatchSummary


def _open_rows(db: Session, ids: list[int]) -> list[QuarantinedRow]:
    rows = list(
        db.scalars(select(QuarantinedRow).where(QuarantinedRow.id.in_(ids)).order_by(QuarantinedRow.id))
    )
    missing = sorted(set(ids) - {r.id for r in rows})
    if missing:
        raise NotFound(
            f"隔离记录不存在：{', '.join(map(str, missing))}",
            f"quarantined rows do not exist: {', '.join(map(str, missing))}",
            code="quarantined_row_not_found",
        )
    closed = [r.id for r in rows if r.status is not QuarantineStatus.open]
    if closed:
        raise Conflict(
            f"隔离记录已处理，不能再次提交：{', '.join(map(str, closed))}",
            f"quarantined rows were already handled: {', '.join(map(str, closed))}",
            code="quarantined_row_closed",
        )
    return rows


def resubmit(
    *, session_factory: Callable[[], Session], data: Resubmit, sources_file: Path, actor: str
) -> list[BatchSummary]:
    """Load quarantined rows again with their corrections: one batch per source, each all-or-nothing."""
    with session_factory() as db:
        rows = _open_rows(db, data.ids)
        db.expunge_all()
    unknown = sorted(set(data.corrections) - set(data.ids))
    if unknown:
        raise InvalidInput(
            f"更正针对的记录不在提交列表中：{', '.join(map(str, unknown))}",
            f"corrections name rows that are not resubmitted: {', '.join(map(str, unknown))}",
            code="unknown_row",
        )
    declared = load_sources(sources_file)
    summaries = []
    for source in sorted({r.source for r in rows}):
        try:
            spec = declared.get(source)
        except KeyError:
            raise Conflict(
                f"数据源 {source} 已不在 {sources_file} 中声明，无法重新提交",
                f"source {source} is no longer declared in {sources_file}",
                code="source_not_declared",
            ) from None
        mine = [r for r in rows if r.source == source]
        summaries.append(
            flows.resubmit_rows(
                spec,
                mine,
                {r.id: data.corrections[r.id] for r in mine if r.id in data.corrections},
                session_factory=session_factory,
                run_id=f"{RESUBMIT_PREFIX}{actor}",
                accept_review=data.accept_review,
            )
        )
    return summaries
