"""Restore: the verified copy moved into place, the old state kept aside, the schema made current.

Nothing is changed until the backup has verified as ``govdx backup verify`` verifies it, on the very
copy that then takes the target's place:

- **SQLite**: the backup's file is copied beside the target (same file system), verified there, and
  renamed onto the target (``os.replace``, atomic). An existing target file, with its ``-wal`` and
  ``-shm``, is renamed aside first (``<name>.before-restore-<UTC time>``).
- **PostgreSQL**: ``pg_restore`` into a staging database on the target's server, verified there; then
  renamed to the target's name where there is none (``--create``) or where the old one is renamed
  aside (``--force``, ``<name>_before_restore_<UTC time>``). Into an existing empty target (one the
  operator made, with its owner and grants) the dump is restored a second time, in one transaction.
- **The keyring** is written beside its place (0600) before the database moves, and renamed onto it
  after; an existing one is renamed aside (``keys.json.before-restore-<UTC time>``).

A non-empty target database or an existing keyring is refused unless ``force``; nothing is ever
deleted. Last, a backup from an older govdx is migrated to this code's revision, so the platform
starts on it; a backup from a newer govdx (a revision this code does not know) is refused first.
"""

import os
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import make_url

from authz.audit.schemas import VerifyReport
from authz.backup import service, snapshot
from authz.backup.exceptions import BackupError
from authz.backup.settings import BackupSettings
from catalog_schema import migrate
from catalog_schema.database import make_engine

SQLITE_FILES = ("", "-wal", "-shm", "-journal")


@dataclass(frozen=True)
class Restored:
    """What a restore did: the backup's manifest, its audit report, and where the old state went."""

    manifest: dict[str, object]
    report: VerifyReport
    database_aside: str | None
    keyring_aside: Path | None
    migrated_from: str | None


def _known(revision: str) -> None:
    """Refuse a backup whose schema revision this code does not know (made by a newer govdx)."""
    try:
        known = ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_revision(revision)
    except CommandError:
        known = None
    if known is None:
        raise BackupError(
            f"备份的数据库版本 {revision} 不为本程序所知：请用生成该备份的 govdx 版本（或更新版本）恢复",
            f"the backup's schema revision {revision} is unknown to this code: restore it with the govdx "
            "version that made it, or a newer one",
            code="backup_revision_unknown",
        )


def _aside(path: Path, stamp: str) -> Path:
    """Where an existing file is kept: ``<name>.before-restore-<UTC time>``, never over another one."""
    aside = path.with_name(f"{path.name}.before-restore-{stamp}")
    while any(Path(f"{aside}{suffix}").exists() for suffix in SQLITE_FILES):
        aside = path.with_name(f"{path.name}.before-restore-{stamp}-{secrets.token_hex(2)}")
    return aside


def _not_empty(target: str) -> BackupError:
    return BackupError(
        f"目标数据库 {target} 不是空的，拒绝覆盖；确需覆盖请加 --force（原数据库将被改名保留）",
        f"the target database {target} is not empty; refusing to overwrite it. Add --force to replace it "
        "(the old one is kept under another name)",
        code="backup_target_not_empty",
    )


def restore(
    *,
    path: Path,
    passphrase: str,
    database_url: str,
    keyring_path: Path,
    settings: BackupSettings,
    force: bool = False,
    create: bool = False,
    step: Callable[[str], None] = service.quiet,
) -> Restored:
    """Restore the backup at ``path`` into the configured database and keyring, once it verifies."""
    step("open")
    opened = service.open_backup(path=path, passphrase=passphrase)
    dialect = snapshot.dialect_of(database_url)
    if dialect != opened.dialect:
        raise BackupError(
            f"这是 {opened.dialect} 数据库的备份，目标却是 {dialect}：请恢复到同类数据库",
            f"this is a backup of a {opened.dialect} database, the target is {dialect}: use the same kind",
            code="backup_dialect_mismatch",
        )
    _known(str(opened.manifest["database"]["alembic_revision"]))
    if keyring_path.exists() and not force:
        raise BackupError(
            f"密钥环 {keyring_path} 已存在，拒绝覆盖；确需覆盖请加 --force（原文件将被改名保留）",
            f"keyring {keyring_path} already exists; refusing to overwrite it. Add --force to replace it "
            "(the old file is kept under another name)",
            code="backup_keyring_exists",
        )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    keyring_path.parent.mkdir(parents=True, exist_ok=True)
    staged_keyring = keyring_path.with_name(f".{keyring_path.name}.restoring-{secrets.token_hex(4)}")
    service.write_private(staged_keyring, opened.keyring_bytes)
    try:
        step("database")
        if dialect == "sqlite":
            report, database_aside = _sqlite(opened, database_url, force=force, stamp=stamp, step=step)
        else:
            report, database_aside = _postgres(
                opened, database_url, settings, force=force, create=create, stamp=stamp, step=step
            )
        keyring_aside = None
        if keyring_path.exists():
            keyring_aside = _aside(keyring_path, stamp)
            os.rename(keyring_path, keyring_aside)
        os.replace(staged_keyring, keyring_path)
    finally:
        staged_keyring.unlink(missing_ok=True)
    step("migrate")
    engine = make_engine(database_url, pool_size=1)
    try:
        before = migrate.current_revision(engine)
        migrated_from = None
        if before != migrate.head_revision():
            migrate.upgrade(engine)
            migrated_from = before
    finally:
        engine.dispose()
    return Restored(
        manifest=opened.manifest,
        report=report,
        database_aside=database_aside,
        keyring_aside=keyring_aside,
        migrated_from=migrated_from,
    )


def _sqlite(
    opened: service.Opened, database_url: str, *, force: bool, stamp: str, step: Callable[[str], None]
) -> tuple[VerifyReport, str | None]:
    target = snapshot.sqlite_path(database_url)
    if not force and not snapshot.sqlite_is_empty(target):
        raise _not_empty(str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = target.with_name(f".{target.name}.restoring-{secrets.token_hex(4)}")
    try:
        shutil.copyfile(opened.database_file, staged)
        snapshot.private(staged)
        service.check_sqlite_file(staged)
        step("chain")
        with service.sqlite_engine(staged) as engine:
            report = service.check_copy(engine=engine, opened=opened)
        aside = None
        if target.exists():
            aside = str(_aside(target, stamp))
            for suffix in SQLITE_FILES:
                if Path(f"{target}{suffix}").exists():
                    os.rename(f"{target}{suffix}", f"{aside}{suffix}")
        os.replace(staged, target)
    finally:
        staged.unlink(missing_ok=True)
    return report, aside


def _postgres(
    opened: service.Opened,
    database_url: str,
    settings: BackupSettings,
    *,
    force: bool,
    create: bool,
    stamp: str,
    step: Callable[[str], None],
) -> tuple[VerifyReport, str | None]:
    url = make_url(database_url)
    name = str(url.database)
    with snapshot.maintenance(url, settings) as conn:
        present = snapshot.exists(conn, name)
    if not present and not create:
        raise BackupError(
            f"目标数据库 {name} 不存在：请先创建空库，或加 --create 由恢复创建",
            f"the target database {name} does not exist: create it empty, or add --create",
            code="backup_target_missing",
        )
    empty = present and snapshot.pg_is_empty(url)
    if present and not empty and not force:
        raise _not_empty(name)
    facts = opened.manifest["database"]
    staging = f"{name[:40]}_restoring_{secrets.token_hex(4)}"
    with snapshot.maintenance(url, settings) as conn:
        snapshot.create_database(conn, staging, facts)
    moved = False
    try:
        snapshot.restore_dump(
            url=url,
            database=staging,
            dump_file=opened.database_file,
            dump_major=int(facts["dump_tool_major"]),
            settings=settings,
        )
        step("chain")
        engine = make_engine(url.set(database=staging).render_as_string(hide_password=False), pool_size=1)
        try:
            report = service.check_copy(engine=engine, opened=opened)
        finally:
            engine.dispose()
        aside = None
        if empty:
            snapshot.restore_dump(
                url=url,
                database=name,
                dump_file=opened.database_file,
                dump_major=int(facts["dump_tool_major"]),
                settings=settings,
            )
            return report, aside
        with snapshot.maintenance(url, settings) as conn:
            if present:
                aside = f"{name[:40]}_before_restore_{stamp.lower()}"
                snapshot.rename_database(conn, name, aside)
            try:
                snapshot.rename_database(conn, staging, name)
            except BackupError:
                if aside is not None:
                    snapshot.rename_database(conn, aside, name)
                raise
            moved = True
        return report, aside
    finally:
        if not moved:
            with snapshot.maintenance(url, settings) as conn:
                snapshot.drop_database(conn, staging)
