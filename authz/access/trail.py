"""A data call's trail in the access log, and the transaction that writes it: no record, no data.

The data plane owns its transactions (``lookup.lookup``, ``lookup.batch`` and
``export.open_export`` commit): a refusal rolls back whatever the call had done, then appends its
access record, commits, and is raised (:func:`record_refusal`); a served call commits its usage and
its access records together before anything is returned (:func:`commit_served`), so a failed
append means no data. The checks and reads run in a read transaction; only the rate-limit and
quota counts, the records and the commit take the write lock, each write one of a group commit's
(``authz.access.group_commit``). A served call writes one record per subject, all with the call's
request id, so an auditor searching a subject finds batch calls too.
"""

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from authz.access import group_commit
from authz.access.exceptions import Denial, Refused
from authz.access.group_commit import Usage, Window, Write
from authz.access.schemas import Call
from authz.audit.chain import AccessEntry
from authz.calendar.service import local_date
from authz.types import AccessMode, AccessOutcome, AccessReason
from catalog_schema.database import utcnow
from catalog_schema.resource.controls import RateLimit

# access_records.resource_code; an unknown code is logged cut to fit, and refused as unavailable.
_RESOURCE_MAX = 40


@dataclass
class Trail:
    """What is known of a call so far: a refusal is recorded with all of it."""

    call: Call
    mode: AccessMode
    resource_code: str | None
    items: list[str]
    keys: int = 0
    client_id: str | None = None
    department_id: int | None = None
    grant_id: int | None = None
    fingerprints: list[str] = field(default_factory=list)

    @classmethod
    def begin(cls, call: Call, mode: AccessMode, resource_code: str, items: list[str]) -> "Trail":
        """The trail of a call for ``resource_code``, cut to what the access log holds."""
        return cls(call=call, mode=mode, resource_code=resource_code[:_RESOURCE_MAX], items=items)

    def entry(self, outcome: AccessOutcome, **fields: Any) -> AccessEntry:
        call = self.call
        return AccessEntry(
            mode=self.mode.value,
            outcome=outcome.value,
            request_id=call.request_id,
            client_id=self.client_id,
            department_id=self.department_id,
            operator=call.operator,
            grant_id=self.grant_id,
            purpose_ref=call.purpose,
            resource_code=self.resource_code,
            client_ip=call.client_ip,
            items=list(self.items),
            **fields,
        )

    def refusals(self, denial: Denial) -> list[AccessEntry]:
        """One record per subject named (when the keys could be read), else one for the call."""
        common = {"reason_code": denial.reason.value, "reason": denial.message}
        if not self.fingerprints:
            return [self.entry(denial.outcome, subjects=self.keys, **common)]
        return [
            self.entry(denial.outcome, subject_fingerprint=f, subjects=1, **common) for f in self.fingerprints
        ]


def record_refusal(db: Session, trail: Trail, denial: Denial, at: datetime) -> None:
    """Undo whatever the call did, then log the refusal (or the provider's failure) and commit it."""
    db.rollback()
    group_commit.submit(db=db, write=Write(entries=trail.refusals(denial), at=at))


def record_unread(
    db: Session,
    *,
    mode: AccessMode,
    request_id: str,
    client_ip: str | None,
    reason: AccessReason,
    message: str,
) -> None:
    """Log a call refused before it could be read (a body too large or malformed): what the door saw.

    Nothing about the caller is believed yet (its token is not read), so the record names none.
    """
    entry = AccessEntry(
        mode=mode.value,
        outcome=AccessOutcome.refused.value,
        request_id=request_id,
        client_ip=client_ip,
        reason_code=reason.value,
        reason=message,
    )
    group_commit.submit(db=db, write=Write(entries=[entry], at=utcnow()))


def _over_quota(quota: int | None, before: int, count: int) -> Refused:
    """The refusal of a call whose ``count`` subjects do not fit in what is left of the daily quota."""
    return Refused(
        AccessReason.over_quota,
        f"每日限额 {quota} 个主体，今日已用 {before}，本次 {count}",
        f"the daily quota is {quota} subjects; {before} used today, {count} asked",
        extra={"quota": quota, "used": before, "requested": count},
    )


def _over_limit(window: Window, at: datetime, window_end: int) -> Refused:
    """The refusal of a call past its resource's rate limit: 429, retry when the window ends."""
    limit = RateLimit(calls=window.limit, seconds=window.seconds).text
    retry_after = max(1, math.ceil(window_end - at.timestamp()))
    return Refused(
        AccessReason.rate_limited,
        f"调用频率限制 {limit}，请 {retry_after} 秒后重试",
        f"the rate limit is {limit}; retry in {retry_after} s",
        extra={"rate_limit": limit, "retry_after": retry_after},
    )


def commit_served(
    db: Session,
    trail: Trail,
    entries: list[AccessEntry],
    at: datetime,
    *,
    grant_id: int,
    quota: int | None,
    count: int,
    window: Window | None = None,
) -> None:
    """Count the call in its rate window and ``count`` subjects against the grant's quota, and commit
    the call's records; raise if over either.

    The read transaction ends first: the write is one of a group commit's.
    """
    db.rollback()
    denial: Refused | None = None

    def over_quota(before: int) -> list[AccessEntry]:
        nonlocal denial
        denial = _over_quota(quota, before, count)
        return trail.refusals(denial)

    def over_limit(window_end: int) -> list[AccessEntry]:
        nonlocal denial
        assert window is not None
        denial = _over_limit(window, at, window_end)
        return trail.refusals(denial)

    usage = Usage(grant_id=grant_id, day=local_date(at), subjects=count, quota=quota)
    write = group_commit.submit(
        db=db,
        write=Write(
            entries=entries, at=at, usage=usage, over_quota=over_quota, window=window, over_limit=over_limit
        ),
    )
    if (write.refused_at is not None or write.limited) and denial is not None:
        raise denial
