"""``govdx library …``: run pipelines by hand, browse batches and quarantine, handle discrepancy tickets."""

import os
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from catalog_schema.cli import fail
from catalog_schema.database import get_sessionmaker, session_scope
from catalog_schema.errors import GovdxError, InvalidInput
from catalog_schema.keys import service as keys_service
from catalog_schema.library import service as library_service
from catalog_schema.library.schemas import DiscrepancyRead, QuarantinedRowRead, Resubmit
from catalog_schema.pagination import PageParams
from catalog_schema.types import DiscrepancyStatus, Library, QuarantineQueue
from connectors.config import load_sources
from ingest import declared, flows, freshness, quarantine
from ingest.batch import BatchSummary
from ingest.settings import PipelineSettings

library_app = typer.Typer(help="基础库归集 / base-library pipelines", no_args_is_help=True)
out = Console(width=max(Console().width, 150))
REPO = Path(__file__).resolve().parents[1]


def summary_table(rows: list[dict[str, object]], *, title: str) -> Table:
    """Per-source counts as the demo and the CLI print them."""
    table = Table(title=title)
    columns = {
        "source": "数据源 source",
        "status": "状态 status",
        "rows_read": "读取 read",
        "loaded": "入库 loaded",
        "inserted": "新增 new",
        "updated": "更新 changed",
        "quarantined": "隔离 quarantined",
        "held_for_review": "待复核 review",
        "discrepancies": "差异 discrepancies",
        "seconds": "秒 s",
    }
    for key, header in columns.items():
        table.add_column(header, justify="left" if key in ("source", "status") else "right", no_wrap=True)
    for r in rows:
        table.add_row(*(str(r[k]) for k in columns))
    return table


@library_app.command("load")
def load(
    names: Annotated[
        list[str] | None, typer.Argument(help="数据源名称（默认全部）/ source names (default all)")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="忽略水位与文件指纹，全量重读 / re-read everything")
    ] = False,
) -> None:
    """Ingest sources now, outside Airflow, with progress per chunk."""
    settings = PipelineSettings()
    declared = load_sources(settings.sources_file)
    try:
        specs = [declared.get(n) for n in names] if names else declared.sources
    except KeyError as exc:
        fail(
            InvalidInput(
                f"未声明的数据源：{exc.args[0]}", f"undeclared source: {exc.args[0]}", code="unknown_source"
            )
        )
    results = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[counts]}"),
        TimeElapsedColumn(),
        console=out,
    ) as progress:
        for spec in specs:
            task = progress.add_task(spec.name, total=None, counts="")

            def show(s: BatchSummary, task: object = task) -> None:
                progress.update(task, counts=f"读取 {s.rows_read:,} 入库 {s.loaded:,} 隔离 {s.quarantined:,}")  # type: ignore[arg-type]
                # A line per chunk, so logs and tests can follow a long load.
                print(
                    f"progress {s.source} read={s.rows_read} loaded={s.loaded} quarantined={s.quarantined}",
                    flush=True,
                )

            try:
                summary = flows.ingest(
                    spec,
                    session_factory=get_sessionmaker(),
                    sources_dir=settings.sources_dir,
                    run_id="cli",
                    force=force,
                    progress=show,
                )
            except GovdxError as exc:
                progress.stop()
                fail(exc)
            progress.update(task, total=1, completed=1)
            results.append(summary.as_dict())
    out.print(summary_table(results, title="归集结果 / ingest results"))


@library_app.command("batches")
def batches(
    source: Annotated[str | None, typer.Option(help="数据源 / source")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 20,
) -> None:
    """Recent batches with their counts."""
    with session_scope(write=False) as db:
        found, _ = library_service.list_batches(db=db, params=PageParams(page_size=limit), source=source)
        table = Table(
            "id",
            "source",
            "status",
            "read",
            "loaded",
            "quarantined",
            "review",
            "discrepancies",
            "started",
            "error",
        )
        for b in found:
            table.add_row(
                str(b.id),
                b.source,
                b.status.value,
                str(b.rows_read),
                str(b.loaded),
                str(b.quarantined),
                str(b.held_for_review),
                str(b.discrepancies),
                f"{b.started_at:%Y-%m-%d %H:%M:%S}",
                (b.error or "")[:80],
            )
    out.print(table)


@library_app.command("quarantine")
def list_quarantine(
    source: Annotated[str | None, typer.Option(help="数据源 / source")] = None,
    queue: Annotated[QuarantineQueue | None, typer.Option(help="rejected | review")] = None,
    rule: Annotated[str | None, typer.Option(help="规则代码 / rule code")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 50,
) -> None:
    """Open quarantined rows with their reasons."""
    try:
        keyring = keys_service.get_keyring()
        with session_scope(write=False) as db:
            rows, total = library_service.list_quarantine(
                db=db, params=PageParams(page_size=limit), source=source, queue=queue, rule=rule
            )
            shown = [QuarantinedRowRead.of(r, keyring=keyring) for r in rows]
    except GovdxError as exc:
        fail(exc)
    table = Table("id", "source", "row", "key", "queue", "reasons", title=f"隔离区 / quarantine ({total})")
    for r in shown:
        reasons = "; ".join(f"{x.rule}: {x.message}" for x in r.reasons)
        table.add_row(str(r.id), r.source, str(r.source_row), r.subject_key or "", r.queue.value, reasons)
    out.print(table)


def _corrections(values: list[str]) -> dict[int, dict[str, str | None]]:
    found: dict[int, dict[str, str | None]] = {}
    for item in values:
        target, sep, value = item.partition("=")
        row, dot, column = target.partition(":")
        if not sep or not dot or not row.isdigit():
            fail(
                InvalidInput(
                    f"更正格式应为 ID:列=值，收到 {item!r}",
                    f"a correction is ID:column=value, got {item!r}",
                    code="correction_malformed",
                )
            )
        found.setdefault(int(row), {})[column] = value or None
    return found


@library_app.command("resubmit")
def resubmit(
    ids: Annotated[list[int], typer.Argument(help="隔离记录编号 / quarantined row ids")],
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="更正 ID:列=值 / correction ID:column=value")
    ] = None,
    accept_review: Annotated[
        bool, typer.Option("--accept-review", help="复核通过 / review found it legal")
    ] = False,
) -> None:
    """Load quarantined rows again, with corrections."""
    try:
        data = Resubmit(ids=ids, corrections=_corrections(set_ or []), accept_review=accept_review)
        summaries = quarantine.resubmit(
            session_factory=get_sessionmaker(),
            data=data,
            sources_file=PipelineSettings().sources_file,
            actor="cli",
        )
    except GovdxError as exc:
        fail(exc)
    out.print(summary_table([s.as_dict() for s in summaries], title="重新提交 / resubmitted"))


@library_app.command("discrepancies")
def discrepancies(
    status: Annotated[
        DiscrepancyStatus | None, typer.Option(help="open | confirmed | corrected | dismissed")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 50,
) -> None:
    """Discrepancy tickets, newest first."""
    try:
        keyring = keys_service.get_keyring()
        with session_scope(write=False) as db:
            tickets, total = library_service.list_discrepancies(
                db=db, keyring=keyring, params=PageParams(page_size=limit), department_id=None, status=status
            )
            shown = [DiscrepancyRead.of(t, keyring=keyring) for t in tickets]
    except GovdxError as exc:
        fail(exc)
    table = Table(
        "id",
        "element",
        "key",
        "kind",
        "authoritative",
        "other",
        "status",
        title=f"校核差异 / discrepancies ({total})",
    )
    for t in shown:
        table.add_row(
            str(t.id),
            t.element,
            t.subject_key,
            t.kind.value,
            f"{t.authoritative_department}={t.authoritative_value}",
            f"{t.other_department}={t.other_value}",
            t.status.value,
        )
    out.print(table)


@library_app.command("show")
def show(
    library: Annotated[Library, typer.Argument(help="population | legal_person | certificate | credit")],
    key: Annotated[str, typer.Argument(help="主体键 / subject key")],
    on: Annotated[str | None, typer.Option(help="日期 YYYY-MM-DD / the value on this date")] = None,
) -> None:
    """A subject's values now, or on a date."""
    try:
        when = date.fromisoformat(on) if on else None
    except ValueError:
        fail(
            InvalidInput(
                f"日期格式应为 YYYY-MM-DD：{on}", f"date must be YYYY-MM-DD: {on}", code="invalid_date"
            )
        )
    try:
        keyring = keys_service.get_keyring()
        with session_scope(write=False) as db:
            record = library_service.subject_on(
                db=db, keyring=keyring, library=library, subject_key=key, on=when
            )
    except GovdxError as exc:
        fail(exc)
    table = Table(
        "element",
        "value",
        "department",
        "valid_from",
        "valid_to",
        title=f"{library.label} {record.subject_key}",
    )
    for v in record.values:
        table.add_row(v.element, v.value or "", v.department, str(v.valid_from), str(v.valid_to or ""))
    out.print(table)


@library_app.command("freshness")
def freshness_command() -> None:
    """Flag resources whose update cycle was missed or that never received data."""
    result = freshness.flag_missed_update_cycles()
    out.print(
        f"检查 {result['checked']} 个资源，逾期未更新或从未收到数据 {len(result['missed'])} 个: "
        f"{', '.join(result['missed'])}"
    )


def airflow_env(home: Path) -> dict[str, str]:
    """Environment of the embedded Airflow: its own home and SQLite database, no examples."""
    home = home.resolve()
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "GX_ANALYTICS_ENABLED": "False",
        "GOVDX_TASK_RETRIES": os.environ.get("GOVDX_TASK_RETRIES", "0"),
    }


def run_dags(home: Path, dag_ids: list[str]) -> None:
    """Run DAGs in-process with ``dag.test()`` on the embedded Airflow database (migrated first)."""
    env = airflow_env(home)
    os.environ.update(env)
    home.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        env={**os.environ},
        stdout=subprocess.DEVNULL,
    )
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags"))
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    for dag_id in dag_ids:
        out.rule(f"Airflow DAG {dag_id}")
        run = bag.dags[dag_id].test()
        if str(run.state) != "success":
            raise RuntimeError(f"DAG {dag_id} ended {run.state}")


LIBRARY_DAGS = [
    "govdx_population",
    "govdx_legal_person",
    "govdx_certificate",
    "govdx_credit",
    "govdx_update_cycles",
]


def pipeline_dags() -> list[str]:
    """Every pipeline DAG in the order a demo run needs: libraries, then datasets, then freshness."""
    datasets = [declared.dataset_dag_id(s.name) for s in declared.dataset_sources()]
    return [*LIBRARY_DAGS[:-1], *datasets, LIBRARY_DAGS[-1]]
