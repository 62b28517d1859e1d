"""Group commit of the data plane's writes: quota counts and access records, several calls a transaction.

Every data call ends in a write: its subjects counted against the grant's daily quota and its
access records appended to the chain. One transaction per call would spend most of its time on
what every transaction pays (begin, the chain head read and moved, the commit's wait for the
disk). Calls that finish their reads while a write is under way therefore queue here, and the
next writer commits all of them in one transaction (the "leader" of a group commit, as
PostgreSQL and MySQL do for their own logs).

Nothing is answered early: :func:`submit` returns only after the transaction holding the call's
records has committed, and raises if it failed (no record, no data). When a group's transaction
fails, its writes are retried one by one, so a failure fails only the calls it belongs to. A call
over its quota is refused inside the group: its usage is not counted, its refusal records are
appended instead. A call over its resource's rate limit (管控参数) is refused the same way, before
its quota is counted: its client's calls to the resource in the current window are counted in the
same transaction, so the limit holds across API workers and processes. Within a process, one group
is written at a time per engine; across processes, the chain head's row lock (PostgreSQL) or
SQLite's write lock orders them, and rate windows (by client and resource) then usage rows (by
grant) are locked in one order, so two processes' groups cannot deadlock on them.
"""

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Engine, Integer, bindparam, text
from sqlalchemy.orm import Session

from authz.audit import chain as audit_chain
from authz.audit.chain import AccessEntry
from catalog_schema.database import for_writing


@dataclass(frozen=True)
class Usage:
    """Subjects one call counts against a grant's daily quota (None: no quota)."""

    grant_id: int
    day: date
    subjects: int
    quota: int | None


@dataclass(frozen=True)
class Window:
    """One call of a client to a resource in a fixed rate-limit window of ``seconds``, at most ``limit``.

    ``start`` is the window's first second (since the epoch, UTC) that the call falls in.
    """

    client_id: str
    resource_id: int
    start: int
    seconds: int
    limit: int


@dataclass(eq=False)
class Write:
    """One call's write: its records, and the usage and rate window they are served under.

    ``over_quota(used_before)`` gives the records of the refusal when the usage does not fit;
    ``over_limit(window_end)`` those of the refusal when the window is full (``window_end`` in
    seconds since the epoch).
    """

    entries: list[AccessEntry]
    at: datetime
    usage: Usage | None = None
    over_quota: Callable[[int], list[AccessEntry]] | None = None
    window: Window | None = None
    over_limit: Callable[[int], list[AccessEntry]] | None = None
    refused_at: int | None = field(default=None, init=False)  # subjects used before, when refused
    limited: bool = field(default=False, init=False)  # refused for the rate limit
    done: bool = field(default=False, init=False)
    error: BaseException | None = field(default=None, init=False)
    _served: list[AccessEntry] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        self._served = self.entries

    def reset(self) -> None:
        """Back to what the call asked, before a (re)try decides on its rate limit and quota."""
        self.entries, self.refused_at, self.limited = self._served, None, False


# The same SQL on SQLite (3.35+) and PostgreSQL. As text it compiles once; the dialects' own
# on_conflict constructs are not cached and cost a compile on every call.
_COUNT_USAGE = (
    text(
        "INSERT INTO grant_usage (grant_id, day, calls, subjects) VALUES (:grant, :day, :calls, :count) "
        "ON CONFLICT (grant_id, day) DO UPDATE SET calls = grant_usage.calls + excluded.calls, "
        "subjects = grant_usage.subjects + excluded.subjects RETURNING subjects"
    )
    .bindparams(bindparam("day", type_=Date()))
    .columns(subjects=Integer())
)
# One row per client and resource: a call in a later window starts it again, a late one (a group
# that read its clock before another's) counts in the current one. Same SQL on both backends.
_COUNT_CALLS = text(
    "INSERT INTO rate_windows (client_id, resource_id, window_start, calls) "
    "VALUES (:client, :resource, :start, :calls) "
    "ON CONFLICT (client_id, resource_id) DO UPDATE SET "
    "calls = CASE WHEN excluded.window_start > rate_windows.window_start THEN excluded.calls "
    "ELSE rate_windows.calls + excluded.calls END, "
    "window_start = CASE WHEN excluded.window_start > rate_windows.window_start "
    "THEN excluded.window_start ELSE rate_windows.window_start END "
    "RETURNING window_start, calls"
).columns(window_start=BigInteger(), calls=Integer())
_UNCOUNT_CALLS = text(
    "UPDATE rate_windows SET calls = calls - :calls WHERE client_id = :client AND resource_id = :resource"
)
_UNCOUNT_USAGE = text(
    "UPDATE grant_usage SET calls = calls - :calls, subjects = subjects - :count "
    "WHERE grant_id = :grant AND day = :day"
).bindparams(bindparam("day", type_=Date()))


class _Group:
    """One engine's writes waiting for a transaction, and whether someone is writing a group now."""

    def __init__(self) -> None:
        self.pending: list[Write] = []
        self.writing = False
        self.turn = threading.Condition()  # guards both; notified when a group is done


_GROUPS: "weakref.WeakKeyDictionary[Engine, _Group]" = weakref.WeakKeyDictionary()
_GROUPS_MUTEX = threading.Lock()


def _group_of(db: Session) -> _Group:
    engine = db.get_bind().engine  # a Connection too, when a test binds the session to one
    with _GROUPS_MUTEX:
        group = _GROUPS.get(engine)
        if group is None:
            group = _GROUPS[engine] = _Group()
        return group


class GroupCommitFailed(RuntimeError):
    """The transaction that was to hold this call's records failed; nothing of the call was kept."""


def submit(*, db: Session, write: Write) -> Write:
    """Commit ``write`` (with whatever else is queued) before returning; raises if it could not be.

    ``db`` must have no transaction open: the caller's session writes the group when this call
    leads it. Check ``write.refused_at`` afterwards: set, the call was over quota and its refusal
    is what was recorded.
    """
    group = _group_of(db)
    with group.turn:
        group.pending.append(write)
        while group.writing and not write.done:
            group.turn.wait()
        if write.done:
            return _outcome(write)
        group.writing = True
        batch, group.pending = group.pending, []
    try:
        _commit_all(db, batch)
    finally:
        with group.turn:
            for w in batch:
                if not w.done:  # only if _commit_all itself broke off (e.g. KeyboardInterrupt)
                    w.error, w.done = GroupCommitFailed("group commit interrupted"), True
            group.writing = False
            group.turn.notify_all()
    return _outcome(write)


def _outcome(write: Write) -> Write:
    if write.error is not None:
        raise GroupCommitFailed(f"access records not committed: {write.error!r}") from write.error
    return write


def _commit_all(db: Session, batch: list[Write]) -> None:
    """Commit ``batch`` in one transaction; if that fails, each write in its own (one failure, one call)."""
    try:
        _transaction(db, batch)
    except Exception as exc:
        if len(batch) == 1:
            batch[0].error, batch[0].done = exc, True
            return
        for w in batch:
            _commit_all(db, [w])
        return
    for w in batch:
        w.done = True


def _transaction(db: Session, batch: list[Write]) -> None:
    """Count usage, append records (in the calls' order of time) and commit; roll back on any failure."""
    try:
        for w in batch:
            w.reset()
        for_writing(db)
        _count_calls(db, batch)
        _count_usage(db, batch)
        entries = [(entry, w.at) for w in sorted(batch, key=lambda w: w.at) for entry in w.entries]
        audit_chain.append_timed(db=db, entries=entries)
        db.commit()
    except BaseException:
        try:
            db.rollback()
        finally:
            for w in batch:
                w.reset()
        raise


def _count_calls(db: Session, batch: list[Write]) -> None:
    """One upsert per client and resource; the calls past the window's limit, in order, are refused."""
    by_pair: dict[tuple[str, int], list[Write]] = {}
    for w in batch:
        if w.window is not None:
            by_pair.setdefault((w.window.client_id, w.window.resource_id), []).append(w)
    conn = db.connection()
    for (client_id, resource_id), writes in sorted(by_pair.items(), key=lambda item: item[0]):
        key = {"client": client_id, "resource": resource_id}
        start = max(w.window.start for w in writes if w.window is not None)
        row = conn.execute(_COUNT_CALLS, {**key, "start": start, "calls": len(writes)}).one()
        before, refused = row.calls - len(writes), 0
        for w in writes:
            assert w.window is not None and w.over_limit is not None
            if before + 1 > w.window.limit:
                w.limited = True
                w.entries = w.over_limit(row.window_start + w.window.seconds)
                refused += 1
            else:
                before += 1
        if refused:
            conn.execute(_UNCOUNT_CALLS, {**key, "calls": refused})


def _count_usage(db: Session, batch: list[Write]) -> None:
    """One upsert per grant and day; the calls that do not fit under the quota, in order, are refused."""
    by_grant: dict[tuple[int, date], list[Write]] = {}
    for w in batch:
        if w.usage is not None and not w.limited:
            by_grant.setdefault((w.usage.grant_id, w.usage.day), []).append(w)
    conn = db.connection()
    # Grants in one order, so two processes' groups never wait for each other's usage rows.
    for (grant_id, day), writes in sorted(by_grant.items(), key=lambda item: item[0]):
        asked = sum(w.usage.subjects for w in writes if w.usage is not None)
        key = {"grant": grant_id, "day": day}
        used = int(conn.execute(_COUNT_USAGE, {**key, "calls": len(writes), "count": asked}).scalar_one())
        if all(w.usage is None or w.usage.quota is None or used <= w.usage.quota for w in writes):
            continue
        before, refused_calls, refused_subjects = used - asked, 0, 0
        for w in writes:
            assert w.usage is not None and w.over_quota is not None
            quota = w.usage.quota
            if quota is not None and before + w.usage.subjects > quota:
                w.refused_at = before
                w.entries = w.over_quota(before)
                refused_calls, refused_subjects = refused_calls + 1, refused_subjects + w.usage.subjects
            else:
                before += w.usage.subjects
        if refused_calls:
            conn.execute(_UNCOUNT_USAGE, {**key, "calls": refused_calls, "count": refused_subjects})
