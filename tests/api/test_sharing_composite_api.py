"""A platform composite over HTTP: the read shows each owner's stage and decision, and each owner
decides only its own items (another owner's item is 403; a department with no part sees nothing)."""

import pytest

from tests import factories

API = "/api/v1"
COMPOSITE = "203002/000001"  # 数据局 社会救助对象综合核验信息
ITEMS = ["公民身份号码", "姓名", "住址", "婚姻状况", "死亡标识"]


def _ok(response, status=200):
    assert response.status_code == status, response.json()
    return response.json()


def _act(client, headers, request_id, action, **body):
    return client.post(f"{API}/requests/{request_id}/{action}", headers=headers, json=body or None)


@pytest.fixture
def pending(client, as_user):
    """人社 asked for the composite; the platform accepted it; 公安, 民政 and 卫健 have to decide."""
    document = factories.sharing_request(resource=COMPOSITE, items=ITEMS)
    request_id = _ok(client.post(f"{API}/requests", headers=as_user("requester"), json=document), 201)["id"]
    _ok(_act(client, as_user("catalog_admin"), request_id, "accept"))
    return request_id


def test_the_read_shows_a_decision_stage_and_a_part_for_each_owner(client, as_user, pending):
    body = _ok(client.get(f"{API}/requests/{pending}", headers=as_user("catalog_admin")))

    parts = {d["department"]["slug"]: (d["items"], d["outcome"]["value"]) for d in body["decisions"]}
    stages = {d["department"]["slug"]: d["stage"] and d["stage"]["working_days"] for d in body["decisions"]}
    assert body["route"]["value"] == "composite"
    assert parts == {
        "gongan": (["姓名", "住址"], "pending"),
        "minzheng": (["婚姻状况"], "pending"),
        "weijian": (["死亡标识"], "pending"),
        "shujuju": (["公民身份号码"], "platform"),
    }
    assert stages == {"gongan": 10, "minzheng": 10, "weijian": 10, "shujuju": None}


def test_an_owner_reads_the_request_with_the_actions_it_may_take(client, as_user, pending):
    body = _ok(client.get(f"{API}/requests/{pending}", headers=as_user("weijian_approver")))

    assert body["allowed_actions"] == ["request_supplement", "approve", "deny"]


def test_an_owners_approval_is_recorded_with_its_department(client, as_user, pending):
    body = _ok(_act(client, as_user("approver"), pending, "approve", items=["姓名"]))

    [event] = [e for e in body["events"] if e["action"] == "approve"]
    gongan = next(d for d in body["decisions"] if d["department"]["slug"] == "gongan")
    assert (event["actor_department"]["slug"], event["details"]["approved_items"]) == ("gongan", ["姓名"])
    assert (gongan["outcome"]["value"], gongan["approved_items"], gongan["stage"]["state"]["value"]) == (
        "approved",
        ["姓名"],
        "met",
    )
    assert body["status"]["value"] == "pending_approval"


def test_another_owners_item_is_refused_with_403(client, as_user, pending):
    response = _act(client, as_user("approver"), pending, "approve", items=["姓名", "死亡标识"])

    assert (response.status_code, response.json()["code"]) == (403, "items_not_owned")


def test_a_department_with_no_part_neither_reads_nor_decides_it(client, db, as_user, pending):
    factories.user(db, "jy_approver", "dept_approver", "jiaoyu")
    db.flush()
    outsider = as_user("jy_approver")

    assert client.get(f"{API}/requests/{pending}", headers=outsider).status_code == 404
    assert _act(client, outsider, pending, "approve").status_code == 404


def test_the_last_owner_grants_the_approved_items(client, as_user, pending):
    _ok(_act(client, as_user("approver"), pending, "approve", items=["姓名"]))
    _ok(_act(client, as_user("minzheng_approver"), pending, "deny", reason="不符合最小必要原则"))
    body = _ok(_act(client, as_user("weijian_approver"), pending, "approve"))

    assert body["status"]["value"] == "granted"
    assert body["grant"]["items"] == ["公民身份号码", "姓名", "死亡标识"]
