"""Backup and verify: one folder holding the database copy, the sealed keyring and an authenticated manifest.

A backup folder (mode 0700, its files 0600)::

    manifest.json      what the backup holds, authenticated with the passphrase (authz.backup.sealing)
    database.sqlite    SQLite's online copy     | database.pgdump   pg_dump's custom format
    keyring.sealed     the keyring file, AES-256-GCM under the passphrase

The manifest states the format, the backup's id and time, the govdx version, the database's dialect
and Alembic revision, each file's SHA-256 and size, every table's row count, the audit head (seq,
hash) and latest checkpoint, and the keyring's key ids (never a key), all read from the snapshot the
copy was taken of. A backup is written into a hidden folder beside its destination and renamed into
place last, so a failed one never looks complete.

Opening a backup checks the passphrase and the manifest's MAC, every file's size and digest, and that
the keyring opens. Checking a copy of its database (a scratch SQLite file or PostgreSQL database,
:func:`check_copy`) compares the revision and every table's count with the manifest and verifies the
audit chain end to end (``authz.audit.verify``) under the backed-up keyring's public keys, ending at
the manifest's head and checkpoint. ``govdx backup verify`` and restore (:mod:`authz.backup.flows`)
both do all of it before anything is changed.
"""

import hashlib
import json
import os
import secrets
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from uuid import uuid4

from sqlalchemy import Connection, Engine, create_engine, func, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from authz.audit import chain as audit_chain
from authz.audit import verify as audit_verify
from authz.audit.models import AuditCheckpoint
from authz.audit.schemas import VerifyReport
from authz.backup import sealing, snapshot
from authz.backup.exceptions import BackupError, BackupRefused
from authz.backup.settings import BackupSettings
from catalog_schema import migrate
from catalog_schema.database import Base, make_engine
from catalog_schema.keys import service as keys_service
from catalog_schema.keys.service import Keyring

MANIFEST = "manifest.json"
KEYRING = "keyring.sealed"
DATABASE = {"sqlite": "database.sqlite", "postgresql": "database.pgdump"}
Step = Callable[[str], None]


def quiet(_step: str) -> None:
    return None


@dataclass(frozen=True)
class Opened:
    """A backup whose manifest, files and keyring verified: what restore and verify go on with."""

    path: Path
    manifest: dict[str, Any]
    keyring_bytes: bytes
    keyring: Keyring

    @property
    def dialect(self) -> str:
        return str(self.manifest["database"]["dialect"])

    @property
    def database_file(self) -> Path:
        return self.path / str(self.manifest["database"]["file"])


def default_destination(settings: BackupSettings) -> Path:
    """``$GOVDX_HOME/backups/<UTC timestamp>`` (or under GOVDX_BACKUP_DIR)."""
    return settings.dir / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def _govdx_version() -> str:
    try:
        return version("govdx")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX: fsync the directory)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def facts(conn: Connection) -> dict[str, Any]:
    """The revision, every table's row count, the audit head and latest checkpoint as ``conn`` sees them."""
    revision = migrate.revision_of(conn)
    if revision is None:
        raise BackupError(
            "数据库尚未迁移，没有可备份的平台数据：请先运行 govdx db upgrade",
            "the database was never migrated, so it holds no platform to back up: run `govdx db upgrade`",
            code="backup_not_migrated",
        )
    present = set(inspect(conn).get_table_names())
    tables = {
        table.name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
        for table in Base.metadata.sorted_tables
        if table.name in present
    }
    with Session(bind=conn) as db:
        seq, digest = audit_chain.head(db=db)
        latest = db.scalars(
            select(AuditCheckpoint).order_by(AuditCheckpoint.seq.desc(), AuditCheckpoint.id.desc()).limit(1)
        ).first()
    checkpoint = (
        None
        if latest is None
        else {
            "seq": latest.seq,
            "hash": latest.hash,
            "at": audit_chain.timestamp(latest.at),
            "key_id": latest.key_id,
        }
    )
    return {
        "alembic_revision": revision,
        "tables": tables,
        "audit": {"head": {"seq": int(seq), "hash": digest}, "checkpoint": checkpoint},
    }


@contextmanager
def sqlite_engine(path: Path) -> Iterator[Engine]:
    """A plain engine on a backup's SQLite copy (no WAL switch: the copy stays one file)."""
    engine = create_engine(f"sqlite:///{path}")
    try:
        yield engine
    finally:
        engine.dispose()


def create(
    *,
    database_url: str,
    keyring_path: Path,
    destination: Path,
    passphrase: str,
    settings: BackupSettings,
    step: Step = quiet,
) -> dict[str, Any]:
    """Back up the database and the keyring into the new folder ``destination``; returns the manifest."""
    sealing.check_passphrase(passphrase)
    dialect = snapshot.dialect_of(database_url)
    if destination.exists():
        raise BackupError(
            f"备份目录 {destination} 已存在，拒绝覆盖",
            f"backup folder {destination} already exists; refusing to overwrite it",
            code="backup_exists",
        )
    keys_service.read_document(keyring_path)  # KeyringMissing names the fix
    keyring_bytes = keyring_path.read_bytes()  # read once: the bytes sealed are the keys listed
    keyring = keys_service.parse(json.loads(keyring_bytes), origin=str(keyring_path))
    destination.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{destination.name}.partial-", dir=destination.parent))
    try:
        database_file = work / DATABASE[dialect]
        step("database")
        if dialect == "sqlite":
            snapshot.copy_sqlite(source=snapshot.sqlite_path(database_url), target=database_file)
            with sqlite_engine(database_file) as engine, engine.connect() as conn:
                stated = facts(conn)
            database = {"dialect": dialect, "file": database_file.name}
        else:
            engine = make_engine(database_url, pool_size=1)
            try:
                stated, server = snapshot.dump(
                    engine=engine, target=database_file, settings=settings, read=facts
                )
            finally:
                engine.dispose()
            database = {"dialect": dialect, "file": database_file.name, **server}
        database["source"] = make_url(database_url).render_as_string(hide_password=True)
        database["alembic_revision"] = stated.pop("alembic_revision")

        step("keyring")
        params = sealing.KdfParams.fresh(settings.kdf_log2_n)
        keys = sealing.derive(passphrase, params)
        backup_id, created_at = uuid4().hex, datetime.now(UTC).isoformat(timespec="seconds")
        aad = sealing.identity(backup_id=backup_id, created_at=created_at)
        write_private(work / KEYRING, sealing.seal(keys, keyring_bytes, aad=aad))

        step("manifest")
        manifest: dict[str, Any] = {
            "format": sealing.FORMAT,
            "backup_id": backup_id,
            "created_at": created_at,
            "govdx_version": _govdx_version(),
            "database": database,
            "files": {
                name: {"sha256": sha256_of(work / name), "bytes": (work / name).stat().st_size}
                for name in (database_file.name, KEYRING)
            },
            **stated,
            "keyring": {
                "data_keys": sorted(keyring.data_keys),
                "active": keyring.active,
                "signing_keys": sorted(keyring.signing_keys),
                "active_signing": keyring.active_signing,
                "signing_key_fingerprints": {
                    kid: audit_verify.key_fingerprint(pem)
                    for kid, pem in sorted(keyring.public_keys().items())
                },
            },
            "kdf": params.as_dict(),
            "passphrase_check": sealing.check_value(keys),
        }
        manifest[sealing.MAC_FIELD] = sealing.mac(keys, manifest)
        body = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
        write_private(work / MANIFEST, body.encode("utf-8"))
        # Only a folder that holds everything gets the destination's name.
        os.rename(work, destination)
        _sync_folder(destination.parent)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return manifest


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of the backup at ``path``, as stored (not yet authenticated)."""
    try:
        document = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(
            f"{path} 不是备份目录：缺少 {MANIFEST}",
            f"{path} is not a backup folder: {MANIFEST} is missing",
            code="backup_not_found",
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BackupRefused(
            f"备份清单不是有效的 JSON：{exc}",
            f"the manifest is not valid JSON: {exc}",
            code="backup_manifest_invalid",
        ) from None
    if not isinstance(document, dict) or document.get("format") != sealing.FORMAT:
        found = document.get("format") if isinstance(document, dict) else None
        raise BackupRefused(
            f"备份格式为 {found!r}，本版本只读取 {sealing.FORMAT}",
            f"the backup's format is {found!r}; this version reads {sealing.FORMAT} only",
            code="backup_manifest_invalid",
        )
    return document


def open_backup(*, path: Path, passphrase: str) -> Opened:
    """The backup at ``path``, once its passphrase, manifest, files and keyring verify."""
    manifest = read_manifest(path)
    keys = sealing.derive(passphrase, sealing.KdfParams.from_dict(manifest.get("kdf")))
    sealing.authenticate(keys, manifest)
    for name, stated in manifest["files"].items():
        file = path / name
        if not file.is_file():
            raise BackupRefused(
                f"备份文件 {name} 缺失", f"backup file {name} is missing", code="backup_file_missing"
            )
        if file.stat().st_size != stated["bytes"] or sha256_of(file) != stated["sha256"]:
            raise BackupRefused(
                f"备份文件 {name} 的摘要与清单不符：文件被改动或损坏",
                f"backup file {name} does not match the manifest's digest: it was changed or damaged",
                code="backup_file_tampered",
            )
    aad = sealing.identity(backup_id=manifest["backup_id"], created_at=manifest["created_at"])
    keyring_bytes = sealing.unseal(keys, (path / KEYRING).read_bytes(), aad=aad)
    keyring = keys_service.parse(json.loads(keyring_bytes), origin=f"{path / KEYRING}")
    return Opened(path=path, manifest=manifest, keyring_bytes=keyring_bytes, keyring=keyring)


def _refuse(what: str, what_en: str, stated: Any, found: Any, *, code: str) -> BackupRefused:
    return BackupRefused(
        f"备份中数据库的{what}与清单不符：清单 {stated}，实际 {found}",
        f"the backed-up database's {what_en} differs from the manifest: stated {stated}, found {found}",
        code=code,
    )


def check_copy(*, engine: Engine, opened: Opened) -> VerifyReport:
    """Refuse a restored copy unless its revision, counts, chain, head and checkpoint are the manifest's."""
    manifest = opened.manifest
    with engine.connect() as conn:
        found = facts(conn)
        if found["alembic_revision"] != manifest["database"]["alembic_revision"]:
            raise _refuse(
                "迁移版本",
                "revision",
                manifest["database"]["alembic_revision"],
                found["alembic_revision"],
                code="backup_revision_mismatch",
            )
        if found["tables"] != manifest["tables"]:
            differ = sorted(
                name
                for name in set(found["tables"]) | set(manifest["tables"])
                if found["tables"].get(name) != manifest["tables"].get(name)
            )
            stated = {n: manifest["tables"].get(n) for n in differ}
            raise _refuse(
                "表行数",
                "row counts",
                stated,
                {n: found["tables"].get(n) for n in differ},
                code="backup_counts_mismatch",
            )
        with Session(bind=conn) as db:
            report = audit_verify.verify(db=db, keyring_public_keys=opened.keyring.public_keys())
    if not report.intact:
        first = report.first_break
        assert first is not None
        raise BackupRefused(
            f"备份中的访问日志链校验失败（seq {first.seq}）：{first.message}",
            f"the backed-up access log does not verify (seq {first.seq}): {first.message_en}",
            code="backup_chain_broken",
            extra={"seq": first.seq, "kind": first.kind.value},
        )
    if found["audit"] != manifest["audit"]:
        raise _refuse(
            "审计链头或检查点",
            "audit head or checkpoint",
            manifest["audit"],
            found["audit"],
            code="backup_head_mismatch",
        )
    return report


def check_sqlite_file(path: Path) -> None:
    """Refuse a SQLite file that SQLite itself finds damaged (``PRAGMA quick_check``)."""
    try:
        problem = snapshot.quick_check(path)
    except sqlite3.DatabaseError as exc:
        problem = str(exc)
    if problem != "ok":
        raise BackupRefused(
            f"备份中的 SQLite 数据库已损坏：{problem}",
            f"the backed-up SQLite database is damaged: {problem}",
            code="backup_database_damaged",
        )


@contextmanager
def scratch_copy(*, opened: Opened, settings: BackupSettings, server_url: str | None) -> Iterator[Engine]:
    """An engine on a throwaway restore of the backup's database: a temporary SQLite file, or a
    scratch database on ``server_url``'s PostgreSQL server, dropped afterwards."""
    if opened.dialect == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="govdx-backup-verify-"))
        try:
            copy = folder / "database.sqlite"
            shutil.copyfile(opened.database_file, copy)
            check_sqlite_file(copy)
            with sqlite_engine(copy) as engine:
                yield engine
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    if server_url is None or snapshot.dialect_of(server_url) != "postgresql":
        raise BackupError(
            "核验 PostgreSQL 备份需要一个 PostgreSQL 服务器：请设置 GOVDX_BACKUP_SCRATCH_URL",
            "verifying a PostgreSQL backup needs a PostgreSQL server: set GOVDX_BACKUP_SCRATCH_URL",
            code="backup_scratch_missing",
        )
    url = make_url(server_url)
    name = f"govdx_scratch_{secrets.token_hex(6)}"
    with snapshot.maintenance(url, settings) as conn:
        snapshot.create_database(conn, name, opened.manifest["database"])
    try:
        snapshot.restore_dump(
            url=url,
            database=name,
            dump_file=opened.database_file,
            dump_major=int(opened.manifest["database"]["dump_tool_major"]),
            settings=settings,
        )
        engine = make_engine(url.set(database=name).render_as_string(hide_password=False), pool_size=1)
        try:
            yield engine
        finally:
            engine.dispose()
    finally:
        with snapshot.maintenance(url, settings) as conn:
            snapshot.drop_database(conn, name)


def verify(
    *, path: Path, passphrase: str, settings: BackupSettings, server_url: str | None, step: Step = quiet
) -> tuple[Opened, VerifyReport]:
    """Everything restore checks, without restoring: the backup and its verified audit report."""
    step("open")
    opened = open_backup(path=path, passphrase=passphrase)
    step("database")
    with scratch_copy(opened=opened, settings=settings, server_url=server_url) as engine:
        step("chain")
        report = check_copy(engine=engine, opened=opened)
    return opened, report
