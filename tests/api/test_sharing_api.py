"""Sharing requests and grants over HTTP: both routes of 统一受理、平台授权, 补正, scope and every refusal."""

from datetime import date, datetime

import pytest

from authz.calendar.service import local_date
from authz.sharing import service as sharing_service
from catalog_schema.resource import service as resource_service
from tests import factories
from tests.factories import DEPARTMENT_RESOURCE, DIRECT_RESOURCE, NOT_SHARED_RESOURCE

API = "/api/v1"


def _submit(client, headers, document):
    return client.post(f"{API}/requests", headers=headers, json=document)


def _act(client, headers, request_id, action, **body):
    # No keyword arguments: no body at all, as a client that has nothing to say would send.
    return client.post(f"{API}/requests/{request_id}/{action}", headers=headers, json=body or None)


def _read(client, as_user, request_id):
    response = client.get(f"{API}/requests/{request_id}", headers=as_user("catalog_admin"))
    assert response.status_code == 200, response.json()
    return response.json()


def _snapshot(client, as_user, request_id):
    """What a refused action must leave unchanged: the status and the number of events."""
    body = _read(client, as_user, request_id)
    return body["status"]["value"], len(body["events"])


def _request_count(client, as_user):
    return client.get(f"{API}/requests", headers=as_user("catalog_admin")).json()["total"]


def _ok(response, status=200):
    assert response.status_code == status, response.json()
    return response.json()


def _headers_of_new_user(db, as_user, username, role, department):
    factories.user(db, username, role, department)
    db.flush()
    return as_user(username)


@pytest.fixture
def submitted(client, as_user):
    """人社 has asked for 公安's 人口基本信息 (the department route)."""
    return _ok(_submit(client, as_user("requester"), factories.sharing_request()), 201)["id"]


@pytest.fixture
def pending(client, as_user, submitted):
    """The platform has accepted it; 公安 has to decide."""
    _ok(_act(client, as_user("catalog_admin"), submitted, "accept"))
    return submitted


@pytest.fixture
def granted(client, as_user, pending):
    _ok(_act(client, as_user("approver"), pending, "approve"))
    return pending


@pytest.fixture
def direct_submitted(client, as_user):
    """人社 has asked for 市场监管's 企业登记基本信息 (the direct route)."""
    return _ok(_submit(client, as_user("requester"), factories.direct_request()), 201)["id"]


@pytest.fixture
def provisioning(client, as_user, direct_submitted):
    _ok(_act(client, as_user("catalog_admin"), direct_submitted, "accept"))
    return direct_submitted


@pytest.fixture
def shichang_approver(db, as_user):
    return _headers_of_new_user(db, as_user, "shichang_approver", "dept_approver", "shichang")


@pytest.fixture
def minzheng_requester(db, as_user):
    return _headers_of_new_user(db, as_user, "minzheng_requester", "dept_requester", "minzheng")


@pytest.fixture
def minzheng_approver(as_user):
    """The demo's 民政 approver."""
    return as_user("minzheng_approver")


# ---------------------------------------------------------------- submitting


def test_submitted_request_waits_for_the_platform_review(client, as_user):
    response = _submit(client, as_user("requester"), factories.sharing_request())

    body = _ok(response, 201)
    assert (body["status"]["value"], body["route"]) == ("submitted", None)
    assert body["number"].startswith("SQ-")
    assert (body["current_stage"]["kind"]["value"], body["current_stage"]["department"]["slug"]) == (
        "review",
        "shujuju",
    )


def test_requester_may_only_withdraw_a_submitted_request(client, as_user, submitted):
    body = _ok(client.get(f"{API}/requests/{submitted}", headers=as_user("requester")))

    assert body["allowed_actions"] == ["withdraw"]


def test_platform_may_accept_reject_or_ask_for_supplement(client, as_user, submitted):
    body = _read(client, as_user, submitted)

    assert body["allowed_actions"] == ["accept", "reject", "request_supplement"]


# ---------------------------------------------------------------- department route


def test_accepting_a_conditional_resource_sends_it_to_the_provider_for_ten_working_days(
    client, as_user, submitted, db
):
    response = _act(client, as_user("catalog_admin"), submitted, "accept")

    body = _ok(response)
    assert (body["status"]["value"], body["route"]["value"]) == ("pending_approval", "department")
    stage = body["current_stage"]
    assert (stage["kind"]["value"], stage["department"]["slug"]) == ("decision", "gongan")
    started_on = local_date(datetime.fromisoformat(stage["started_at"]))
    due_on = date.fromisoformat(stage["due_on"])
    calendar = sharing_service.calendar(db=db)
    assert calendar.working_days_between(started_on, due_on) == 10
    assert calendar.is_working_day(due_on)


def test_provider_approval_narrowed_to_some_items_grants_only_those(client, as_user, pending):
    response = _act(
        client, as_user("approver"), pending, "approve", items=["公民身份号码", "姓名"], daily_quota=200
    )

    body = _ok(response)
    assert body["status"]["value"] == "granted"
    [grant] = _ok(client.get(f"{API}/grants", headers=as_user("requester")))["items"]
    assert (grant["request_id"], grant["items"], grant["daily_quota"]) == (
        pending,
        ["公民身份号码", "姓名"],
        200,
    )
    assert (grant["status"]["value"], grant["route"]["value"]) == ("active", "department")


def test_approval_without_narrowing_grants_what_was_asked(client, as_user, pending):
    response = _act(client, as_user("approver"), pending, "approve")

    grant = _ok(response)["grant"]
    assert (grant["items"], grant["valid_until"], grant["daily_quota"]) == (
        ["公民身份号码", "姓名", "出生日期"],
        "2027-09-30",
        None,
    )


def test_consumer_system_reads_its_departments_grants(client, as_user, granted):
    body = _ok(client.get(f"{API}/grants", headers=as_user("renshe_system")))

    assert [g["request_id"] for g in body["items"]] == [granted]


def test_grant_is_read_by_its_id(client, as_user, granted):
    grant_id = _read(client, as_user, granted)["grant"]["id"]

    body = _ok(client.get(f"{API}/grants/{grant_id}", headers=as_user("requester")))

    assert (body["id"], body["consumer"]["slug"], body["resource"]["code"]) == (
        grant_id,
        "renshe",
        DEPARTMENT_RESOURCE,
    )


def test_grant_of_another_department_is_a_404(client, as_user, granted, minzheng_requester):
    grant_id = _read(client, as_user, granted)["grant"]["id"]

    response = client.get(f"{API}/grants/{grant_id}", headers=minzheng_requester)

    assert (response.status_code, response.json()["code"]) == (404, "grant_not_found")


# ---------------------------------------------------------------- direct route


def test_accepting_an_unconditional_resource_puts_it_on_the_platform_to_provide(
    client, as_user, direct_submitted
):
    response = _act(client, as_user("catalog_admin"), direct_submitted, "accept")

    body = _ok(response)
    assert (body["status"]["value"], body["route"]["value"]) == ("provisioning", "direct")
    stage = body["current_stage"]
    assert (stage["kind"]["value"], stage["department"]["slug"]) == ("provision", "shujuju")


def test_platform_provides_a_direct_request_without_the_provider_acting(
    client, as_user, provisioning, shichang_approver
):
    response = _act(client, as_user("catalog_admin"), provisioning, "provide")

    body = _ok(response)
    assert (body["status"]["value"], body["grant"]["route"]["value"]) == ("granted", "direct")
    assert [e["actor"]["username"] for e in body["events"]] == ["requester", "catalog_admin", "catalog_admin"]
    seen_by_provider = _ok(client.get(f"{API}/requests/{provisioning}", headers=shichang_approver))
    assert seen_by_provider["grant"]["status"]["value"] == "active"


def test_provider_has_nothing_to_do_on_a_direct_request(client, as_user, provisioning, shichang_approver):
    body = _ok(client.get(f"{API}/requests/{provisioning}", headers=shichang_approver))

    assert body["allowed_actions"] == []


# ---------------------------------------------------------------- 补正


def test_provider_asking_for_supplement_pauses_the_decision_clock(client, as_user, pending):
    response = _act(client, as_user("approver"), pending, "request_supplement", reason="请补充参保人授权书")

    body = _ok(response)
    assert body["status"]["value"] == "approval_supplement"
    assert (body["current_stage"]["kind"]["value"], body["current_stage"]["state"]["value"]) == (
        "decision",
        "paused",
    )


def test_requester_supplement_resumes_the_decision_and_keeps_the_pause(client, as_user, pending):
    _ok(_act(client, as_user("approver"), pending, "request_supplement", reason="请补充参保人授权书"))

    response = _act(client, as_user("requester"), pending, "supplement", reason="已上传授权书")

    body = _ok(response)
    assert body["status"]["value"] == "pending_approval"
    [decision] = [s for s in body["stages"] if s["kind"]["value"] == "decision"]
    [pause] = decision["pauses"]
    assert pause["reason"] == "请补充参保人授权书"
    assert pause["from"] is not None and pause["until"] is not None
    assert decision["state"]["value"] in ("on_time", "due_soon")


# ---------------------------------------------------------------- withdraw and revoke


def test_requester_withdraws_before_a_decision(client, as_user, pending):
    response = _act(client, as_user("requester"), pending, "withdraw")

    body = _ok(response)
    assert (body["status"]["value"], body["current_stage"], body["grant"]) == ("withdrawn", None, None)
    assert body["stages"][-1]["state"]["value"] == "cancelled"


def test_provider_revokes_a_grant_with_a_reason(client, as_user, granted):
    response = _act(client, as_user("approver"), granted, "revoke", reason="参保核验业务已停办")

    body = _ok(response)
    assert body["status"]["value"] == "revoked"
    assert (body["grant"]["status"]["value"], body["grant"]["end_reason"]) == (
        "revoked",
        "参保核验业务已停办",
    )


def test_revoked_grants_are_listed_under_their_status(client, as_user, granted):
    _ok(_act(client, as_user("approver"), granted, "revoke", reason="参保核验业务已停办"))

    body = _ok(client.get(f"{API}/grants", headers=as_user("requester"), params={"status": "revoked"}))

    assert [g["request_id"] for g in body["items"]] == [granted]


def test_platform_may_revoke_a_grant_too(client, as_user, granted):
    response = _act(client, as_user("catalog_admin"), granted, "revoke", reason="提供部门申请下线该资源")

    assert _ok(response)["grant"]["status"]["value"] == "revoked"


def test_requester_cannot_revoke_its_grant(client, as_user, granted):
    before = _snapshot(client, as_user, granted)

    response = _act(client, as_user("requester"), granted, "revoke", reason="不再需要")

    assert (response.status_code, response.json()["code"]) == (403, "transition_forbidden")
    assert _snapshot(client, as_user, granted) == before


def test_withdrawing_after_the_grant_is_a_conflict(client, as_user, granted):
    before = _snapshot(client, as_user, granted)

    response = _act(client, as_user("requester"), granted, "withdraw")

    assert (response.status_code, response.json()["code"]) == (409, "transition_invalid")
    assert _snapshot(client, as_user, granted) == before


# ---------------------------------------------------------------- lists and filters


def test_provider_finds_the_request_in_its_to_decide_box(client, as_user, pending, direct_submitted):
    body = _ok(client.get(f"{API}/requests", headers=as_user("approver"), params={"box": "to_decide"}))

    assert [r["id"] for r in body["items"]] == [pending]
    assert body["items"][0]["allowed_actions"] == ["request_supplement", "approve", "deny"]


def test_requests_are_filtered_by_resource_code(client, as_user, submitted, direct_submitted):
    body = _ok(
        client.get(f"{API}/requests", headers=as_user("requester"), params={"resource": DIRECT_RESOURCE})
    )

    assert [r["id"] for r in body["items"]] == [direct_submitted]


def test_requests_are_filtered_by_status(client, as_user, pending, direct_submitted):
    body = _ok(client.get(f"{API}/requests", headers=as_user("requester"), params={"status": "submitted"}))

    assert [r["id"] for r in body["items"]] == [direct_submitted]


def test_filtering_by_an_unknown_resource_code_is_a_404(client, as_user):
    response = client.get(
        f"{API}/requests", headers=as_user("requester"), params={"resource": "999999/999999"}
    )

    assert (response.status_code, response.json()["code"]) == (404, "resource_not_found")


def test_unknown_box_is_refused(client, as_user):
    response = client.get(f"{API}/requests", headers=as_user("requester"), params={"box": "everything"})

    assert (response.status_code, response.json()["code"]) == (422, "validation_error")


# ---------------------------------------------------------------- scope


def test_requester_of_another_department_gets_404_for_the_request(client, submitted, minzheng_requester):
    response = client.get(f"{API}/requests/{submitted}", headers=minzheng_requester)

    assert (response.status_code, response.json()["code"]) == (404, "request_not_found")


def test_requester_of_another_department_does_not_list_the_request(client, submitted, minzheng_requester):
    body = _ok(client.get(f"{API}/requests", headers=minzheng_requester))

    assert body["total"] == 0


def test_provider_approver_lists_requests_for_its_resources(client, as_user, submitted, direct_submitted):
    body = _ok(client.get(f"{API}/requests", headers=as_user("approver")))

    assert [r["id"] for r in body["items"]] == [submitted]


def test_provider_approver_reads_a_request_for_its_resource(client, as_user, submitted):
    response = client.get(f"{API}/requests/{submitted}", headers=as_user("approver"))

    assert _ok(response)["provider"]["slug"] == "gongan"


def test_approver_of_another_department_gets_404_for_the_request(client, submitted, minzheng_approver):
    response = client.get(f"{API}/requests/{submitted}", headers=minzheng_approver)

    assert (response.status_code, response.json()["code"]) == (404, "request_not_found")


def test_auditor_reads_every_request(client, as_user, submitted, direct_submitted):
    body = _ok(client.get(f"{API}/requests", headers=as_user("auditor")))

    assert {r["id"] for r in body["items"]} == {submitted, direct_submitted}
    assert all(r["allowed_actions"] == [] for r in body["items"])


def test_auditor_reads_one_request(client, as_user, submitted):
    response = client.get(f"{API}/requests/{submitted}", headers=as_user("auditor"))

    assert _ok(response)["id"] == submitted


def test_auditor_cannot_act_on_a_request(client, as_user, submitted):
    before = _snapshot(client, as_user, submitted)

    response = _act(client, as_user("auditor"), submitted, "accept")

    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert _snapshot(client, as_user, submitted) == before


def test_department_system_cannot_read_requests(client, as_user, submitted):
    response = client.get(f"{API}/requests", headers=as_user("renshe_system"))

    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")


def test_department_system_cannot_read_one_request(client, as_user, submitted):
    response = client.get(f"{API}/requests/{submitted}", headers=as_user("renshe_system"))

    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")


def test_approver_cannot_submit_a_request(client, as_user):
    response = _submit(client, as_user("approver"), factories.direct_request())

    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert _request_count(client, as_user) == 0


def test_requests_need_a_login(client, submitted):
    response = client.get(f"{API}/requests/{submitted}")

    assert (response.status_code, response.json()["code"]) == (401, "invalid_token")


# ---------------------------------------------------------------- bad submissions


def test_unknown_resource_code_is_a_404(client, as_user):
    response = _submit(client, as_user("requester"), factories.sharing_request(resource="109999/000001"))

    assert (response.status_code, response.json()["code"]) == (404, "resource_not_found")
    assert _request_count(client, as_user) == 0


def test_items_the_resource_does_not_have_are_refused_by_position(client, as_user):
    document = factories.sharing_request(items=["公民身份号码", "指纹", "姓名", "血型"])

    response = _submit(client, as_user("requester"), document)

    assert (response.status_code, response.json()["code"]) == (422, "invalid_input")
    assert [p["path"] for p in response.json()["problems"]] == ["items[1]", "items[3]"]
    assert _request_count(client, as_user) == 0


def test_validity_starting_in_1900_is_refused(client, as_user):
    response = _submit(client, as_user("requester"), factories.sharing_request(valid_from="1900-01-01"))

    assert (response.status_code, response.json()["code"]) == (422, "validation_error")
    assert [p["path"] for p in response.json()["problems"]] == ["valid_from"]
    assert _request_count(client, as_user) == 0


def test_validity_ending_before_it_starts_is_refused(client, as_user):
    document = factories.sharing_request(valid_from="2027-06-01", valid_until="2027-05-31")

    response = _submit(client, as_user("requester"), document)

    assert (response.status_code, response.json()["code"]) == (422, "validation_error")
    assert [p["path"] for p in response.json()["problems"]] == ["valid_until"]
    assert _request_count(client, as_user) == 0


def test_validity_already_over_is_refused(client, as_user):
    document = factories.sharing_request(valid_from="2025-01-01", valid_until="2025-12-31")

    response = _submit(client, as_user("requester"), document)

    assert (response.status_code, response.json()["code"]) == (422, "invalid_input")
    assert [p["path"] for p in response.json()["problems"]] == ["valid_until"]
    assert _request_count(client, as_user) == 0


def test_request_without_legal_basis_or_business_reference_is_refused(client, as_user):
    document = factories.sharing_request(legal_basis=None, business_reference=None)

    response = _submit(client, as_user("requester"), document)

    assert (response.status_code, response.json()["code"]) == (422, "validation_error")
    assert [p["path"] for p in response.json()["problems"]] == ["legal_basis"]
    assert _request_count(client, as_user) == 0


def test_not_shared_resource_is_refused_quoting_its_legal_basis(client, as_user, db):
    basis = resource_service.get_by_code(db=db, code=NOT_SHARED_RESOURCE).share_legal_basis
    document = factories.sharing_request(resource=NOT_SHARED_RESOURCE, items=["公民身份号码"])

    response = _submit(client, as_user("requester"), document)

    assert (response.status_code, response.json()["code"]) == (403, "resource_not_shareable")
    assert basis and basis in response.json()["message"]
    assert _request_count(client, as_user) == 0


def test_request_for_the_own_departments_resource_is_refused(client, as_user, db):
    gongan_requester = _headers_of_new_user(db, as_user, "gongan_requester", "dept_requester", "gongan")

    response = _submit(client, gongan_requester, factories.sharing_request())

    assert (response.status_code, response.json()["code"]) == (422, "invalid_input")
    assert [p["path"] for p in response.json()["problems"]] == ["resource"]
    assert _request_count(client, as_user) == 0


# ---------------------------------------------------------------- refused transitions


def test_approving_a_request_still_under_review_is_a_conflict(client, as_user, submitted):
    before = _snapshot(client, as_user, submitted)

    response = _act(client, as_user("approver"), submitted, "approve")

    assert (response.status_code, response.json()["code"]) == (409, "transition_invalid")
    assert _snapshot(client, as_user, submitted) == before


def test_requester_cannot_accept_its_own_request(client, as_user, submitted):
    before = _snapshot(client, as_user, submitted)

    response = _act(client, as_user("requester"), submitted, "accept")

    assert (response.status_code, response.json()["code"]) == (403, "transition_forbidden")
    assert _snapshot(client, as_user, submitted) == before


def test_approver_of_another_department_cannot_approve_what_it_cannot_see(
    client, as_user, pending, minzheng_approver
):
    before = _snapshot(client, as_user, pending)

    response = _act(client, minzheng_approver, pending, "approve")

    assert (response.status_code, response.json()["code"]) == (404, "request_not_found")
    assert _snapshot(client, as_user, pending) == before


def test_platform_cannot_approve_for_the_provider(client, as_user, pending):
    before = _snapshot(client, as_user, pending)

    response = _act(client, as_user("catalog_admin"), pending, "approve")

    assert (response.status_code, response.json()["code"]) == (403, "transition_forbidden")
    assert _snapshot(client, as_user, pending) == before


@pytest.mark.parametrize(
    ("state", "who", "action"),
    [
        ("submitted", "catalog_admin", "reject"),
        ("submitted", "catalog_admin", "request_supplement"),
        ("pending", "approver", "deny"),
        ("pending", "approver", "request_supplement"),
        ("granted", "approver", "revoke"),
    ],
)
def test_action_that_needs_a_reason_is_refused_without_one(client, as_user, request, state, who, action):
    request_id = request.getfixturevalue(state)
    before = _snapshot(client, as_user, request_id)

    response = _act(client, as_user(who), request_id, action)

    assert (response.status_code, response.json()["code"]) == (422, "reason_required")
    assert _snapshot(client, as_user, request_id) == before


def test_narrowing_on_accept_is_refused(client, as_user, submitted):
    before = _snapshot(client, as_user, submitted)

    response = _act(client, as_user("catalog_admin"), submitted, "accept", items=["姓名"])

    assert (response.status_code, response.json()["code"]) == (422, "narrowing_not_allowed")
    assert _snapshot(client, as_user, submitted) == before


def test_approving_an_item_that_was_not_requested_is_refused(client, as_user, pending):
    before = _snapshot(client, as_user, pending)

    response = _act(client, as_user("approver"), pending, "approve", items=["姓名", "住址"])

    assert (response.status_code, response.json()["code"]) == (422, "invalid_narrowing")
    assert [p["path"] for p in response.json()["problems"]] == ["items[1]"]
    assert _snapshot(client, as_user, pending) == before


def test_approving_beyond_the_requested_validity_is_refused(client, as_user, pending):
    before = _snapshot(client, as_user, pending)

    response = _act(client, as_user("approver"), pending, "approve", valid_until="2027-12-31")

    assert (response.status_code, response.json()["code"]) == (422, "invalid_narrowing")
    assert [p["path"] for p in response.json()["problems"]] == ["valid_until"]
    assert _snapshot(client, as_user, pending) == before


def test_approving_an_access_mode_that_was_not_requested_is_refused(client, as_user, pending):
    before = _snapshot(client, as_user, pending)

    response = _act(client, as_user("approver"), pending, "approve", access_modes=["bulk_export"])

    assert (response.status_code, response.json()["code"]) == (422, "invalid_narrowing")
    assert [p["path"] for p in response.json()["problems"]] == ["access_modes[0]"]
    assert _snapshot(client, as_user, pending) == before


def test_approving_a_validity_that_has_already_ended_is_refused(client, as_user, pending):
    # Within what was asked (2026-10-01..2027-09-30) but over before today: the grant would be born dead.
    before = _snapshot(client, as_user, pending)

    response = _act(client, as_user("approver"), pending, "approve", valid_until="2026-10-31")

    assert (response.status_code, response.json().get("code")) == (422, "invalid_narrowing")
    assert [p["path"] for p in response.json()["problems"]] == ["valid_until"]
    assert _snapshot(client, as_user, pending) == before


@pytest.mark.parametrize("who", ["catalog_admin", "approver", "requester"])
def test_nobody_can_expire_a_grant_through_the_api(client, as_user, granted, who):
    before = _snapshot(client, as_user, granted)

    response = _act(client, as_user(who), granted, "expire")

    assert (response.status_code, response.json()["code"]) == (403, "transition_forbidden")
    assert _snapshot(client, as_user, granted) == before


def test_unknown_action_is_refused(client, as_user, submitted):
    response = _act(client, as_user("catalog_admin"), submitted, "archive")

    assert (response.status_code, response.json()["code"]) == (422, "validation_error")


def test_unknown_request_is_a_404(client, as_user):
    response = _act(client, as_user("catalog_admin"), 999999, "accept")

    assert (response.status_code, response.json()["code"]) == (404, "request_not_found")
