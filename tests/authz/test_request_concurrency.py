"""Two approvers deciding the same request at once: one decision wins, the other is told it is taken."""

import threading

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from authz.sharing import service as sharing_service
from authz.sharing.models import Grant, SharingRequest
from authz.sharing.schemas import RequestCreate, TransitionIn
from authz.types import RequestAction
from catalog_schema.database import for_writing
from catalog_schema.errors import GovdxError
from catalog_schema.user import service as user_service
from catalog_schema.user.models import User
from tests import factories


def _decide(
    engine: Engine, request_id: int, username: str, barrier: threading.Barrier, out: list[str]
) -> None:
    try:
        with Session(engine) as session:
            barrier.wait(timeout=10)
            for_writing(session)
            user = user_service.get_by_username(db=session, username=username)
            request = sharing_service.get(db=session, request_id=request_id, user=user, lock=True)
            sharing_service.act(
                db=session, request=request, action=RequestAction.approve, data=TransitionIn(), user=user
            )
            session.commit()
            out.append("granted")
    except GovdxError as error:
        out.append(error.code)
    except Exception as exc:  # anything else is the failure this test is about
        out.append(repr(exc))


def test_two_approvers_at_once_grant_once(engine: Engine) -> None:
    with Session(engine) as session:
        for_writing(session)
        factories.user(session, "gongan_approver2", "dept_approver", "gongan")
        requester = user_service.get_by_username(db=session, username="requester")
        admin = user_service.get_by_username(db=session, username="catalog_admin")
        assert requester is not None and admin is not None
        request = sharing_service.submit(
            db=session, data=RequestCreate(**factories.sharing_request()), user=requester
        )
        sharing_service.act(
            db=session, request=request, action=RequestAction.accept, data=TransitionIn(), user=admin
        )
        session.commit()
        request_id = request.id
    barrier, outcomes = threading.Barrier(2), []
    threads = [
        threading.Thread(target=_decide, args=(engine, request_id, name, barrier, outcomes))
        for name in ("approver", "gongan_approver2")
    ]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        with Session(engine) as session:
            grants = session.query(Grant).filter(Grant.request_id == request_id).count()
        assert (sorted(outcomes), grants) == (["granted", "transition_invalid"], 1)
    finally:
        with Session(engine) as session:
            session.execute(delete(SharingRequest).where(SharingRequest.id == request_id))
            session.execute(delete(User).where(User.username == "gongan_approver2"))
            session.commit()
