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
over its quota is refused inside the group: its usage is taken back, its refusal records are
appended instead. A call over its resource's rate limit (管控参数) is refused the same way, before
its quota is decided: its client's calls to the resource in the current window are counted in the
same transaction, so the limit holds across API workers and processes. Within a process, one group
is written at a time per engine; across processes, the rows a group locks (rate windows by client
and resource, usage rows by grant and day, then the chain head; SQLite: its write lock) order
them, always taken in that order, so two processes' groups cannot deadlock on them.
"""

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Date, Engine, Integer, bindparam, text
from sqlalchemy.orm import Session

from authz.audit import chain as audit_chain
from authz.audit.chain import AccessEntry
from catalog_schema import rounds
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
    """Count, decide, append (in the calls' order of time) and commit, in two rounds; roll back on failure.

    Round one counts every call in its rate window and every served subject against its quota, and
    reads the chain head for update; the refusals are then decided in Python from what the counts
    returned; round two takes back what the refused calls had counted, appends the records after
    the head and commits. On PostgreSQL each round is one round trip (``catalog_schema.rounds``):
    the hot rows are locked from the first round to the commit, so every round trip inside is time
    the other workers' groups wait (bench-api, several workers).
    """
    try:
        for w in batch:
            w.reset()
        for_writing(db)
        conn = db.connection()
        counts = _Counts(batch)
        *counted, head = rounds.run(conn, [*counts.steps(), audit_chain.read_head()])
        taken_back = counts.settle(counted)
        entries = [(entry, w.at) for w in sorted(batch, key=lambda w: w.at) for entry in w.entries]
        chained = audit_chain.chain(entries, after=audit_chain.head_read(head))
        rounds.run(conn, [*taken_back, *audit_chain.writes(chained)], commit=True)
        db.commit()
    except BaseException:
        try:
            db.rollback()
        finally:
            for w in batch:
                w.reset()
        raise


class _Counts:
    """A group's rate-window and quota counts: the upserts of round one, and what they decide.

    Rate windows (by client and resource), then usage rows (by grant and day), each in one order,
    so two processes' groups never wait for each other's rows the other way round. Every call with
    a usage is counted, the rate-limited ones too, so the counts need no answer from one another
    (one round); the refused calls' counts are taken back in round two.
    """

    def __init__(self, batch: list[Write]) -> None:
        self.pairs: dict[tuple[str, int], list[Write]] = {}
        self.grants: dict[tuple[int, date], list[Write]] = {}
        for w in batch:
            if w.window is not None:
                self.pairs.setdefault((w.window.client_id, w.window.resource_id), []).append(w)
            if w.usage is not None:
                self.grants.setdefault((w.usage.grant_id, w.usage.day), []).append(w)
        self.pairs = dict(sorted(self.pairs.items(), key=lambda item: item[0]))
        self.grants = dict(sorted(self.grants.items(), key=lambda item: item[0]))

    def steps(self) -> list[rounds.Step]:
        """One upsert per client and resource, then one per grant and day."""
        steps = []
        for (client_id, resource_id), writes in self.pairs.items():
            start = max(w.window.start for w in writes if w.window is not None)
            params = {"client": client_id, "resource": resource_id, "start": start, "calls": len(writes)}
            steps.append(rounds.Step(_COUNT_CALLS, params, returns=True))
        for (grant_id, day), writes in self.grants.items():
            asked = sum(w.usage.subjects for w in writes if w.usage is not None)
            params = {"grant": grant_id, "day": day, "calls": len(writes), "count": asked}
            steps.append(rounds.Step(_COUNT_USAGE, params, returns=True))
        return steps

    def settle(self, counted: list[list[Any]]) -> list[rounds.Step]:
        """Refuse, in order, the calls past a window's limit, then those past a quota; what to take back."""
        results = iter(counted)
        taken_back = []
        for (client_id, resource_id), writes in self.pairs.items():
            window_start, calls = next(results)[0]
            refused = _limit(writes, before=calls - len(writes), window_start=window_start)
            if refused:
                params = {"client": client_id, "resource": resource_id, "calls": refused}
                taken_back.append(rounds.Step(_UNCOUNT_CALLS, params))
        for (grant_id, day), writes in self.grants.items():
            (used,) = next(results)[0]
            refused_calls, refused_subjects = _quota(writes, used=used)
            if refused_calls:
                params = {"grant": grant_id, "day": day, "calls": refused_calls, "count": refused_subjects}
                taken_back.append(rounds.Step(_UNCOUNT_USAGE, params))
        return taken_back


def _limit(writes: list[Write], *, before: int, window_start: int) -> int:
    """Refuse the calls past the window's limit, in order (``before``: calls counted ahead of them)."""
    refused = 0
    for w in writes:
        assert w.window is not None and w.over_limit is not None
        if before + 1 > w.window.limit:
            w.limited = True
            w.entries = w.over_limit(window_start + w.window.seconds)
            refused += 1
        else:
            before += 1
    return refused


def _quota(writes: list[Write], *, used: int) -> tuple[int, int]:
    """Refuse the calls that do not fit under the quota, in order; (calls, subjects) to take back.

    ``used`` counts every write of the group, the rate-limited ones included: those take back what
    they counted and are not refused twice.
    """
    counted = sum(w.usage.subjects for w in writes if w.usage is not None)
    before = used - counted
    refused_calls = refused_subjects = 0
    for w in writes:
        assert w.usage is not None
        quota = w.usage.quota
        if w.limited:
            refused_calls, refused_subjects = refused_calls + 1, refused_subjects + w.usage.subjects
        elif quota is not None and before + w.usage.subjects > quota:
            assert w.over_quota is not None
            w.refused_at = before
            w.entries = w.over_quota(before)
            refused_calls, refused_subjects = refused_calls + 1, refused_subjects + w.usage.subjects
        else:
            before += w.usage.subjects
    return refused_calls, refused_subjects
