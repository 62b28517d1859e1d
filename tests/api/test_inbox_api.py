"""The inbox through the API: a user reads its own messages and its department's addressed to its
role or to everyone in it, never another department's; marking read, which is each person's own;
the unread filter."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from authz.clock import notify
from authz.clock.models import NotificationReceipt
from authz.types import NotificationKind
from catalog_schema.department.models import Department
from catalog_schema.user import service as user_service
from catalog_schema.user.roles import Role
from tests import factories

AT = datetime(2026, 10, 9, 1, 0, tzinfo=UTC)


@pytest.fixture
def messages(db):
    """Messages around 公安's approver (demo user "approver"), by title."""
    gongan = db.scalar(select(Department).where(Department.slug == "gongan"))
    renshe = db.scalar(select(Department).where(Department.slug == "renshe"))
    approver = user_service.get_by_username(db=db, username="approver")

    def post(title, department, **to):
        kind = NotificationKind.due_soon
        return notify.post(
            db=db, department_id=department.id, kind=kind, title=title, body="正文", at=AT, **to
        )

    found = {
        "approvers": post("公安审批人", gongan, role=Role.dept_approver),
        "everyone": post("公安全体", gongan),
        "personal": post("给王审批", gongan, user_id=approver.id),
        "other_role": post("公安经办人", gongan, role=Role.dept_requester),
        "other_department": post("人社审批人", renshe, role=Role.dept_approver),
    }
    db.flush()
    return found


def _titles(body):
    return {item["title"] for item in body["items"]}


def test_a_user_sees_its_own_its_roles_and_its_whole_departments_messages_only(client, as_user, messages):
    body = client.get("/api/v1/inbox", headers=as_user("approver")).json()

    assert _titles(body) == {"公安审批人", "公安全体", "给王审批"}
    assert body["total"] == 3


def test_an_inbox_entry_shows_its_kind_with_the_chinese_label(client, as_user, messages):
    body = client.get("/api/v1/inbox", headers=as_user("approver"), params={"page_size": 1}).json()

    [item] = body["items"]
    assert item["kind"] == {"value": "due_soon", "label": "黄牌预警"}
    assert (body["total"], body["pages"]) == (3, 3)
    assert item["read_at"] is None


def test_marking_read_records_the_time_and_the_unread_filter_leaves_it_out(client, as_user, messages):
    headers = as_user("approver")

    response = client.post(f"/api/v1/inbox/{messages['everyone'].id}/read", headers=headers)
    unread = client.get("/api/v1/inbox", headers=headers, params={"unread": True}).json()

    assert response.status_code == 200
    assert response.json()["read_at"] is not None
    assert _titles(unread) == {"公安审批人", "给王审批"}


def test_marking_read_twice_keeps_the_first_time(client, as_user, messages):
    headers = as_user("approver")
    url = f"/api/v1/inbox/{messages['approvers'].id}/read"

    first = client.post(url, headers=headers).json()
    again = client.post(url, headers=headers)

    assert again.status_code == 200
    assert again.json()["read_at"] == first["read_at"]


def test_a_role_wide_message_read_by_one_approver_is_still_unread_for_another(client, as_user, messages, db):
    factories.user(db, "ga_approver2", "dept_approver", "gongan")
    client.post(f"/api/v1/inbox/{messages['approvers'].id}/read", headers=as_user("approver"))

    unread = client.get("/api/v1/inbox", headers=as_user("ga_approver2"), params={"unread": True}).json()

    assert "公安审批人" in _titles(unread)
    [entry] = [item for item in unread["items"] if item["title"] == "公安审批人"]
    assert entry["read_at"] is None


def test_the_auditor_marking_a_department_message_read_changes_nothing_for_anyone_else(client, as_user, db):
    shujuju = db.scalar(select(Department).where(Department.slug == "shujuju"))
    notice = notify.post(
        db=db,
        department_id=shujuju.id,
        kind=NotificationKind.due_soon,
        title="数据局全体",
        body="正文",
        at=AT,
    )
    db.flush()

    client.post(f"/api/v1/inbox/{notice.id}/read", headers=as_user("auditor"))
    admin = client.get("/api/v1/inbox", headers=as_user("catalog_admin"), params={"unread": True}).json()

    assert "数据局全体" in _titles(admin)


def test_marking_another_departments_message_is_a_404_and_changes_nothing(client, as_user, messages, db):
    other = messages["other_department"]

    response = client.post(f"/api/v1/inbox/{other.id}/read", headers=as_user("approver"))

    assert (response.status_code, response.json()["code"]) == (404, "notification_not_found")
    assert (
        db.scalars(select(NotificationReceipt).where(NotificationReceipt.notification_id == other.id)).all()
        == []
    )


def test_marking_another_roles_message_is_a_404(client, as_user, messages):
    response = client.post(f"/api/v1/inbox/{messages['other_role'].id}/read", headers=as_user("approver"))

    assert (response.status_code, response.json()["code"]) == (404, "notification_not_found")


def test_a_department_system_has_no_inbox(client, as_user):
    response = client.get("/api/v1/inbox", headers=as_user("renshe_system"))

    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
