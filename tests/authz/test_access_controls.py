"""管控参数 in the data plane at the service layer, at moments the test chooses: working days, the
rate window rolling over, addresses inside an allowlist, and a stored value that no longer parses."""

from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import select, update

from authz.access import lookup
from authz.access.exceptions import Refused, SubjectNotFound
from authz.access.schemas import Call, LookupIn
from authz.audit.models import AccessRecord
from authz.calendar.service import TZ, local_date
from authz.sharing import service as sharing_service
from catalog_schema.database import utcnow
from catalog_schema.resource.models import Resource
from tests import factories
from tests.conftest import TEST_SECRET

LOW_INCOME = "203001/000001"  # 民政 低保救助对象信息: 政务外网 10.35.0.0/16, and 本机（演示） 127.0.0.1/32


@pytest.fixture
def system(db):
    api_client, _ = factories.api_client(db)
    return api_client


@pytest.fixture
def key(db):
    values = factories.person(1)
    factories.library_record(db, "population", [values["population.id_number"]], values)
    return values["population.id_number"]


def _call(system, grant, request_id, client_ip="127.0.0.1"):
    token = factories.client_headers(system)["Authorization"].removeprefix("Bearer ")
    return Call(
        token=token, purpose=grant.request_number, operator=None, request_id=request_id, client_ip=client_ip
    )


def _lookup(session_factory, call, resource, key, now=None):
    with session_factory() as session:
        return lookup.lookup(
            db=session, secret=TEST_SECRET, call=call, data=LookupIn(resource=resource, key=key), now=now
        )


def _granted(db, *control_params):
    code = factories.people_resource(db, control_params=list(control_params))
    return code, factories.grant(db, resource=code, items=["姓名"])


def _reason(db, request_id):
    return db.scalar(select(AccessRecord.reason_code).where(AccessRecord.request_id == request_id))


def _next_day(db, working: bool):
    """The first day after today that is (or is not) a working day, at 10:00 Beijing time."""
    calendar = sharing_service.calendar(db=db)
    day = local_date(utcnow()) + timedelta(days=1)
    while calendar.is_working_day(day) is not working:
        day += timedelta(days=1)
    return datetime.combine(day, time(10), TZ)


def test_a_working_day_window_refuses_a_rest_day_and_serves_a_working_day(db, session_factory, system, key):
    code, grant = _granted(db, {"kind": "time_window", "value": "工作日 08:00-20:00"})

    with pytest.raises(Refused) as refused:
        _lookup(session_factory, _call(system, grant, "rest"), code, key, now=_next_day(db, working=False))
    served = _lookup(
        session_factory, _call(system, grant, "work"), code, key, now=_next_day(db, working=True)
    )

    assert refused.value.code == "outside_time_window" and "工作日 08:00-20:00" in refused.value.message
    assert _reason(db, "rest") == "outside_time_window"
    assert served.records == [{"姓名": "张三丰"}]


def test_a_daily_window_ends_at_its_end_minute(db, session_factory, system, key):
    code, grant = _granted(db, {"kind": "time_window", "value": "每日 07:00-22:00"})
    day = _next_day(db, working=False).date()

    served = _lookup(
        session_factory, _call(system, grant, "in"), code, key, now=datetime.combine(day, time(21, 59), TZ)
    )
    with pytest.raises(Refused) as refused:
        _lookup(
            session_factory, _call(system, grant, "out"), code, key, now=datetime.combine(day, time(22), TZ)
        )

    assert served.records and refused.value.code == "outside_time_window"


def test_the_rate_window_refuses_until_it_ends_then_serves_again(db, session_factory, system, key):
    code, grant = _granted(db, {"kind": "rate_limit", "value": "1次/分钟"})
    start = datetime.combine(_next_day(db, working=True).date(), time(9, 0, 10), TZ)

    first = _lookup(session_factory, _call(system, grant, "r1"), code, key, now=start)
    with pytest.raises(Refused) as refused:
        _lookup(session_factory, _call(system, grant, "r2"), code, key, now=start + timedelta(seconds=20))
    again = _lookup(session_factory, _call(system, grant, "r3"), code, key, now=start + timedelta(seconds=50))

    assert first.records and again.records
    assert (refused.value.status, refused.value.code) == (429, "rate_limited")
    assert refused.value.extra["retry_after"] == 30
    assert _reason(db, "r2") == "rate_limited"


def test_a_call_from_inside_the_allowlist_is_served(db, session_factory, system, key):
    code, grant = _granted(db, {"kind": "ip_allowlist", "value": "政务外网 10.35.0.0/16"})

    served = _lookup(session_factory, _call(system, grant, "ip", client_ip="10.35.7.9"), code, key)

    assert served.records == [{"姓名": "张三丰"}]


def test_the_demo_allowlist_lets_local_calls_in(db, session_factory, system, key):
    grant = factories.grant(db, resource=LOW_INCOME, items=["公民身份号码"])

    # The local call passes every check and finds the person is not on 低保 (no dataset row).
    with pytest.raises(SubjectNotFound):
        _lookup(session_factory, _call(system, grant, "local"), LOW_INCOME, key)
    with pytest.raises(Refused) as refused:
        _lookup(session_factory, _call(system, grant, "far", client_ip="192.0.2.1"), LOW_INCOME, key)

    assert refused.value.code == "address_not_allowed"


def test_a_stored_value_that_no_longer_parses_closes_the_interface(db, session_factory, system, key):
    code, grant = _granted(db)
    db.execute(
        update(Resource)
        .where(Resource.code == code)
        .values(control_params=[{"kind": "rate_limit", "value": "每分钟六百次"}])
    )
    db.flush()

    with pytest.raises(Refused) as refused:
        _lookup(session_factory, _call(system, grant, "bad"), code, key)

    assert refused.value.code == "resource_unavailable"
    assert "每分钟六百次" in refused.value.message and "接口暂停服务" in refused.value.message
    assert _reason(db, "bad") == "resource_unavailable"
