"""A consistent copy of the platform database and its way back: SQLite's backup API, pg_dump and pg_restore.

- **SQLite**: ``sqlite3.Connection.backup`` copies the whole database in one step, inside one read
  transaction. Under WAL (which the platform uses) that snapshot blocks no writer, so the copy is
  taken while ``govdx serve`` runs; the copy is switched to a rollback journal so it is one file.
- **PostgreSQL**: a REPEATABLE READ transaction exports its snapshot (``pg_export_snapshot``); the
  caller reads what the manifest states (counts, the audit head) in that transaction, and
  ``pg_dump --snapshot`` dumps exactly the same state, in its custom format. The password reaches the
  tools in ``PGPASSWORD``, never on a command line (``ps`` shows command lines to every user), and
  inherited ``PG*`` variables are dropped so none can point a tool elsewhere.
- pg_dump refuses a server newer than itself, and pg_restore a dump from a newer pg_dump; both are
  checked first, so the operator reads which binary to use instead of pg_dump's own message.
"""

import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import URL, make_url

from authz.backup.exceptions import BackupError
from authz.backup.settings import BackupSettings
from catalog_schema.database import make_engine

T = TypeVar("T")
_LOCALE = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
# libpq's environment variable for each connection parameter a URL's query may carry.
_LIBPQ_QUERY = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "sslcrl": "PGSSLCRL",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "application_name": "PGAPPNAME",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
    "host": "PGHOST",
    "port": "PGPORT",
}


def dialect_of(url: str) -> str:
    """``sqlite`` or ``postgresql``; any other database is refused."""
    name = make_url(url).get_backend_name()
    if name not in ("sqlite", "postgresql"):
        raise BackupError(
            f"不支持备份 {name} 数据库：平台数据库应为 SQLite 或 PostgreSQL",
            f"cannot back up a {name} database: the platform runs on SQLite or PostgreSQL",
            code="backup_dialect_unsupported",
        )
    return name


def private(path: Path) -> None:
    """Readable by the owner only (a backup holds every record of the platform)."""
    path.chmod(0o600)


# -- SQLite ---------------------------------------------------------------------------------------


def sqlite_path(url: str) -> Path:
    """The file of a SQLite URL; an in-memory database has none to back up or restore."""
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError(
            "内存数据库无法备份或恢复",
            "an in-memory database cannot be backed up or restored",
            code="backup_no_file",
        )
    return Path(database)


def copy_sqlite(*, source: Path, target: Path) -> None:
    """A consistent copy of the SQLite database at ``source`` (online) into the new file ``target``."""
    if not source.is_file():
        raise BackupError(
            f"找不到数据库文件 {source}：请检查 GOVDX_DATABASE_URL / GOVDX_HOME",
            f"database file {source} not found: check GOVDX_DATABASE_URL / GOVDX_HOME",
            code="backup_database_missing",
        )
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)  # one step: one read snapshot, so it never restarts under concurrent writers
        dst.execute("PRAGMA journal_mode=DELETE")
    finally:
        dst.close()
        src.close()
    private(target)


def quick_check(path: Path) -> str:
    """SQLite's ``quick_check`` of a database file: ``ok`` or the first problem."""
    conn = sqlite3.connect(path)
    try:
        return str(conn.execute("PRAGMA quick_check").fetchone()[0])
    finally:
        conn.close()


def sqlite_is_empty(path: Path) -> bool:
    """Whether the file is missing, or holds no table."""
    if not path.exists():
        return True
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        tables = conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%'"
        ).fetchone()[0]
    finally:
        conn.close()
    return int(tables) == 0


# -- PostgreSQL: the tools ------------------------------------------------------------------------


def tool(name: str, settings: BackupSettings) -> Path:
    """The path of ``pg_dump`` or ``pg_restore``: in GOVDX_BACKUP_PG_BIN when set, else on PATH."""
    found = (
        settings.pg_bin / name
        if settings.pg_bin is not None and (settings.pg_bin / name).is_file()
        else (None if settings.pg_bin is not None else shutil.which(name))
    )
    if found is None:
        where = f"GOVDX_BACKUP_PG_BIN={settings.pg_bin}" if settings.pg_bin is not None else "PATH"
        raise BackupError(
            f"找不到 {name}（在 {where} 中）：请安装与服务器同一大版本或更新的 PostgreSQL 客户端"
            "（Debian：apt-get install postgresql-client），或用 GOVDX_BACKUP_PG_BIN 指明其目录",
            f"{name} not found (in {where}): install the PostgreSQL client of the server's major version "
            "or newer (Debian: apt-get install postgresql-client), or name its folder in GOVDX_BACKUP_PG_BIN",
            code="backup_tool_missing",
        )
    return Path(found)


def tool_major(path: Path) -> int:
    """The major version a PostgreSQL tool reports (``pg_dump (PostgreSQL) 15.20`` → 15)."""
    output = subprocess.run([str(path), "--version"], capture_output=True, text=True, check=False).stdout
    match = re.search(r"\)\s*(\d+)", output)
    if match is None:
        raise BackupError(
            f"无法识别 {path} 的版本：{output.strip()!r}",
            f"cannot read the version of {path}: {output.strip()!r}",
            code="backup_tool_missing",
        )
    return int(match.group(1))


def check_tool(path: Path, *, needed: int, what: str, what_en: str) -> int:
    """``path``'s major version, refused when older than ``needed``."""
    major = tool_major(path)
    if major < needed:
        raise BackupError(
            f"{path.name} 的版本为 {major}，低于{what}的 {needed}：请使用 {needed} 或更新版本的 {path.name}"
            f"（GOVDX_BACKUP_PG_BIN 可指明其目录，如 /usr/lib/postgresql/{needed}/bin）",
            f"{path.name} is version {major}, older than {what_en} ({needed}): use {path.name} {needed} or "
            f"newer (GOVDX_BACKUP_PG_BIN names its folder, e.g. /usr/lib/postgresql/{needed}/bin)",
            code="backup_tool_too_old",
        )
    return major


def environment(url: URL) -> dict[str, str]:
    """The tools' environment for ``url``: libpq variables, the password among them; no other PG*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    for value, name in (
        (url.host, "PGHOST"),
        (url.port, "PGPORT"),
        (url.username, "PGUSER"),
        (url.password, "PGPASSWORD"),
        (url.database, "PGDATABASE"),
    ):
        if value is not None:
            env[name] = str(value)
    for key, given in url.query.items():
        if key in _LIBPQ_QUERY:
            env[_LIBPQ_QUERY[key]] = given if isinstance(given, str) else given[0]
    return env


def _run(command: list[str], *, env: dict[str, str], what: str) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise BackupError(
            f"{what} 失败（退出码 {done.returncode}）：{tail}",
            f"{what} failed (exit {done.returncode}): {tail}",
            code="backup_tool_failed",
        )


def server_major(conn: Connection) -> int:
    """The server's major version (``server_version_num`` 150020 → 15)."""
    return int(conn.exec_driver_sql("SHOW server_version_num").scalar_one()) // 10000


def dump(
    *, engine: Engine, target: Path, settings: BackupSettings, read: Callable[[Connection], T]
) -> tuple[T, dict[str, Any]]:
    """``read``'s result and the database's facts, and ``pg_dump`` of the same snapshot into ``target``."""
    pg_dump = tool("pg_dump", settings)
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
        conn.exec_driver_sql("SET TRANSACTION READ ONLY")
        snapshot = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
        server = server_major(conn)
        tool_version = check_tool(pg_dump, needed=server, what="服务器", what_en="the server")
        encoding, collate, ctype = conn.execute(
            text(
                "SELECT pg_encoding_to_char(encoding), datcollate, datctype FROM pg_database "
                "WHERE datname = current_database()"
            )
        ).one()
        result = read(conn)
        # The snapshot lives as long as this transaction: pg_dump runs inside it.
        command = [str(pg_dump), "--format=custom", "--no-password", f"--snapshot={snapshot}"]
        _run(
            [*command, f"--file={target}", str(engine.url.database)],
            env=environment(engine.url),
            what="pg_dump",
        )
        conn.rollback()
    private(target)
    facts = {
        "server_major": server,
        "dump_tool_major": tool_version,
        "encoding": encoding,
        "collate": collate,
        "ctype": ctype,
    }
    return result, facts


def restore_dump(
    *, url: URL, database: str, dump_file: Path, dump_major: int, settings: BackupSettings
) -> None:
    """``pg_restore`` ``dump_file`` into the empty ``database`` on ``url``'s server, all or nothing."""
    pg_restore = tool("pg_restore", settings)
    check_tool(pg_restore, needed=dump_major, what="备份所用 pg_dump", what_en="the backup's pg_dump")
    # --no-owner: the objects belong to the platform's user named in the URL, whoever owned them before.
    command = [str(pg_restore), "--no-password", "--no-owner", "--single-transaction", "--exit-on-error"]
    _run([*command, f"--dbname={database}", str(dump_file)], env=environment(url), what="pg_restore")


# -- PostgreSQL: databases ------------------------------------------------------------------------


@contextmanager
def maintenance(url: URL, settings: BackupSettings) -> Iterator[Connection]:
    """An autocommit connection to the server's maintenance database, for CREATE/ALTER/DROP DATABASE."""
    engine = make_engine(
        url.set(database=settings.pg_maintenance_db).render_as_string(hide_password=False), pool_size=1
    )
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            yield conn
    finally:
        engine.dispose()


def quoted(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote_identifier(name)


def exists(conn: Connection, name: str) -> bool:
    """Whether the server has a database named ``name``."""
    return conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first() is not None


def create_database(conn: Connection, name: str, facts: dict[str, Any]) -> None:
    """An empty database as the backup's was: from template0, with its encoding and locale."""
    settings = (facts["encoding"], facts["collate"], facts["ctype"])
    if not all(isinstance(v, str) and _LOCALE.fullmatch(v) for v in settings):
        raise BackupError(
            f"备份记录的编码或区域设置无效：{settings}",
            f"the backup's encoding or locale is invalid: {settings}",
            code="backup_manifest_invalid",
        )
    conn.exec_driver_sql(
        f"CREATE DATABASE {quoted(conn, name)} TEMPLATE template0 ENCODING '{facts['encoding']}' "
        f"LC_COLLATE '{facts['collate']}' LC_CTYPE '{facts['ctype']}'"
    )


def drop_database(conn: Connection, name: str) -> None:
    conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted(conn, name)} WITH (FORCE)")


def rename_database(conn: Connection, old: str, new: str) -> None:
    """Rename a database; refused with the fix while anyone is connected to it."""
    try:
        conn.exec_driver_sql(f"ALTER DATABASE {quoted(conn, old)} RENAME TO {quoted(conn, new)}")
    except Exception as exc:
        raise BackupError(
            f"无法重命名数据库 {old}：仍有连接在使用它。请先停止平台（govdx serve、Airflow 任务）再恢复",
            f"cannot rename database {old}: it is in use. Stop the platform (govdx serve, Airflow tasks) "
            "before restoring",
            code="backup_target_in_use",
            extra={"detail": str(exc).splitlines()[0]},
        ) from None


def pg_is_empty(url: URL) -> bool:
    """Whether the database at ``url`` holds no table, view or sequence outside the system schemas."""
    engine = make_engine(url.render_as_string(hide_password=False), pool_size=1)
    try:
        with engine.connect() as conn:
            count = conn.execute(
                text(
                    "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND n.nspname NOT IN "
                    "('pg_catalog', 'information_schema') AND n.nspname NOT LIKE :system"
                ),
                {"system": "pg\\_%"},
            ).scalar_one()
    finally:
        engine.dispose()
    return int(count) == 0
