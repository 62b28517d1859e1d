"""Group commit of data calls: quotas decided in queue order, one failing write fails alone, races count."""

import threading
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from authz.access import group_commit, lookup
from authz.access.exceptions import Refused
from authz.access.group_commit import Usage, Write
from authz.access.models import GrantUsage
from authz.access.schemas import Call, LookupIn
from authz.audit import verify as audit_verify
from authz.audit.chain import AccessEntry
from authz.audit.models import AccessRecord
from authz.calendar.service import local_date
from catalog_schema.database import utcnow
from catalog_schema.keys.service import Keyring
from demo import catalog as demo_catalog
from tests import factories
from tests.conftest import TEST_SECRET

THREADS = 8
QUOTA = 5


def _write(grant_id: int, request_id: str, subjects: int, at: datetime) -> Write:
    """A served call's write of ``subjects`` subjects, whose refusal is one over_quota record."""
    served = AccessEntry(
        mode="lookup", outcome="served", request_id=request_id, grant_id=grant_id, subjects=subjects
    )
    refused = AccessEntry(
        mode="lookup", outcome="refused", request_id=request_id, grant_id=grant_id, reason_code="over_quota"
    )
    usage = Usage(grant_id=grant_id, day=local_date(at), subjects=subjects, quota=QUOTA)
    return Write(entries=[served], at=at, usage=usage, over_quota=lambda _before: [refused])


def _queue_behind(session: Session, *writes: Write) -> None:
    """Writes other calls queued before this one (the group the next writer takes)."""
    group_commit._group_of(session).pending.extend(writes)


def _outcomes(db: Session) -> dict[str, str]:
    return {
        r.request_id: r.outcome for r in db.execute(select(AccessRecord.request_id, AccessRecord.outcome))
    }


def test_a_group_refuses_in_queue_order_only_the_calls_that_no_longer_fit(
    db: Session, log: Session, session_factory: sessionmaker[Session]
) -> None:
    grant = factories.grant(db, daily_quota=QUOTA)
    db.flush()
    now = utcnow()
    first, second, third = (_write(grant.id, name, n, now) for name, n in (("a", 3), ("b", 3), ("c", 2)))

    with session_factory() as session:
        _queue_behind(session, first, second)
        group_commit.submit(db=session, write=third)

    usage = db.execute(
        select(GrantUsage.calls, GrantUsage.subjects).where(GrantUsage.grant_id == grant.id)
    ).one()
    assert (first.refused_at, second.refused_at, third.refused_at) == (None, 3, None)
    assert tuple(usage) == (2, 5)
    assert _outcomes(db) == {"a": "served", "b": "refused", "c": "served"}


def test_a_write_that_fails_fails_alone_and_the_rest_of_its_group_commits(
    db: Session, log: Session, session_factory: sessionmaker[Session], keyring: Keyring
) -> None:
    now = utcnow()
    broken = Write(entries=[AccessEntry(mode=None, outcome="served", request_id="broken")], at=now)  # type: ignore[arg-type]
    fine = Write(entries=[AccessEntry(mode="lookup", outcome="served", request_id="fine")], at=now)

    with session_factory() as session:
        _queue_behind(session, broken)
        group_commit.submit(db=session, write=fine)

    assert broken.done and isinstance(broken.error, IntegrityError)
    assert fine.done and fine.error is None
    assert _outcomes(db) == {"fine": "served"}
    assert audit_verify.verify(db=db, keyring_public_keys=keyring.public_keys()).intact


def test_concurrent_calls_on_one_quota_serve_exactly_the_quota_and_log_every_call(
    fresh_engine: Engine, keyring: Keyring
) -> None:
    with Session(fresh_engine) as db:
        demo_catalog.seed(db)
        grant = factories.grant(db, daily_quota=QUOTA)
        system, _ = factories.api_client(db)
        keys = []
        for seed in range(THREADS):
            values = factories.person(seed)
            factories.library_record(db, "population", [values["population.id_number"]], values)
            keys.append(values["population.id_number"])
        db.commit()
        token = factories.client_headers(system, ttl=timedelta(minutes=10))["Authorization"].removeprefix(
            "Bearer "
        )
        grant_id, resource, purpose = grant.id, grant.resource.code, grant.request_number

    barrier, answers, failures = threading.Barrier(THREADS), [], []

    def call(n: int) -> None:
        data = LookupIn(resource=resource, key=keys[n])
        who = Call(token=token, purpose=purpose, operator=None, request_id=f"r{n}", client_ip="127.0.0.1")
        try:
            barrier.wait(timeout=30)
            with Session(fresh_engine) as session:
                lookup.lookup(db=session, secret=TEST_SECRET, call=who, data=data)
            answers.append("served")
        except Refused as refused:
            answers.append(refused.reason.value)
        except Exception as exc:  # anything else is the failure this test is about
            failures.append(repr(exc))

    threads = [threading.Thread(target=call, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    with Session(fresh_engine) as db:
        usage = db.execute(
            select(GrantUsage.calls, GrantUsage.subjects).where(GrantUsage.grant_id == grant_id)
        ).one()
        outcomes = sorted(db.scalars(select(AccessRecord.outcome)))
        report = audit_verify.verify(db=db, keyring_public_keys=keyring.public_keys())
    assert failures == []
    assert sorted(answers) == ["over_quota"] * (THREADS - QUOTA) + ["served"] * QUOTA
    assert tuple(usage) == (QUOTA, QUOTA)
    assert outcomes == ["refused"] * (THREADS - QUOTA) + ["served"] * QUOTA
    assert report.intact, report.breaks
