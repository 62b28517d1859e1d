"""``govdx clock …``: run the feedback clock by hand, as one run of the ``govdx_sharing_clock`` DAG does."""

from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from authz.calendar.service import TZ
from authz.clock import flows, scheduled
from catalog_schema.cli import fail
from catalog_schema.database import session_scope
from catalog_schema.errors import GovdxError, InvalidInput
from catalog_schema.library import service as library_service
from catalog_schema.library.schemas import DiscrepancyResolve
from catalog_schema.types import DiscrepancyStatus

clock_app = typer.Typer(help="限期反馈时钟 / feedback clock", no_args_is_help=True)
out = Console()

STEPS = {
    "sync_discrepancies": "校核差异工单计时 / discrepancy tickets",
    "expire_grants": "授权到期 / expired grants",
    "recompute_and_warn": "时限重算与预警 / states and warnings",
    "deliver": "邮件与 Webhook 发送 / outbound delivery",
}


@clock_app.callback()
def main() -> None:
    """限期反馈时钟 / feedback clock."""


def _moment(at: str | None) -> datetime | None:
    if at is None:
        return None
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        fail(
            InvalidInput(
                f"时间格式应为 ISO 8601（如 2026-10-12T09:00+08:00）：{at}",
                f"--at must be an ISO 8601 date-time (e.g. 2026-10-12T09:00+08:00): {at}",
                code="invalid_datetime",
            )
        )
    # A time without an offset is Beijing time, as every date the clock shows is.
    moment = moment if moment.tzinfo else moment.replace(tzinfo=TZ)
    if moment > datetime.now(UTC):
        # Warnings recorded as of a future time are never taken back, and the 督办 mail is real.
        fail(
            InvalidInput(
                f"不能按未来时刻运行时钟：{moment.isoformat()}",
                f"--at must not be in the future: {moment.isoformat()}",
                code="future_time",
            )
        )
    return moment


def _cell(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
    return str(value)


@clock_app.command("run")
def run(
    at: Annotated[
        str | None,
        typer.Option(help="按此时刻运行（ISO 8601，无时区按北京时间）/ run as of this time"),
    ] = None,
) -> None:
    """Put discrepancy tickets on the clock, expire grants, record warnings and 督办, send mail."""
    try:
        summary = scheduled.run_clock(_moment(at))
    except GovdxError as exc:
        fail(exc)
    table = Table("步骤 step", "结果 result", title=f"限期反馈时钟 / feedback clock @ {summary['at']}")
    for step, label in STEPS.items():
        result = summary[step]
        table.add_row(label, "\n".join(f"{k}: {_cell(v)}" for k, v in result.items()))
    out.print(table)


def resolve_ticket(
    ticket_id: Annotated[int, typer.Argument(help="工单编号 / ticket id")],
    status: Annotated[DiscrepancyStatus, typer.Option(help="confirmed | corrected | dismissed")],
    note: Annotated[str, typer.Option(help="处理说明 / why")],
) -> None:
    """Confirm, correct or dismiss a discrepancy ticket."""
    # Registered as `govdx library resolve` (api/cli.py); answering the ticket stops its clock.
    try:
        data = DiscrepancyResolve.model_validate({"status": status, "note": note})
        with session_scope() as db:
            ticket = library_service.get_discrepancy(db=db, ticket_id=ticket_id, department_id=None)
            flows.resolve(db=db, ticket=ticket, data=data, user=None)
    except GovdxError as exc:
        fail(exc)
    except ValueError as exc:
        fail(InvalidInput("处理状态或说明无效", f"invalid resolution: {exc}", code="invalid_input"))
    out.print(f"工单 {ticket_id} → {status.value}")
