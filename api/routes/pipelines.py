"""Pipelines for the catalog administrator: batches, quarantine, discrepancy tickets, library records."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse

from api.deps import CurrentKeyring, CurrentUser, DbSession, Paging, RowId, SessionFactory, requires
from authz import permissions
from authz.clock import flows as clock_flows
from authz.permissions import (
    LibraryRead,
    PipelineRead,
    QuarantineManage,
    department_scope,
)
from catalog_schema.errors import NotFound
from catalog_schema.library import service as library_service
from catalog_schema.library.models import Discrepancy, IngestBatch, QuarantinedRow
from catalog_schema.library.schemas import (
    BatchRead,
    Discard,
    DiscrepancyRead,
    QuarantinedRowRead,
    Resubmit,
    SubjectRecord,
)
from catalog_schema.library.schemas import (
    DiscrepancyResolve as DiscrepancyResolution,
)
from catalog_schema.pagination import Page, page_of
from catalog_schema.types import (
    MAX_ROW_ID,
    BatchStatus,
    DiscrepancyStatus,
    Library,
    QuarantineQueue,
    QuarantineStatus,
)
from ingest import quarantine
from ingest.settings import PipelineSettings

router = APIRouter(tags=["pipelines 数据归集"])

SourceQuery = Annotated[
    str | None, Query(max_length=64, pattern=r"^[a-z][a-z0-9_]*$", description="数据源 / source")
]
SubjectKeyQuery = Annotated[
    str,
    Query(
        min_length=1,
        max_length=200,
        description="主体键（明文）：身份证号、统一社会信用代码、证照类型代码:证照编号… / the key as typed",
    ),
]


def _batch(db: DbSession, batch_id: RowId) -> IngestBatch:
    return library_service.get_batch(db=db, batch_id=batch_id)


def _quarantined(db: DbSession, row_id: RowId) -> QuarantinedRow:
    return library_service.get_quarantined(db=db, row_id=row_id)


def _ticket(db: DbSession, user: CurrentUser, ticket_id: RowId) -> Discrepancy:
    return library_service.get_discrepancy(db=db, ticket_id=ticket_id, department_id=department_scope(user))


@router.get(
    "/batches",
    response_model=Page[BatchRead],
    dependencies=[requires(PipelineRead)],
    summary="归集批次 / ingest batches, newest first",
)
def list_batches(
    db: DbSession,
    paging: Paging,
    source: SourceQuery = None,
    library: Library | None = None,
    status: BatchStatus | None = None,
) -> Page[BatchRead]:
    batches, total = library_service.list_batches(
        db=db, params=paging, source=source, library=library, status=status
    )
    return page_of([BatchRead.of(b) for b in batches], total, paging)


@router.get(
    "/batches/{batch_id}",
    response_model=BatchRead,
    dependencies=[requires(PipelineRead)],
    summary="批次详情与质量报告链接 / one batch with its counts and quality report link",
)
def get_batch(batch: Annotated[IngestBatch, Depends(_batch)]) -> BatchRead:
    return BatchRead.of(batch)


@router.get(
    "/quality-docs/{path:path}",
    dependencies=[requires(PipelineRead)],
    summary="质量报告（Great Expectations Data Docs） / quality reports",
    response_class=FileResponse,
)
def quality_docs(path: str) -> FileResponse:
    # Data Docs can quote sample failing values, so they sit behind the same permission as batches.
    root = PipelineSettings().quality_dir.resolve()
    # A NUL byte is no file name anywhere; resolve() would raise on it.
    target = (root / path).resolve() if "\x00" not in path else root
    if not target.is_relative_to(root) or not target.is_file():
        raise NotFound(
            f"质量报告 {path} 不存在", f"quality report {path} does not exist", code="report_not_found"
        )
    return FileResponse(target)


@router.get(
    "/quarantine",
    response_model=Page[QuarantinedRowRead],
    dependencies=[requires(PipelineRead)],
    summary="隔离区 / quarantined rows (open ones by default)",
)
def list_quarantine(
    db: DbSession,
    keyring: CurrentKeyring,
    paging: Paging,
    source: SourceQuery = None,
    queue: QuarantineQueue | None = None,
    status: QuarantineStatus | None = QuarantineStatus.open,
    rule: Annotated[str | None, Query(max_length=64, pattern=r"^[a-z_]+$")] = None,
    batch_id: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None,
) -> Page[QuarantinedRowRead]:
    rows, total = library_service.list_quarantine(
        db=db, params=paging, source=source, queue=queue, status=status, rule=rule, batch_id=batch_id
    )
    return page_of([QuarantinedRowRead.of(r, keyring=keyring) for r in rows], total, paging)


@router.get(
    "/quarantine/{row_id}",
    response_model=QuarantinedRowRead,
    dependencies=[requires(PipelineRead)],
    summary="一条隔离记录 / one quarantined row",
)
def get_quarantined(
    keyring: CurrentKeyring, row: Annotated[QuarantinedRow, Depends(_quarantined)]
) -> QuarantinedRowRead:
    return QuarantinedRowRead.of(row, keyring=keyring)


@router.post(
    "/quarantine/resubmit",
    dependencies=[requires(QuarantineManage)],
    summary="更正并重新提交 / correct and resubmit quarantined rows (one batch per source)",
)
def resubmit(
    session_factory: SessionFactory, user: CurrentUser, data: Resubmit
) -> dict[str, list[dict[str, object]]]:
    # The batches run their own transactions (like a pipeline run), so this route holds none.
    summaries = quarantine.resubmit(
        session_factory=session_factory,
        data=data,
        sources_file=PipelineSettings().sources_file,
        actor=user.username,
    )
    return {"batches": [s.as_dict() for s in summaries]}


@router.post(
    "/quarantine/{row_id}/discard",
    response_model=QuarantinedRowRead,
    dependencies=[requires(QuarantineManage)],
    summary="废弃隔离记录 / discard a quarantined row, with a reason",
)
def discard(
    db: DbSession,
    user: CurrentUser,
    keyring: CurrentKeyring,
    row: Annotated[QuarantinedRow, Depends(_quarantined)],
    data: Discard,
) -> QuarantinedRowRead:
    return QuarantinedRowRead.of(
        library_service.discard(db=db, row=row, note=data.note, user=user), keyring=keyring
    )


@router.get(
    "/discrepancies",
    response_model=Page[DiscrepancyRead],
    dependencies=[requires(permissions.DiscrepancyRead)],
    summary="校核差异工单 / discrepancy tickets (department staff see their department's)",
)
def list_discrepancies(
    db: DbSession,
    user: CurrentUser,
    keyring: CurrentKeyring,
    paging: Paging,
    status: DiscrepancyStatus | None = None,
    library: Library | None = None,
    element: Annotated[str | None, Query(max_length=64)] = None,
    subject_key: Annotated[
        str | None, Query(max_length=200, description="主体键（明文，如身份证号） / subject key as typed")
    ] = None,
) -> Page[DiscrepancyRead]:
    tickets, total = library_service.list_discrepancies(
        db=db,
        keyring=keyring,
        params=paging,
        department_id=department_scope(user),
        status=status,
        library=library,
        element=element,
        subject_key=subject_key,
    )
    return page_of([DiscrepancyRead.of(t, keyring=keyring) for t in tickets], total, paging)


@router.get(
    "/discrepancies/{ticket_id}",
    response_model=DiscrepancyRead,
    dependencies=[requires(permissions.DiscrepancyRead)],
    summary="一张差异工单 / one discrepancy ticket",
)
def get_discrepancy(
    keyring: CurrentKeyring, ticket: Annotated[Discrepancy, Depends(_ticket)]
) -> DiscrepancyRead:
    return DiscrepancyRead.of(ticket, keyring=keyring)


@router.post(
    "/discrepancies/{ticket_id}/resolve",
    response_model=DiscrepancyRead,
    dependencies=[requires(permissions.DiscrepancyResolve)],
    summary="处理差异工单 / confirm, correct or dismiss a ticket, with a reason",
)
def resolve_discrepancy(
    db: DbSession,
    user: CurrentUser,
    keyring: CurrentKeyring,
    ticket: Annotated[Discrepancy, Depends(_ticket)],
    data: DiscrepancyResolution,
) -> DiscrepancyRead:
    return DiscrepancyRead.of(
        clock_flows.resolve(db=db, ticket=ticket, data=data, user=user), keyring=keyring
    )


@router.get(
    "/libraries/{library}/subjects",
    response_model=SubjectRecord,
    dependencies=[requires(LibraryRead)],
    summary="主体在某日的记录 / a subject's values, now or on a date",
)
def subject(
    db: DbSession,
    keyring: CurrentKeyring,
    library: Library,
    key: SubjectKeyQuery,
    on: Annotated[date | None, Query(description="日期 YYYY-MM-DD（默认当前） / date, default now")] = None,
) -> SubjectRecord:
    return library_service.subject_on(db=db, keyring=keyring, library=library, subject_key=key, on=on)
