"""The in-app inbox: workflow messages, yellow and red warnings, 督办."""

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import CurrentUser, DbSession, Paging, RowId, requires
from authz.clock import notify
from authz.clock.schemas import NotificationRead
from authz.permissions import InboxRead
from catalog_schema.pagination import Page, page_of

router = APIRouter(tags=["inbox 消息"])


@router.get(
    "/inbox",
    response_model=Page[NotificationRead],
    dependencies=[requires(InboxRead)],
    summary="我的消息 / my inbox, newest first",
)
def list_inbox(
    db: DbSession,
    user: CurrentUser,
    paging: Paging,
    unread: Annotated[bool, Query(description="只看未读 / unread only")] = False,
) -> Page[NotificationRead]:
    found, total = notify.inbox(db=db, user=user, params=paging, unread_only=unread)
    return page_of([NotificationRead.for_reader(n, read_at) for n, read_at in found], total, paging)


@router.post(
    "/inbox/{notification_id}/read",
    response_model=NotificationRead,
    dependencies=[requires(InboxRead)],
    summary="标为已读 / mark read",
)
def mark_read(db: DbSession, user: CurrentUser, notification_id: RowId) -> NotificationRead:
    return NotificationRead.for_reader(*notify.mark_read(db=db, user=user, notification_id=notification_id))
