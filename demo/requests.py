"""Demo sharing requests in every state, back-dated on the working-day clock so every colour shows.

Each entry submits a request some working days ago and takes the actions that bring it to its
state, at the times they would have happened; the clock then shows on time, due soon (yellow),
overdue (red), paused, met and met late. Seeding again adds nothing.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from authz.calendar.service import TZ, WorkingCalendar
from authz.clock import service as clock_service
from authz.sharing import service as sharing_service
from authz.sharing.models import SharingRequest
from authz.sharing.schemas import RequestCreate, TransitionIn
from authz.types import RequestAction
from catalog_schema.errors import NotFound
from catalog_schema.user import service as user_service
from catalog_schema.user.models import User

A = RequestAction
DEPARTMENT = "101001/000001"  # 公安 人口基本信息: 有条件共享, the provider decides
DIRECT = "102001/000001"  # 市场监管 企业登记基本信息: 无条件共享, the platform provides
BIRTHS = "101003/000001"  # 卫健 出生医学证明信息: 卫健's service (接口共享), 卫健 decides
SUBSISTENCE = "203001/000001"  # 民政 低保救助对象信息: 民政's own table (库表交换), 民政 decides
# 数据局 社会救助对象综合核验信息: the platform's composite; 公安, 民政 and 卫健 each decide their items.
COMPOSITE = "203002/000001"
LEGAL_PERSONS = "102004/000001"  # 数据局 法人基础信息: one record per credit code, whoever registered it
SERIOUS = "208001/000001"  # 市场监管 严重违法失信名单信息: listings still in their 公示期
PEOPLE_ITEMS = ["公民身份号码", "姓名", "出生日期", "户籍地"]
COMPANY_ITEMS = ["统一社会信用代码", "名称", "登记状态", "住所"]
BIRTH_ITEMS = ["出生医学证明编号", "新生儿姓名", "新生儿性别", "出生日期"]
# What each resource's requests ask for: items, and access modes (人口基本信息 and 出生医学证明信息
# are read 逐条查询 only, by their 管控参数).
ASKS: dict[str, tuple[list[str], list[str]]] = {
    DEPARTMENT: (PEOPLE_ITEMS, ["lookup"]),
    DIRECT: (COMPANY_ITEMS, ["lookup", "batch"]),
    BIRTHS: (BIRTH_ITEMS, ["lookup"]),
    SUBSISTENCE: (["公民身份号码", "姓名", "救助类别", "月保障金额", "认定日期"], ["lookup"]),
    COMPOSITE: (["公民身份号码", "姓名", "住址", "婚姻状况", "死亡标识", "参保状态"], ["lookup"]),
    LEGAL_PERSONS: (
        [
            "统一社会信用代码",
            "名称",
            "法定代表人（负责人）",
            "登记机关",
            "经营（业务）范围",
            "企业类型",
            "机关类别",
        ],
        ["lookup", "batch"],
    ),
    SERIOUS: (
        ["统一社会信用代码", "名称", "列入决定书文号", "列入事由", "公示截止日期", "公示状态"],
        ["lookup"],
    ),
}


@dataclass(frozen=True)
class Step:
    action: RequestAction
    who: str
    working_days_ago: int
    reason: str | None = None
    narrow_to: tuple[str, ...] | None = None


@dataclass(frozen=True)
class DemoRequest:
    reference: str  # business_reference, which also makes seeding idempotent
    resource: str
    purpose: str
    submitted_working_days_ago: int
    steps: tuple[Step, ...] = ()
    valid_days: int = 365
    # What is asked instead of ASKS[resource]: (items, access modes).
    asks: tuple[tuple[str, ...], tuple[str, ...]] | None = None


_SUPPLEMENT = "请补充加盖公章的授权委托书 / please add the signed letter of authority"
REQUESTS: tuple[DemoRequest, ...] = (
    DemoRequest("DEMO-01", DEPARTMENT, "养老保险待遇资格认证（刚提交，审查期内）", 0),
    DemoRequest("DEMO-02", DEPARTMENT, "工伤认证身份核验（审查今明到期，黄牌预警）", 3),
    DemoRequest("DEMO-03", DEPARTMENT, "失业金申领身份核验（审查已超期，红牌督办）", 5),
    DemoRequest(
        "DEMO-04",
        DEPARTMENT,
        "社保卡补换身份核验（审查补正中）",
        2,
        (Step(A.request_supplement, "catalog_admin", 1, _SUPPLEMENT),),
    ),
    DemoRequest(
        "DEMO-05",
        DEPARTMENT,
        "调查统计（用途不明确，不予受理）",
        8,
        (Step(A.reject, "catalog_admin", 6, "用途与所申请信息项不相符"),),
    ),
    DemoRequest(
        "DEMO-06", DIRECT, "企业参保登记核验（待平台提供）", 3, (Step(A.accept, "catalog_admin", 2),)
    ),
    DemoRequest(
        "DEMO-07", DEPARTMENT, "灵活就业人员参保核验（待公安审批）", 2, (Step(A.accept, "catalog_admin", 1),)
    ),
    DemoRequest(
        "DEMO-08",
        DEPARTMENT,
        "医保异地备案核验（部门审批已超期，红牌督办）",
        16,
        (Step(A.accept, "catalog_admin", 13),),
    ),
    DemoRequest(
        "DEMO-09",
        DEPARTMENT,
        "退休人员待遇发放核验（部门要求补正）",
        6,
        (Step(A.accept, "catalog_admin", 5), Step(A.request_supplement, "approver", 2, _SUPPLEMENT)),
    ),
    DemoRequest(
        "DEMO-10",
        DEPARTMENT,
        "批量导出全市人口（审批未通过）",
        12,
        (
            Step(A.accept, "catalog_admin", 11),
            Step(A.deny, "approver", 4, "超出最小必要范围，请按业务逐条查询"),
        ),
    ),
    DemoRequest("DEMO-11", DEPARTMENT, "重复提交（已撤回）", 3, (Step(A.withdraw, "requester", 2),)),
    DemoRequest(
        "DEMO-12",
        DEPARTMENT,
        "社保待遇资格认证（已授权，审批缩小信息项；审查超期办结）",
        20,
        (
            Step(A.accept, "catalog_admin", 15),
            Step(A.approve, "approver", 10, narrow_to=("公民身份号码", "姓名")),
        ),
    ),
    DemoRequest(
        "DEMO-13",
        DIRECT,
        "企业参保登记核验（平台直接提供，已授权）",
        9,
        (Step(A.accept, "catalog_admin", 8), Step(A.provide, "catalog_admin", 7)),
    ),
    DemoRequest(
        "DEMO-14",
        DEPARTMENT,
        "专项核查（授权已撤销）",
        30,
        (
            Step(A.accept, "catalog_admin", 29),
            Step(A.approve, "approver", 25),
            Step(A.revoke, "approver", 3, "专项核查已结束"),
        ),
    ),
    DemoRequest(
        "DEMO-15",
        DIRECT,
        "年度企业年报抽查（授权已到期）",
        40,
        (Step(A.accept, "catalog_admin", 39), Step(A.provide, "catalog_admin", 38)),
        valid_days=30,
    ),
    DemoRequest(
        "DEMO-16",
        BIRTHS,
        "新生儿参保登记核验出生医学证明（“出生一件事”联办，卫健已授权）",
        12,
        (Step(A.accept, "catalog_admin", 11), Step(A.approve, "weijian_approver", 6)),
    ),
    DemoRequest(
        "DEMO-17",
        SUBSISTENCE,
        "城乡居民医保缴费资助对象认定（核对低保身份，民政已授权）",
        14,
        (Step(A.accept, "catalog_admin", 13), Step(A.approve, "minzheng_approver", 8)),
    ),
    DemoRequest(
        "DEMO-18",
        DEPARTMENT,
        "社保卡申领实名核验（姓名与公民身份号码是否一致，公安已授权）",
        12,
        (Step(A.accept, "catalog_admin", 11), Step(A.approve, "approver", 7)),
        asks=(("公民身份号码", "姓名"), ("verify",)),
    ),
    # The grant holds what the owners approved: 姓名 (公安 left out 住址), 死亡标识 (卫健), and
    # what the platform grants itself: the key, and 参保状态, 人社's own data.
    DemoRequest(
        "DEMO-19",
        COMPOSITE,
        "城乡居民养老保险待遇资格综合核验（组合资源，公安、卫健同意，民政不同意婚姻状况，已授权）",
        14,
        (
            Step(A.accept, "catalog_admin", 13),
            Step(A.approve, "approver", 10, narrow_to=("姓名",)),
            Step(A.deny, "minzheng_approver", 9, "待遇资格认证无须婚姻状况，不符合最小必要原则"),
            Step(A.approve, "weijian_approver", 7),
        ),
    ),
    DemoRequest(
        "DEMO-20",
        LEGAL_PERSONS,
        "参保单位登记时核验单位主体信息（企业、机关、事业单位、社会组织，平台已提供）",
        6,
        (Step(A.accept, "catalog_admin", 5), Step(A.provide, "catalog_admin", 4)),
    ),
    DemoRequest(
        "DEMO-21",
        SERIOUS,
        "社会保险领域信用联合惩戒对象核查（平台已提供）",
        6,
        (Step(A.accept, "catalog_admin", 5), Step(A.provide, "catalog_admin", 4)),
    ),
)


def _at(
    calendar: WorkingCalendar, today: date, working_days_ago: int, now: datetime, minute: int
) -> datetime:
    if working_days_ago == 0:
        return now - timedelta(minutes=5)
    day = calendar.working_day_before(today, working_days_ago)
    return datetime.combine(day, time(9, minute), TZ).astimezone(UTC)


def _user(db: Session, username: str) -> User:
    user = user_service.get_by_username(db=db, username=username)
    if user is None:
        raise NotFound(
            f"演示用户 {username} 不存在", f"demo user {username} is missing", code="user_not_found"
        )
    return user


def seed(db: Session, *, now: datetime | None = None) -> int:
    """Add the demo requests that are missing; returns how many were added."""
    now = now or datetime.now(UTC)
    calendar = sharing_service.calendar(db=db)
    today = now.astimezone(TZ).date()
    existing = set(
        db.scalars(
            select(SharingRequest.business_reference).where(SharingRequest.business_reference.like("DEMO-%"))
        )
    )
    added = 0
    for spec in REQUESTS:
        if spec.reference in existing:
            continue
        submitted_at = _at(calendar, today, spec.submitted_working_days_ago, now, 0)
        start = submitted_at.astimezone(TZ).date()
        items, modes = (list(spec.asks[0]), list(spec.asks[1])) if spec.asks else ASKS[spec.resource]
        data = RequestCreate(
            resource=spec.resource,
            items=items,
            purpose=spec.purpose,
            legal_basis="《社会保险法》第七十三条；《政务信息资源共享管理暂行办法》",
            business_reference=spec.reference,
            access_modes=modes,
            valid_from=start,
            valid_until=start + timedelta(days=spec.valid_days),
            expected_volume=300,
        )
        request = sharing_service.submit(db=db, data=data, user=_user(db, "requester"), now=submitted_at)
        for minute, step in enumerate(spec.steps, start=1):
            body = TransitionIn(reason=step.reason, items=list(step.narrow_to) if step.narrow_to else None)
            sharing_service.act(
                db=db,
                request=request,
                action=step.action,
                data=body,
                user=_user(db, step.who),
                now=_at(calendar, today, step.working_days_ago, now, minute),
            )
        added += 1
    sharing_service.expire_grants(db=db, now=now)
    clock_service.recompute(db=db, now=now, calendar=calendar)
    return added


def count(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(SharingRequest)) or 0
