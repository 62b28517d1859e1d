"""The platform state bench-api and bench-export stand on: people, 低保 records and the grants to read them.

Written as the pipelines store them (blind-indexed, sealed, digested), with Core ``executemany``
in chunks, not through the pipeline (bench-ingest times that); grants go through the real workflow.
"""

import json
import random
import time
from datetime import date, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from authz.calendar.service import local_date
from authz.clients import service as clients_service
from authz.sharing import service as sharing_service
from authz.sharing.models import SharingRequest
from authz.sharing.schemas import RequestCreate, TransitionIn
from authz.types import RequestAction
from catalog_schema.database import utcnow
from catalog_schema.dataset import subjects as dataset_subjects
from catalog_schema.dataset.models import DatasetRecord
from catalog_schema.department.models import Department
from catalog_schema.element.models import DataElement
from catalog_schema.keys import service as keys_service
from catalog_schema.library import subjects
from catalog_schema.library.models import IngestBatch, LibraryRecord
from catalog_schema.resource import service as resource_service
from catalog_schema.resource.schemas import ResourceUpdate
from catalog_schema.types import BatchStatus, Library, Sensitivity
from catalog_schema.user.models import User
from catalog_schema.user.roles import Role

RESOURCE = "101001/000001"  # 公安 人口基本信息 (有条件共享)
SUBSISTENCE = "203001/000001"  # 民政 低保救助对象信息 (库表交换)
SUBSISTENCE_ITEMS = ["公民身份号码", "姓名", "救助类别", "月保障金额"]
ITEMS = ["公民身份号码", "姓名", "出生日期", "住址"]
REGIONS = ["350102", "350103", "350104", "350105", "350111", "350121"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚桂英华"
WEIGHTS = [pow(2, 17 - i, 11) for i in range(17)]
CHUNK = 50_000


def id_number(i: int) -> str:
    """The i-th distinct valid GB 11643 number (region, birth date, sequence, check digit)."""
    born = date(1950, 1, 1) + timedelta(days=(i // len(REGIONS)) % 20_000)
    body = f"{REGIONS[i % len(REGIONS)]}{born:%Y%m%d}{(i // (len(REGIONS) * 20_000)) % 1000:03d}"
    check = (12 - sum(int(c) * w for c, w in zip(body, WEIGHTS, strict=True)) % 11) % 11
    return body + ("X" if check == 10 else str(check))


def person(i: int, key: str) -> dict[str, str]:
    rnd = random.Random(i)
    return {
        "population.id_number": key,
        "population.name": rnd.choice(SURNAMES) + rnd.choice(GIVEN) + rnd.choice(GIVEN),
        "population.gender": "1" if int(key[16]) % 2 else "2",
        "population.ethnicity": "01",
        "population.birth_date": key[6:14],
        "population.household_region": key[:6],
        "population.address": f"福建省榕城市鼓楼区五四路{rnd.randint(1, 400)}号{rnd.randint(1, 30)}单元",
        "population.phone": f"13{rnd.randint(0, 9)}{rnd.randint(10_000_000, 99_999_999)}",
    }


def load_people(db: Session, rows: int) -> float:
    """Write ``rows`` population records as the pipelines store them; returns seconds taken."""
    started = time.perf_counter()
    ring = keys_service.get_keyring()
    sensitive = set(
        db.scalars(
            select(DataElement.code).where(
                DataElement.library == Library.population,
                DataElement.sensitivity.in_([Sensitivity.sensitive, Sensitivity.highly_sensitive]),
            )
        )
    )
    gongan = _department_id(db, "gongan")
    batch = _batch(db, "bench_people", "bench-api 人口", gongan, rows, library=Library.population)
    now = utcnow()
    conn = db.connection()
    for start in range(0, rows, CHUNK):
        records = []
        for i in range(start, min(start + CHUNK, rows)):
            key = id_number(i)
            values = person(i, key)
            stored = subjects.stored_key(ring, Library.population, [key])
            line = json.dumps(values, ensure_ascii=False, sort_keys=True)
            records.append(
                {
                    "library": Library.population.value,
                    "subject_key": stored,
                    "subject_cipher": subjects.subject_cipher(ring, Library.population, [key]),
                    "department_id": gongan,
                    "values": json.dumps(
                        ring.seal(values, sensitive=sensitive, aad=stored), ensure_ascii=False, sort_keys=True
                    ),
                    "row_hash": ring.digest(line),
                    "valid_from": now,
                    "valid_to": None,
                    "batch_id": batch.id,
                    "source_row": i + 1,
                }
            )
        conn.execute(insert(LibraryRecord), records)
        print(f"  loaded {min(start + CHUNK, rows):>9,} / {rows:,} people", flush=True)
    return time.perf_counter() - started


def load_subsistence(db: Session, rows: int) -> float:
    """One 低保 认定 row for each of the first ``rows`` people, as the dataset pipeline stores it."""
    started = time.perf_counter()
    ring = keys_service.get_keyring()
    resource = resource_service.get_by_code(db=db, code=SUBSISTENCE)
    sensitive_elements = set(
        db.scalars(
            select(DataElement.code).where(
                DataElement.sensitivity.in_([Sensitivity.sensitive, Sensitivity.highly_sensitive])
            )
        )
    )
    sensitive = {
        item.name for item in resource.items if item.element and item.element.code in sensitive_elements
    }
    minzheng = _department_id(db, "minzheng")
    batch = _batch(db, "bench_dibao", "bench-api 低保", minzheng, rows, resource_id=resource.id)
    now = utcnow()
    conn = db.connection()
    for start in range(0, rows, CHUNK):
        records = []
        for i in range(start, min(start + CHUNK, rows)):
            key = id_number(i)
            rnd = random.Random(i)
            values = {
                "姓名": person(i, key)["population.name"],
                "家庭住址": f"榕城市鼓楼区五四路{rnd.randint(1, 400)}号",
                "救助类别": rnd.choice(["01", "02", "03"]),
                "保障人数": str(rnd.randint(1, 5)),
                "月保障金额": f"{rnd.randint(500, 3000)}.00",
                "认定日期": "2025-06-01",
                "所属街道（乡镇）": "鼓东街道",
            }
            stored = dataset_subjects.stored_key(ring, SUBSISTENCE, [key])
            line = json.dumps(values, ensure_ascii=False, sort_keys=True)
            records.append(
                {
                    "resource_id": resource.id,
                    "subject_key": stored,
                    "record_key": dataset_subjects.record_key(ring, [values["认定日期"]]),
                    "subject_cipher": dataset_subjects.subject_cipher(ring, SUBSISTENCE, [key]),
                    "values": json.dumps(
                        ring.seal(values, sensitive=sensitive, aad=stored), ensure_ascii=False, sort_keys=True
                    ),
                    "row_hash": ring.digest(line),
                    "valid_from": now,
                    "valid_to": None,
                    "batch_id": batch.id,
                    "source_row": i + 1,
                }
            )
        conn.execute(insert(DatasetRecord), records)
        print(f"  loaded {min(start + CHUNK, rows):>9,} / {rows:,} 低保 rows", flush=True)
    return time.perf_counter() - started


def subsistence_grant(db: Session) -> str:
    """人社's grant for 民政's 低保救助对象信息 through the real workflow (民政's approver decides)."""
    users = {u.username: u for u in db.scalars(select(User))}
    approver = User(
        username="bench_minzheng_approver",
        full_name="bench 民政审批",
        role=Role.dept_approver,
        department_id=_department_id(db, "minzheng"),
        password_hash=users["approver"].password_hash,
    )
    db.add(approver)
    db.flush()
    today = local_date(utcnow())
    request = sharing_service.submit(
        db=db,
        data=RequestCreate(
            resource=SUBSISTENCE,
            items=SUBSISTENCE_ITEMS,
            purpose="医疗救助对象认定时核验低保身份",
            legal_basis="《社会救助暂行办法》第二十八条",
            business_reference="RS-BENCH-0002",
            access_modes=["lookup"],
            valid_from=today,
            valid_until=today + timedelta(days=180),
            expected_volume=10_000_000,
        ),
        user=users["requester"],
    )
    return _accept_and_approve(db, request, admin=users["catalog_admin"], approver=approver)


def raise_rate_limit(db: Session) -> None:
    """人口基本信息's rate limit, high enough that no call of the run is refused, still counted."""
    resource = resource_service.get_by_code(db=db, code=RESOURCE)
    params = [
        {**p, "value": "100000000次/分钟"} if p["kind"] == "rate_limit" else p
        for p in resource.control_params
    ]
    resource_service.update(
        db=db, resource=resource, data=ResourceUpdate.model_validate({"control_params": params})
    )


def grant_and_client(db: Session, access_modes: tuple[str, ...] = ("lookup",)) -> tuple[str, str, str]:
    """A grant of 人社 for 公安's 人口基本信息 through the real workflow, and a client of 人社."""
    users = {u.username: u for u in db.scalars(select(User))}
    today = local_date(utcnow())
    request = sharing_service.submit(
        db=db,
        data=RequestCreate(
            resource=RESOURCE,
            items=ITEMS,
            purpose="养老保险待遇资格认证时核验参保人身份",
            legal_basis="《社会保险法》第七十三条",
            business_reference="RS-BENCH-0001",
            access_modes=list(access_modes),  # 人口基本信息 is read 逐条查询 (its access_modes 管控参数)
            valid_from=today,
            valid_until=today + timedelta(days=180),
            expected_volume=10_000_000,
        ),
        user=users["requester"],
    )
    number = _accept_and_approve(db, request, admin=users["catalog_admin"], approver=users["approver"])
    client, secret = clients_service.create(db=db, department="renshe", name="bench 社保业务系统", user=None)
    return client.client_id, secret, number


def _department_id(db: Session, slug: str) -> int:
    department_id = db.scalar(select(Department.id).where(Department.slug == slug))
    assert department_id is not None, slug
    return department_id


def _batch(db: Session, source: str, title: str, department_id: int, rows: int, **target: Any) -> IngestBatch:
    """The succeeded batch the rows name: a library's (``library=``) or a dataset's (``resource_id=``)."""
    batch = IngestBatch(
        source=source,
        title=title,
        department_id=department_id,
        run_id="bench-api",
        status=BatchStatus.succeeded,
        rows_read=rows,
        inserted=rows,
        **target,
    )
    db.add(batch)
    db.flush()
    return batch


def _accept_and_approve(db: Session, request: SharingRequest, *, admin: User, approver: User) -> str:
    """The platform accepts the request and the provider's approver approves it; its number."""
    sharing_service.act(db=db, request=request, action=RequestAction.accept, data=TransitionIn(), user=admin)
    sharing_service.act(
        db=db, request=request, action=RequestAction.approve, data=TransitionIn(), user=approver
    )
    assert request.number is not None
    return request.number
