"""``govdx audit …``: verify the access log, sign checkpoints, export a range, search it.

``verify`` exits 0 when the log is intact and 1 naming the first broken record otherwise (2 on
bad input, as every command does), so a script or a cron job can act on it.
"""

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Column, Table
from sqlalchemy.exc import SQLAlchemyError

from authz.audit import checkpoint as audit_checkpoint
from authz.audit import export as audit_export
from authz.audit import scheduled
from authz.audit import search as audit_search
from authz.audit import verify as audit_verify
from authz.audit.schemas import AuditFilter, VerifyReport, parse_time
from authz.calendar.service import TZ
from authz.types import AccessOutcome, AccessReason
from catalog_schema.cli import err, fail, out
from catalog_schema.database import get_engine, get_sessionmaker, session_scope
from catalog_schema.errors import GovdxError, InvalidInput
from catalog_schema.keys.service import get_keyring
from catalog_schema.pagination import MAX_PAGE_SIZE, PageParams

audit_app = typer.Typer(help="访问日志审计 / access log audit", no_args_is_help=True)

SinceOption = Annotated[
    str | None,
    typer.Option("--from", help="开始时间（含），YYYY-MM-DD 或 ISO 8601 / from (inclusive)"),
]
UntilOption = Annotated[
    str | None,
    typer.Option("--to", help="结束时间（不含；只写日期则含当日） / to (exclusive; a date counts whole)"),
]


def _unreachable(exc: SQLAlchemyError) -> typer.Exit:
    url = get_engine().url.render_as_string(hide_password=True)
    err.print(
        f"[bold red]数据库 {url} 无法连接或未迁移[/]：请检查 GOVDX_DATABASE_URL 并运行 `govdx db upgrade` / "
        f"database {url} is unreachable or not migrated",
        soft_wrap=True,
    )
    err.print(f"[dim]{type(exc).__name__}: {escape(str(exc).splitlines()[0])}[/]", soft_wrap=True)
    return typer.Exit(2)


def _times(since: str | None, until: str | None) -> AuditFilter:
    try:
        bounds = AuditFilter(
            since=None if since is None else parse_time(since),
            until=None if until is None else parse_time(until, until=True),
        )
        audit_search.check_range(bounds.since, bounds.until)
    except InvalidInput as error:
        fail(error)
    return bounds


def _print_report(report: VerifyReport, *, what: str) -> None:
    span = (
        f"seq {report.first_seq}–{report.last_seq}" if report.first_seq is not None else "无记录 no records"
    )
    if report.intact:
        out.print(
            f"[bold green]{what}完整 / intact[/]：{report.records_verified} 条记录已核验 records verified "
            f"（{span}），{report.checkpoints_verified} 个检查点已核验 checkpoints verified",
            soft_wrap=True,
        )
    else:
        first = report.first_break
        assert first is not None
        out.print(
            f"[bold red]{what}已被改动 / broken[/]：第一处断裂 first break at seq {first.seq}"
            f"{f' (id {first.record_id})' if first.record_id is not None else ''}：{first.kind.value}",
            soft_wrap=True,
        )
        out.print(f"{first.message} / {first.message_en}", soft_wrap=True, markup=False)
        table = Table("seq", "id", "类别 kind", "说明 what", title=f"共 {report.break_count} 处 / breaks")
        for found in report.breaks:
            ident = found.record_id if found.record_id is not None else found.checkpoint_id
            table.add_row(
                str(found.seq if found.seq is not None else "-"),
                str(ident or "-"),
                found.kind.value,
                found.message,
            )
        out.print(table)
        out.print(
            f"读取 read {report.records} 条记录 records（{span}），"
            f"{report.records_verified} 条自身无误 intact；"
            f"检查点 checkpoints {report.checkpoints_verified}/{report.checkpoints} 有效 valid",
            soft_wrap=True,
        )
    if report.head_seq is not None:
        head = "链头 head" if report.source == "database" else "声明的末条 declared last"
        out.print(
            f"{head}: seq {report.head_seq}；末尾完整可证至 verified through: seq {report.verified_through}"
        )
    for kid, fingerprint in report.key_fingerprints.items():
        out.print(f"签名公钥 signing key {kid}: {fingerprint}", soft_wrap=True)
    for note in report.notes:
        out.print(f"[yellow]注意[/] {note.message} / {note.message_en}", soft_wrap=True)


@audit_app.command("verify")
def verify(
    file: Annotated[
        Path | None,
        typer.Option("--file", help="离线核验导出文件（无需数据库） / verify an export offline, no database"),
    ] = None,
    batch: Annotated[
        int, typer.Option(min=100, max=100_000, help="每批读取记录数 / records per batch")
    ] = 10000,
    trusted_keys: Annotated[
        Path | None,
        typer.Option(
            "--trusted-keys",
            help="平台公布的公钥（govdx audit public-keys 的输出），离线核验时只信任这些公钥 / "
            "the platform's published public keys; with --file, trust only these",
        ),
    ] = None,
) -> None:
    """Recompute the chain and the checkpoints' signatures: exit 0 when intact, 1 naming the first break."""
    try:
        if file is not None:
            trusted = _read_trusted_keys(trusted_keys) if trusted_keys is not None else None
            report = audit_verify.verify_export(path=file, trusted_keys=trusted)
        else:
            public_keys = get_keyring().public_keys()
            with session_scope(write=False) as db:
                report = audit_verify.verify(db=db, keyring_public_keys=public_keys, batch=batch)
    except GovdxError as error:
        fail(error)
    except SQLAlchemyError as exc:
        raise _unreachable(exc) from None
    _print_report(report, what="导出文件" if file is not None else "访问日志")
    raise typer.Exit(0 if report.intact else 1)


def _read_trusted_keys(path: Path) -> dict[str, str]:
    try:
        keys = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        fail(InvalidInput(f"无法读取公钥文件 {path}：{exc}", f"cannot read the key file {path}: {exc}"))
    if not isinstance(keys, dict) or not all(isinstance(v, str) for v in keys.values()):
        fail(InvalidInput(f"公钥文件 {path} 应为 {{密钥编号: PEM}}", f"{path} must map key ids to PEM"))
    return {str(k): v for k, v in keys.items()}


@audit_app.command("public-keys")
def public_keys() -> None:
    """Print the platform's checkpoint-signing public keys as JSON {key id: PEM}, to publish to auditors."""
    try:
        sys.stdout.write(json.dumps(get_keyring().public_keys(), indent=2) + "\n")
    except GovdxError as error:
        fail(error)


@audit_app.command("checkpoint")
def checkpoint() -> None:
    """Verify the records since the last checkpoint, then sign the chain (what the hourly DAG does)."""
    try:
        result = scheduled.run_checkpoint()
    except audit_checkpoint.AuditChainBroken as error:
        err.print(f"[bold red]未签名 / not signed[/] {error.message}", soft_wrap=True)
        err.print(f"[dim]{error.message_en}[/]", soft_wrap=True)
        raise typer.Exit(1) from None
    except GovdxError as error:
        fail(error)
    except SQLAlchemyError as exc:
        raise _unreachable(exc) from None
    made = result["checkpoint"]
    if made is None:
        out.print(
            "自上次检查点以来没有新记录，未签名 / nothing appended since the last checkpoint; none signed"
        )
    else:
        out.print(
            f"已签名检查点 / checkpoint signed: seq {made['seq']} hash {made['hash']} key {made['key_id']}"
            f"（核验 verified {result['verified_records']} 条记录 records）",
            soft_wrap=True,
        )


@audit_app.command("export")
def export(
    since: SinceOption = None,
    until: UntilOption = None,
    output: Annotated[
        Path | None, typer.Option("--out", "-o", help="输出文件，默认标准输出 / default stdout")
    ] = None,
) -> None:
    """Export a time range as JSON Lines, with its checkpoints and the public keys, to verify offline."""
    bounds = _times(since, until)
    try:
        lines = audit_export.export_lines(
            session_factory=get_sessionmaker(), keyring=get_keyring(), since=bounds.since, until=bounds.until
        )
        last = ""
        if output is None:
            for last in lines:
                sys.stdout.write(last)
        else:
            with output.open("w", encoding="utf-8") as f:
                for last in lines:
                    f.write(last)
    except GovdxError as error:
        fail(error)
    except SQLAlchemyError as exc:
        raise _unreachable(exc) from None
    counts = json.loads(last)
    err.print(
        f"已导出 / exported {counts['records']} 条记录 records，{counts['checkpoints']} 个检查点 checkpoints"
        f"{f' → {output}' if output is not None else ''}",
        soft_wrap=True,
    )


@audit_app.command("search")
def search(
    subject: Annotated[
        str | None,
        typer.Option(
            help="主体：公民身份号码、统一社会信用代码或证照“类型:编号” / ID number, credit code, type:number"
        ),
    ] = None,
    since: SinceOption = None,
    until: UntilOption = None,
    department: Annotated[str | None, typer.Option(help="部门简码、信用代码或编号 / department")] = None,
    system: Annotated[str | None, typer.Option(help="业务系统 client_id / machine client")] = None,
    resource: Annotated[str | None, typer.Option(help="信息资源代码 / resource code")] = None,
    outcome: Annotated[AccessOutcome | None, typer.Option(help="结果 / outcome")] = None,
    reason: Annotated[AccessReason | None, typer.Option(help="拒绝原因代码 / reason code")] = None,
    outside_approval: Annotated[
        bool, typer.Option("--outside-approval", help="只看超出授权的调用 / refused beyond the grant only")
    ] = False,
    page: Annotated[int, typer.Option(min=1, help="页码 / page")] = 1,
    page_size: Annotated[int, typer.Option(min=1, max=MAX_PAGE_SIZE, help="每页条数 / page size")] = 50,
) -> None:
    """Who accessed what, newest first: search by subject, time, department, system, resource, outcome."""
    bounds = _times(since, until)
    filters = AuditFilter(
        since=bounds.since,
        until=bounds.until,
        department=department,
        system=system,
        resource=resource,
        outcome=outcome,
        reason=reason,
        subject=subject,
    )
    try:
        with session_scope(write=False) as db:
            records, total = audit_search.search(
                db=db,
                keyring=get_keyring(),
                filters=filters,
                params=PageParams(page=page, page_size=page_size),
                outside_approval=outside_approval,
            )
    except GovdxError as error:
        fail(error)
    except SQLAlchemyError as exc:
        raise _unreachable(exc) from None
    table = Table(
        "seq",
        Column("时间 time", no_wrap=True),
        "部门 department",
        "系统 system",
        "资源 resource",
        "方式 mode",
        "依据 purpose",
        "结果 outcome",
        "原因 reason",
        "条数 rows",
        "请求 request id",
        title=f"访问记录 / access records（共 {total} 条 total，第 {page} 页 page）",
    )
    for r in records:
        table.add_row(
            str(r.seq),
            r.at.astimezone(TZ).strftime("%Y-%m-%d %H:%M:%S"),
            r.department_name or r.department_slug or str(r.department_id or "-"),
            r.client_id or r.operator or "-",
            r.resource_code or "-",
            r.mode,
            r.request_number or r.purpose_ref or "-",
            r.outcome_label or r.outcome,
            r.reason_code or "",
            str(r.rows_returned),
            r.request_id,
        )
    out.print(table)
