"""The access log for auditors: search, the outside-approval view, verification and export."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from api.deps import CurrentKeyring, DbSession, Paging, SessionFactory, requires
from authz.audit import export as audit_export
from authz.audit import search as audit_search
from authz.audit import verify as audit_verify
from authz.audit.schemas import AuditFilter, AuditRecordRead, SinceTime, UntilTime, VerifyReport
from authz.permissions import AuditRead
from authz.types import AccessOutcome, AccessReason
from catalog_schema.library.subjects import MAX_KEY_LENGTH
from catalog_schema.pagination import Page, page_of

router = APIRouter(tags=["audit 审计"])


def _range(
    since: Annotated[
        SinceTime | None,
        Query(alias="from", description="开始时间（含），YYYY-MM-DD 或 ISO 8601 / from, inclusive"),
    ] = None,
    until: Annotated[
        UntilTime | None,
        Query(
            alias="to", description="结束时间（不含；只写日期则含当日） / to, exclusive (a date counts whole)"
        ),
    ] = None,
) -> AuditFilter:
    # Searches check the range in the service (so the portal can show the error beside its
    # field); the export checks it in its route.
    return AuditFilter(since=since, until=until)


def _filters(
    bounds: Annotated[AuditFilter, Depends(_range)],
    department: Annotated[
        str | None,
        Query(
            min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_]+$", description="部门简码、信用代码或编号"
        ),
    ] = None,
    system: Annotated[
        str | None, Query(min_length=1, max_length=64, description="业务系统 client_id / machine client")
    ] = None,
    resource: Annotated[
        str | None, Query(min_length=1, max_length=40, description="信息资源代码 / resource code")
    ] = None,
    outcome: Annotated[AccessOutcome | None, Query(description="结果 / outcome")] = None,
    reason: Annotated[AccessReason | None, Query(description="拒绝原因代码 / reason code")] = None,
    subject: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=MAX_KEY_LENGTH,
            description="主体：公民身份号码、统一社会信用代码或证照“类型:编号”；平台计算其指纹后查询",
        ),
    ] = None,
) -> AuditFilter:
    return AuditFilter(
        since=bounds.since,
        until=bounds.until,
        department=department,
        system=system,
        resource=resource,
        outcome=outcome,
        reason=reason,
        subject=subject,
    )


Filters = Annotated[AuditFilter, Depends(_filters)]
Range = Annotated[AuditFilter, Depends(_range)]


@router.get(
    "/audit/records",
    response_model=Page[AuditRecordRead],
    dependencies=[requires(AuditRead)],
    summary="查询访问记录（按时间、部门、系统、资源、主体、结果） / search access records, newest first",
)
def search_records(
    db: DbSession, keyring: CurrentKeyring, filters: Filters, paging: Paging
) -> Page[AuditRecordRead]:
    records, total = audit_search.search(db=db, keyring=keyring, filters=filters, params=paging)
    return page_of(records, total, paging)


@router.get(
    "/audit/outside-approval",
    response_model=Page[AuditRecordRead],
    dependencies=[requires(AuditRead)],
    summary="超出授权的调用（授权过期、超范围、超限额、用途不符等） / calls refused as outside approval",
)
def outside_approval(
    db: DbSession, keyring: CurrentKeyring, filters: Filters, paging: Paging
) -> Page[AuditRecordRead]:
    records, total = audit_search.search(
        db=db, keyring=keyring, filters=filters, params=paging, outside_approval=True
    )
    return page_of(records, total, paging)


@router.get(
    "/audit/verify",
    response_model=VerifyReport,
    dependencies=[requires(AuditRead)],
    summary="核验访问日志：重算哈希链与检查点签名 / recompute the chain and the checkpoints' signatures",
)
def verify(db: DbSession, keyring: CurrentKeyring) -> VerifyReport:
    return audit_verify.verify(db=db, keyring_public_keys=keyring.public_keys())


@router.get(
    "/audit/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}, "description": "JSON Lines"}},
    dependencies=[requires(AuditRead)],
    summary="导出一段访问日志（含检查点与公钥，可离线核验） / export a range that verifies offline",
)
def export(session_factory: SessionFactory, keyring: CurrentKeyring, bounds: Range) -> StreamingResponse:
    audit_search.check_range(bounds.since, bounds.until)
    # The lines stream after the route returns, when the request's own session is already closed.
    lines = audit_export.export_lines(
        session_factory=session_factory, keyring=keyring, since=bounds.since, until=bounds.until
    )
    return StreamingResponse(
        lines,
        media_type="application/x-ndjson; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="govdx-audit-export.jsonl"'},
    )
