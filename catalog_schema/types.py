"""Vocabularies and constrained types of the catalog, named once.

The vocabularies follow 政务信息资源目录编制指南(试行) (发改高技〔2017〕1272号): resource
classes 基础/主题/部门, formats, data types of information items, share types, update cycles.
Each enum member carries its Chinese label for the portal and for error messages.
"""

import enum
import unicodedata
from datetime import date
from typing import Annotated, Self, cast

from pydantic import AfterValidator, Field, StringConstraints

from catalog_schema.validation import BilingualValueError


class LabelledEnum(enum.StrEnum):
    """A string enum whose members have a Chinese label."""

    label: str

    def __new__(cls, value: str, label: str) -> "LabelledEnum":
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member

    @classmethod
    def of(cls, value: str) -> Self:
        """The member whose value is ``value`` (as a database returns it in raw JSON)."""
        member = cls._value2member_map_.get(value)
        if member is None:
            raise ValueError(f"{value!r} is not a {cls.__name__}")
        return cast(Self, member)

    @classmethod
    def choices(cls) -> str:
        """``value(标签)`` for every member, for error messages."""
        return ", ".join(f"{m.value}({m.label})" for m in cls)


class DepartmentKind(LabelledEnum):
    government = "government", "政府部门"
    party = "party", "党委部门"
    court = "court", "审判机关"
    procuratorate = "procuratorate", "检察机关"
    institution = "institution", "事业单位"
    other = "other", "其他"


class Library(LabelledEnum):
    """The four base libraries (基础库) a data element belongs to."""

    population = "population", "人口库"
    legal_person = "legal_person", "法人库"
    certificate = "certificate", "电子证照库"
    credit = "credit", "公共信用库"


class DataType(LabelledEnum):
    """Data types of an information item, 1272号 §信息项 数据类型."""

    C = "C", "字符型"
    N = "N", "数值型"
    Y = "Y", "货币型"
    D = "D", "日期型"
    T = "T", "日期时间型"
    L = "L", "逻辑型"
    M = "M", "备注型"
    G = "G", "通用型"
    B = "B", "双精度型"
    I = "I", "整数型"  # noqa: E741 - the guide's own letter
    F = "F", "浮点型"


class Sensitivity(LabelledEnum):
    """Grading of a data element; ``sensitive`` and above are encrypted at rest."""

    public = "public", "公开"
    internal = "internal", "内部"
    sensitive = "sensitive", "敏感"
    highly_sensitive = "highly_sensitive", "高度敏感"


class SourceRole(LabelledEnum):
    authoritative = "authoritative", "权威源"
    verification = "verification", "校核源"


class ResourceClass(LabelledEnum):
    """信息资源分类 类: the one-digit first level of the classification code."""

    basic = "basic", "基础信息资源"
    theme = "theme", "主题信息资源"
    department = "department", "部门信息资源"

    @property
    def digit(self) -> str:
        return {"basic": "1", "theme": "2", "department": "3"}[self.value]


class ResourceFormat(LabelledEnum):
    """信息资源格式."""

    electronic_file = "electronic_file", "电子文件"
    spreadsheet = "spreadsheet", "电子表格"
    database = "database", "数据库"
    image = "image", "图形图像"
    streaming = "streaming", "流媒体"
    self_describing = "self_describing", "自描述格式"
    service_api = "service_api", "服务接口"


class ShareType(LabelledEnum):
    """共享类型."""

    unconditional = "unconditional", "无条件共享"
    conditional = "conditional", "有条件共享"
    none = "none", "不予共享"


class ShareMethod(LabelledEnum):
    """共享方式: how a consumer obtains the resource through the platform."""

    api = "api", "接口共享"
    file = "file", "文件下载"
    database = "database", "库表交换"


class UpdateCycle(LabelledEnum):
    """更新周期."""

    realtime = "realtime", "实时"
    daily = "daily", "每日"
    weekly = "weekly", "每周"
    monthly = "monthly", "每月"
    quarterly = "quarterly", "每季度"
    semiannual = "semiannual", "每半年"
    yearly = "yearly", "每年"
    irregular = "irregular", "不定期"


class ControlParamKind(LabelledEnum):
    """管控参数: conditions a service interface imposes on every call."""

    mandatory_query_key = "mandatory_query_key", "必填查询条件"
    rate_limit = "rate_limit", "调用频率限制"
    time_window = "time_window", "调用时段限制"
    ip_allowlist = "ip_allowlist", "来源地址限制"
    access_modes = "access_modes", "允许的访问方式"
    other = "other", "其他"


class DeliveryKind(LabelledEnum):
    """How a granted resource's rows are delivered (its delivery binding)."""

    library = "library", "基础库视图"
    dataset = "dataset", "库表交换（资源数据集）"
    proxy = "proxy", "接口共享（部门服务代理）"


class InterfaceMode(LabelledEnum):
    """How a system reads a resource: the modes an ``access_modes`` 管控参数 names.

    The data plane's own vocabulary is ``authz.types.AccessMode``; the catalog may not import authz,
    so the names and labels are repeated here, and a test holds the two equal.
    """

    lookup = "lookup", "单条查询"
    batch = "batch", "批量查询"
    bulk_export = "bulk_export", "批量导出"
    verify = "verify", "核验"


class ResourceStatus(LabelledEnum):
    draft = "draft", "草稿"
    published = "published", "已发布"
    retired = "retired", "已撤销"


class BatchStatus(LabelledEnum):
    """Where an ingest batch stands."""

    running = "running", "运行中"
    succeeded = "succeeded", "成功"
    skipped = "skipped", "源未变化，跳过"
    failed = "failed", "失败"
    abandoned = "abandoned", "中断（进程退出）"


class QuarantineQueue(LabelledEnum):
    """Rejected rows are wrong; review rows may be legal and wait for a person (pilot-era credit codes)."""

    rejected = "rejected", "拒收"
    review = "review", "待人工复核"


class QuarantineStatus(LabelledEnum):
    open = "open", "待处理"
    resubmitted = "resubmitted", "已重新提交"
    discarded = "discarded", "已废弃"


class DiscrepancyKind(LabelledEnum):
    value_mismatch = "value_mismatch", "取值不一致"
    missing_in_authoritative = "missing_in_authoritative", "权威源无此主体"
    rule_violation = "rule_violation", "跨部门规则冲突"


class DiscrepancyStatus(LabelledEnum):
    """A discrepancy ticket's life: open, then confirmed, corrected or dismissed with a reason."""

    open = "open", "待核实"
    confirmed = "confirmed", "已确认"
    corrected = "corrected", "已更正"
    dismissed = "dismissed", "已驳回"


# The elements that identify a subject by a national code (named once; quality checks them,
# the libraries key and seal by them).
ID_ELEMENT = "population.id_number"
CREDIT_CODE_ELEMENTS = frozenset({"legal_person.credit_code"})
# Keys that may be either a person's ID number or an organisation's credit code.
SUBJECT_CODE_ELEMENTS = frozenset({"credit.subject_code", "certificate.holder_code"})
# Elements that can hold a person's ID number: graded 高度敏感 and masked as an ID number.
ID_CARRYING_ELEMENTS = frozenset({ID_ELEMENT}) | SUBJECT_CODE_ELEMENTS

DepartmentSlug = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z][a-z0-9_]{1,31}$")]
ElementCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=64, pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"),
]
RegionCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{6}$")]
Username = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z][a-z0-9_.]{2,31}$")]


def _no_control_characters(value: str, *, allow_newlines: bool) -> str:
    allowed = "\n\r\t" if allow_newlines else ""
    bad = next((c for c in value if unicodedata.category(c) == "Cc" and c not in allowed), None)
    if bad is not None:
        raise BilingualValueError(
            f"不能包含控制字符 U+{ord(bad):04X}，请删除后重新提交",
            f"must not contain the control character U+{ord(bad):04X}",
        )
    return value


ShortText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(lambda v: _no_control_characters(v, allow_newlines=False)),
]
LongText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=4000),
    AfterValidator(lambda v: _no_control_characters(v, allow_newlines=True)),
]
# 发布日期: bounded, so a typing slip (0001-01-01, 9999-12-31) is caught at the door.
PublishDate = Annotated[date, Field(ge=date(1990, 1, 1), le=date(2099, 12, 31))]
# A department named by its slug or its unified social credit code.
DepartmentKey = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=2, max_length=32, pattern=r"^[A-Za-z0-9_]+$")
]
# Text searched for in names and abstracts: one line, no control characters.
# A row id as a caller may send it (body or query): the databases' integer ids are 64-bit.
MAX_ROW_ID = 2**63 - 1
RowNumber = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]
SearchText = Annotated[str, StringConstraints(max_length=100, pattern=r"^[^\x00-\x1f\x7f]*$")]
