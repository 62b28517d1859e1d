"""Rounds of statements: one round trip on PostgreSQL, the same results everywhere, errors as SQLAlchemy's."""

from typing import Any, cast

import pytest
from sqlalchemy import Engine, Table, bindparam, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from authz.audit.models import AuditHead
from catalog_schema import rounds
from catalog_schema.rounds import Step

_HEAD = cast(Table, AuditHead.__table__)
_SEQ = select(_HEAD.c.seq).where(_HEAD.c.id == 1)  # the 1 is bound in the statement itself
_MOVE = update(_HEAD).where(_HEAD.c.id == 1).values(seq=bindparam("seq"))
_SECOND_HEAD = text("INSERT INTO audit_head (id, seq, hash) VALUES (:id, 0, :hash)")


def _seq(engine: Engine) -> Any:
    with Session(engine) as db:
        return db.scalar(_SEQ)


def _set_seq(engine: Engine, seq: int) -> None:
    with Session(engine) as db:
        db.execute(_MOVE, {"seq": seq})
        db.commit()


def test_a_round_returns_each_steps_rows_in_order_and_commits_with_it(fresh_engine: Engine) -> None:
    _set_seq(fresh_engine, 0)
    with Session(fresh_engine) as db:
        before, moved, after = rounds.run(
            db.connection(),
            [Step(_SEQ, {}, returns=True), Step(_MOVE, {"seq": 7}), Step(_SEQ, {}, returns=True)],
            commit=True,
        )
        db.commit()

    assert (before[0][0], moved, after[0][0]) == (0, [], 7)
    assert _seq(fresh_engine) == 7


def test_a_failing_step_raises_sqlalchemys_error_and_its_round_is_not_kept(
    fresh_engine: Engine,
) -> None:
    _set_seq(fresh_engine, 3)
    with Session(fresh_engine) as db:
        with pytest.raises(IntegrityError):
            rounds.run(
                db.connection(),
                [Step(_MOVE, {"seq": 99}), Step(_SECOND_HEAD, {"id": 1, "hash": "x"})],
                commit=True,
            )
        db.rollback()

    assert _seq(fresh_engine) == 3


def test_an_empty_executemany_step_is_skipped(fresh_engine: Engine) -> None:
    with Session(fresh_engine) as db:
        results = rounds.run(db.connection(), [Step(_SECOND_HEAD, []), Step(_SEQ, {}, returns=True)])
        db.rollback()

    assert results[0] == [] and len(results[1]) == 1


def test_a_lost_connection_is_invalidated_and_the_next_round_gets_a_new_one(fresh_engine: Engine) -> None:
    if fresh_engine.dialect.name != "postgresql":
        pytest.skip("a server's connection")
    with Session(fresh_engine) as db:
        conn = db.connection()
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with fresh_engine.connect() as admin:
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(OperationalError) as lost:
            rounds.run(conn, [Step(_SEQ, {}, returns=True)])
        db.rollback()

        (rows,) = rounds.run(db.connection(), [Step(_SEQ, {}, returns=True)])

    assert lost.value.connection_invalidated and len(rows) == 1
