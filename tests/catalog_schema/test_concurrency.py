"""Concurrent writers: generated codes stay unique and sequential, one source stays one."""

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, event, select, text
from sqlalchemy.orm import Session, sessionmaker

from api.main import create_app
from catalog_schema.database import for_writing
from catalog_schema.element import service as element_service
from catalog_schema.element.models import DataElement, OwnershipTransfer
from catalog_schema.element.schemas import ElementCreate
from catalog_schema.errors import Conflict
from catalog_schema.resource import service as resource_service
from catalog_schema.resource.models import Resource
from catalog_schema.resource.schemas import ResourceCreate
from catalog_schema.user import service as user_service
from demo import catalog as demo_catalog
from tests import factories
from tests.conftest import bearer

WRITERS = 6
CATEGORY = {"class": "department", "item": "99", "catalog": "999"}
WAIT_SECONDS = 10

WAITING_FOR_A_LOCK = text(
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


@contextmanager
def blocked_writer(engine: Engine) -> Iterator[Callable[[], None]]:
    """``wait()`` returns once a writer on another thread is held up by this thread's transaction.

    PostgreSQL shows the wait itself: a backend of this database waiting on a lock (polled with a
    deadline). SQLite does not; there ``wait()`` returns once another thread has sent its BEGIN
    IMMEDIATE, which cannot complete before this thread commits (busy_timeout). Committing in the
    instant before that statement reaches SQLite would let it see the committed data, the same
    outcome these tests expect on SQLite.
    """
    caller = threading.current_thread()
    began = threading.Event()

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement == "BEGIN IMMEDIATE" and threading.current_thread() is not caller:
            began.set()

    def wait() -> None:
        if engine.dialect.name == "postgresql":
            deadline = time.monotonic() + WAIT_SECONDS
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                while not conn.scalar(WAITING_FOR_A_LOCK):
                    assert time.monotonic() < deadline, "no writer waited for our lock"
                    time.sleep(0.01)
        else:
            assert began.wait(timeout=WAIT_SECONDS), "no writer began on another thread"

    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        yield wait
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)


def _register(engine, index, barrier, codes, errors):
    data = ResourceCreate(**factories.resource(name=f"并发登记 {index}", category=CATEGORY))
    try:
        with Session(engine) as session:
            barrier.wait(timeout=10)
            for_writing(session)
            codes.append(resource_service.create(db=session, data=data).code)
            session.commit()
    except Exception as exc:
        errors.append(repr(exc))


def test_concurrent_registrations_in_one_classification_get_distinct_codes(engine):
    barrier, codes, errors = threading.Barrier(WRITERS), [], []
    threads = [
        threading.Thread(target=_register, args=(engine, i, barrier, codes, errors)) for i in range(WRITERS)
    ]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)

        assert errors == []
        assert sorted(codes) == [f"399999/{n:06d}" for n in range(1, WRITERS + 1)]
    finally:
        with Session(engine) as session:
            session.execute(delete(Resource).where(Resource.classification_code == "399999"))
            session.commit()
            assert session.scalar(select(Resource.id).where(Resource.classification_code == "399999")) is None


def test_element_registered_by_a_concurrent_writer_is_a_409_not_a_500(engine, settings):
    """Another transaction inserts the same element code and commits while our request is in flight.

    On PostgreSQL our pre-check cannot see the uncommitted row, so the insert meets the unique
    index (the API's concurrent_conflict); on SQLite the request waits for the writer's lock and
    then sees the row (element_duplicate). Either way: 409, one element.
    """
    app = create_app(settings, session_factory=sessionmaker(bind=engine, expire_on_commit=False))
    body = factories.element(code="population.race_test")
    responses = []
    with Session(engine) as other:  # not the `db` fixture: its open transaction would hold the lock
        admin = user_service.get_by_username(db=other, username="catalog_admin")
        headers = bearer(admin.username, role=admin.role.value, department_id=admin.department_id)
        other.commit()
        element_service.create(db=other, data=ElementCreate(**body))  # inserted, not committed
        with TestClient(app) as client, blocked_writer(engine) as request_is_blocked:
            request = threading.Thread(
                target=lambda: responses.append(client.post("/api/v1/elements", headers=headers, json=body))
            )
            request.start()
            request_is_blocked()  # by the other writer's uncommitted element
            other.commit()
            request.join(timeout=30)
    try:
        expected = "concurrent_conflict" if engine.dialect.name == "postgresql" else "element_duplicate"
        assert [(r.status_code, r.json()["code"]) for r in responses] == [(409, expected)]
    finally:
        with Session(engine) as session:
            session.execute(delete(DataElement).where(DataElement.code == "population.race_test"))
            session.commit()


def test_logging_in_does_not_wait_for_a_writer(engine, settings):
    app = create_app(settings, session_factory=sessionmaker(bind=engine, expire_on_commit=False))
    with Session(engine) as writer, TestClient(app) as client:
        for_writing(writer)  # holds SQLite's write lock (PostgreSQL: just an open transaction)
        started = time.monotonic()
        response = client.post(
            "/api/v1/auth/token", data={"username": "auditor", "password": demo_catalog.DEMO_PASSWORD}
        )
        waited = time.monotonic() - started
        writer.rollback()

    assert response.status_code == 200
    assert waited < 5


def test_withdrawing_a_source_that_a_concurrent_transfer_made_owner_is_refused(engine):
    """A withdrawal waits for the element lock, then sees that its target has become the owner."""
    with Session(engine) as transferring:
        for_writing(transferring)
        element = element_service.get_by_code(db=transferring, code="certificate.expiry_date")
        owner_before = element.authoritative_source.department
        target = next(s.department for s in element.verification_sources)
        element_service.transfer_ownership(
            db=transferring, element=element, to_department=target, reason="测试"
        )
        outcome = []

        def withdraw() -> None:
            with Session(engine) as withdrawing:
                for_writing(withdrawing)
                try:
                    other = element_service.get_by_code(db=withdrawing, code="certificate.expiry_date")
                    element_service.remove_source(db=withdrawing, element=other, department=target)
                    withdrawing.commit()
                    outcome.append("removed")
                except Conflict as exc:
                    outcome.append(exc.code)

        with blocked_writer(engine) as withdrawal_is_blocked:
            thread = threading.Thread(target=withdraw)
            thread.start()
            withdrawal_is_blocked()  # by the transfer's lock on the element
            transferring.commit()
        thread.join(timeout=30)
    try:
        assert outcome == ["authoritative_source_removal"]
    finally:
        with Session(engine) as session:  # put the shared database back as the demo had it
            element = element_service.get_by_code(db=session, code="certificate.expiry_date")
            department = session.merge(owner_before)
            element_service.transfer_ownership(
                db=session, element=element, to_department=department, reason="还原"
            )
            session.execute(delete(OwnershipTransfer).where(OwnershipTransfer.element_id == element.id))
            session.commit()
