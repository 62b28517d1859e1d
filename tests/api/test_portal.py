"""The portal's rules, page by page: sessions, CSRF, field errors in place, scope, error pages.

The browser journeys are in test_portal_journeys.py; these run on the test client and both
database legs, each inside the test's rolled-back transaction.
"""

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.portal import web
from authz import security
from authz.sharing import service as sharing_service
from authz.sharing.models import SharingRequest
from authz.sharing.schemas import RequestCreate, TransitionIn
from authz.types import RequestAction, RequestStatus
from catalog_schema.resource import service as resource_service
from catalog_schema.user import service as user_service
from demo.catalog import DEMO_PASSWORD
from tests import factories
from tests.conftest import TEST_SECRET

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _csrf(client: TestClient, path: str = "/login") -> str:
    found = CSRF.search(client.get(path).text)
    assert found, f"{path} has no CSRF field"
    return found.group(1)


def _login(client: TestClient, username: str, next_url: str = "/") -> None:
    response = client.post(
        "/login",
        data={"username": username, "password": DEMO_PASSWORD, "next": next_url, "csrf_token": _csrf(client)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def _requests(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(SharingRequest)) or 0


def _submitted(db: Session, username: str = "requester", **overrides: object) -> SharingRequest:
    user = user_service.get_by_username(db=db, username=username)
    assert user is not None
    data = RequestCreate.model_validate(factories.sharing_request(**overrides))
    return sharing_service.submit(db=db, data=data, user=user)


def _pending_approval(db: Session) -> SharingRequest:
    request = _submitted(db)
    admin = user_service.get_by_username(db=db, username="catalog_admin")
    sharing_service.act(db=db, request=request, action=RequestAction.accept, data=TransitionIn(), user=admin)
    db.flush()
    return request


def _session_cookie(username: str, ttl: timedelta) -> str:
    return security.issue_token(
        username=username, role="dept_requester", department_id=1, secret=TEST_SECRET, ttl=ttl
    )


# -- sessions --------------------------------------------------------------------------------------


def test_a_page_without_a_session_sends_the_browser_to_login(client):
    response = client.get("/requests?box=mine", follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Frequests%3Fbox%3Dmine"


def test_wrong_password_is_said_on_the_login_form_and_opens_no_session(client):
    response = client.post(
        "/login", data={"username": "requester", "password": "wrong", "csrf_token": _csrf(client)}
    )

    assert response.status_code == 401
    assert "用户名或密码错误" in response.text
    assert web.SESSION_COOKIE not in client.cookies


def test_login_returns_to_the_page_first_asked_for(client):
    csrf = _csrf(client)
    response = client.post(
        "/login",
        data={"username": "requester", "password": DEMO_PASSWORD, "next": "/grants", "csrf_token": csrf},
        follow_redirects=False,
    )

    assert response.headers["location"] == "/grants"


def test_login_never_returns_to_another_site(client):
    csrf = _csrf(client)
    response = client.post(
        "/login",
        data={
            "username": "requester",
            "password": DEMO_PASSWORD,
            "next": "//evil.example/x",
            "csrf_token": csrf,
        },
        follow_redirects=False,
    )

    assert response.headers["location"] == "/"


def test_an_expired_session_asks_to_log_in_again(client):
    client.cookies.set(web.SESSION_COOKIE, _session_cookie("requester", timedelta(seconds=-1)))

    response = client.get("/grants", follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fgrants&expired=1"
    assert "会话已过期" in client.get(response.headers["location"]).text


def test_a_session_in_its_second_half_is_renewed(client, settings):
    # The test app's sessions last 5 minutes; one with 1 minute left is past its half.
    old = _session_cookie("requester", timedelta(minutes=1))
    client.cookies.set(web.SESSION_COOKIE, old)

    response = client.get("/grants")

    renewed = response.cookies.get(web.SESSION_COOKIE)
    assert renewed and renewed != old
    claims = security.read_token(renewed, secret=TEST_SECRET)
    assert claims is not None and claims.username == "requester"


def test_logout_ends_the_session(client):
    _login(client, "requester")

    client.post("/logout", data={"csrf_token": _csrf(client, "/")})

    response = client.get("/grants", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/login?next=%2Fgrants")


# -- CSRF ------------------------------------------------------------------------------------------


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(client, db):
    _login(client, "requester")
    resource = resource_service.get_by_code(db=db, code=factories.DEPARTMENT_RESOURCE)
    before = _requests(db)
    form = {k: v for k, v in factories.sharing_request().items() if not isinstance(v, list)}

    response = client.post("/requests/new", data={**form, "resource_id": resource.id, "items": "姓名"})

    assert response.status_code == 403
    assert "防伪令牌" in response.text
    assert _requests(db) == before


def test_a_post_with_another_browsers_csrf_token_is_refused(client, db):
    _login(client, "requester")
    _csrf(client, "/")

    response = client.post("/logout", data={"csrf_token": "x" * 43})

    assert response.status_code == 403
    assert "代码 csrf_failed" in response.text
    assert client.get("/grants", follow_redirects=False).status_code == 200  # still signed in


# -- forms -----------------------------------------------------------------------------------------


def test_request_form_shows_field_errors_in_place_and_creates_nothing(client, db):
    _login(client, "requester")
    resource = resource_service.get_by_code(db=db, code=factories.DEPARTMENT_RESOURCE)
    before = _requests(db)

    response = client.post(
        "/requests/new",
        data={
            "csrf_token": _csrf(client, f"/requests/new?resource={resource.id}"),
            "resource_id": resource.id,
            "items": ["姓名"],
            "access_modes": ["lookup"],
            "valid_from": "2026-12-01",
            "valid_until": "2027-11-01",
            "expected_volume": "10",
            "business_reference": "RS-1",
        },
    )

    assert response.status_code == 422
    assert re.search(r'id="purpose-error"[^>]*>缺少必填字段<', response.text)
    assert 'value="姓名" checked' in response.text  # what was entered is kept
    assert _requests(db) == before


def test_an_item_the_resource_lacks_is_refused_beside_the_items(client, db):
    _login(client, "requester")
    resource = resource_service.get_by_code(db=db, code=factories.DEPARTMENT_RESOURCE)

    response = client.post(
        "/requests/new",
        data={
            "csrf_token": _csrf(client, f"/requests/new?resource={resource.id}"),
            "resource_id": resource.id,
            "items": ["指纹"],
            "access_modes": ["lookup"],
            "purpose": "核验",
            "business_reference": "RS-1",
            "valid_from": "2026-12-01",
            "valid_until": "2027-11-01",
            "expected_volume": "10",
        },
    )

    assert response.status_code == 422
    assert re.search(r'id="items-error"[^>]*>[^<]*指纹', response.text)


def test_deny_without_a_reason_is_refused_in_place_and_the_request_still_waits(client, db):
    request = _pending_approval(db)
    _login(client, "approver")

    response = client.post(
        f"/requests/{request.id}/act/deny", data={"csrf_token": _csrf(client, f"/requests/{request.id}")}
    )

    assert response.status_code == 422
    assert re.search(r'id="reason-error"[^>]*>必须填写理由<', response.text)
    db.expire_all()
    assert db.get(SharingRequest, request.id).status is RequestStatus.pending_approval


def test_approve_grants_only_the_items_left_ticked(client, db):
    request = _pending_approval(db)
    _login(client, "approver")

    client.post(
        f"/requests/{request.id}/act/approve",
        data={
            "csrf_token": _csrf(client, f"/requests/{request.id}"),
            "items": ["公民身份号码", "姓名"],
            "access_modes": ["lookup"],
            "valid_from": request.valid_from.isoformat(),
            "valid_until": request.valid_until.isoformat(),
        },
    )

    db.expire_all()
    granted = db.get(SharingRequest, request.id)
    assert granted.status is RequestStatus.granted
    assert granted.grant.items == ["公民身份号码", "姓名"]


# -- scope and error pages -------------------------------------------------------------------------


def test_another_departments_request_is_not_found_by_url(client, db):
    minzheng = factories.user(db, "mz_requester", "dept_requester", "minzheng")
    theirs = sharing_service.submit(
        db=db,
        data=RequestCreate.model_validate(factories.sharing_request(business_reference="MZ-1")),
        user=minzheng,
    )
    db.flush()
    _login(client, "requester")

    response = client.get(f"/requests/{theirs.id}")

    assert response.status_code == 404
    assert "未找到" in response.text and "MZ-1" not in response.text
    assert response.headers["content-type"].startswith("text/html")


def test_api_errors_stay_json_while_pages_get_pages(client, as_user):
    api = client.get("/api/v1/requests/999999", headers=as_user("requester"))
    _login(client, "requester")
    page = client.get("/requests/999999")

    assert api.headers["content-type"].startswith("application/json") and api.json()["code"]
    assert page.headers["content-type"].startswith("text/html")


def test_the_menu_offers_only_pages_the_user_may_open(client):
    _login(client, "requester")
    home = client.get("/").text

    assert 'href="/requests"' in home and 'href="/audit"' not in home
    assert client.get("/audit").status_code == 403


def test_a_draft_reads_as_missing_to_department_staff(client, db):
    resource = resource_service.get_by_code(db=db, code=factories.DEPARTMENT_RESOURCE)
    resource.status = type(resource.status).draft
    db.flush()
    _login(client, "requester")

    response = client.get(f"/catalog/{resource.id}")

    assert (response.status_code, "代码 resource_not_found" in response.text) == (404, True)
    assert resource.code not in response.text


def test_blank_filter_fields_mean_no_filter(client):
    _login(client, "requester")

    response = client.get("/catalog?q=&class=&share_type=&provider=&update_cycle=")

    assert response.status_code == 200
    assert "101001/000001" in response.text


@pytest.mark.parametrize(
    ("path", "title"),
    [
        ("/catalog", "资源目录"),
        ("/requests", "共享申请"),
        ("/grants", "共享授权"),
        ("/discrepancies", "差异工单"),
        ("/inbox", "消息"),
    ],
)
def test_department_pages_open_for_the_requester(client, path, title):
    _login(client, "requester")

    response = client.get(path)

    assert (response.status_code, f"<title>{title} · 政务数据共享交换平台</title>" in response.text) == (
        200,
        True,
    )


@pytest.mark.parametrize(
    ("path", "title"),
    [
        ("/audit", "访问日志"),
        ("/audit/verify", "访问日志完整性核验"),
        ("/reports", "时限统计"),
        ("/reports?start=2026-01-01&end=2026-12-31", "时限统计"),
    ],
)
def test_auditor_pages_open_for_the_auditor(client, path, title):
    _login(client, "auditor")

    response = client.get(path)

    assert (response.status_code, f"<title>{title} · 政务数据共享交换平台</title>" in response.text) == (
        200,
        True,
    )


@pytest.mark.parametrize(
    "path",
    ["/catalog/99999999999999999999", "/requests/99999999999999999999", "/requests/new?resource=99999999999"],
)
def test_an_id_beyond_any_row_is_refused_as_input_not_a_server_error(client, path):
    _login(client, "requester")

    response = client.get(path)

    assert response.status_code in (404, 422)
    assert "text/html" in response.headers["content-type"]


def test_acting_on_a_closed_request_says_why_on_the_page(client, db):
    request = _submitted(db)
    user = user_service.get_by_username(db=db, username="requester")
    sharing_service.act(db=db, request=request, action=RequestAction.withdraw, data=TransitionIn(), user=user)
    db.flush()
    _login(client, "requester")

    response = client.post(
        f"/requests/{request.id}/act/withdraw", data={"csrf_token": _csrf(client, f"/requests/{request.id}")}
    )

    assert response.status_code == 409
    assert "不能“撤回申请”" in response.text


def test_an_audit_range_that_ends_before_it_starts_is_said_beside_the_field(client):
    _login(client, "auditor")

    response = client.get("/audit?from=2026-02-01&to=2026-01-01")

    assert response.status_code == 422
    assert re.search(r'id="to-error"[^>]*>时间范围无效', response.text)


def test_a_composite_owner_sees_each_owners_part_and_approves_only_its_own_items(client, db):
    request = _submitted(db, resource="203002/000001", items=["公民身份号码", "姓名", "婚姻状况"])
    admin = user_service.get_by_username(db=db, username="catalog_admin")
    sharing_service.act(db=db, request=request, action=RequestAction.accept, data=TransitionIn(), user=admin)
    db.flush()
    _login(client, "minzheng_approver")

    page = client.get(f"/requests/{request.id}").text
    client.post(
        f"/requests/{request.id}/act/approve",
        data={"csrf_token": _csrf(client, f"/requests/{request.id}"), "items": ["婚姻状况"]},
    )

    assert 'data-testid="owner-decisions"' in page and 'data-department="gongan"' in page
    assert 'name="items" value="婚姻状况"' in page and 'name="items" value="姓名"' not in page
    db.expire_all()
    decided = db.get(SharingRequest, request.id)
    assert [(d.department.slug, d.outcome.value) for d in decided.decisions] == [
        ("gongan", "pending"),
        ("minzheng", "approved"),
        ("shujuju", "platform"),
    ]
