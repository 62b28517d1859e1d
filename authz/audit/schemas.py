"""The access log out: records as auditors read them, search filters, and the verification report."""

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator

from authz.audit.models import AccessRecord
from authz.calendar.service import TZ, end_of_day, start_of_day
from authz.types import AccessOutcome, AccessReason
from catalog_schema.errors import InvalidInput
from catalog_schema.types import LabelledEnum
from catalog_schema.validation import BilingualValueError

_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_time(text: str, *, until: bool = False) -> datetime:
    """An auditor's time bound as an aware UTC datetime.

    A bare date is a whole day in Asia/Shanghai: as a lower bound its 00:00, as an upper bound
    the next day's 00:00 (so ``--to 2026-05-31`` includes the 31st). A time without an offset is
    Asia/Shanghai time.
    """
    value = text.strip()
    try:
        if _DAY.fullmatch(value):
            day = date.fromisoformat(value)
            return end_of_day(day) if until else start_of_day(day)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"时间 {text!r} 无效，应为 YYYY-MM-DD 或 ISO 8601 时间（如 2026-05-01T08:00:00+08:00）",
            f"invalid time {text!r}; expected YYYY-MM-DD or ISO 8601 (e.g. 2026-05-01T08:00:00+08:00)",
            code="invalid_time",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=TZ)
    return moment.astimezone(UTC)


def _time_validator(*, until: bool) -> BeforeValidator:
    def check(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return parse_time(value, until=until)
        except InvalidInput as error:
            raise BilingualValueError(error.message, error.message_en) from None

    return BeforeValidator(check)


# Query parameters: a lower bound (inclusive) and an upper bound (exclusive; a date counts whole).
SinceTime = Annotated[datetime, _time_validator(until=False)]
UntilTime = Annotated[datetime, _time_validator(until=True)]


@dataclass(frozen=True)
class AuditFilter:
    """What an auditor narrows the log by; every field is optional."""

    since: datetime | None = None
    until: datetime | None = None
    department: str | None = None  # slug, credit code or id
    system: str | None = None  # a machine client's client_id
    resource: str | None = None
    outcome: AccessOutcome | None = None
    reason: AccessReason | None = None
    subject: str | None = None  # as typed: ID number, credit code, or certificate "type:number"


class AuditRecordRead(BaseModel):
    """One access record as an auditor sees it, with the names its ids stand for."""

    id: int
    seq: int
    at: datetime
    client_id: str | None
    department_id: int | None
    department_slug: str | None
    department_name: str | None
    operator: str | None
    grant_id: int | None
    request_number: str | None
    purpose_ref: str | None
    resource_code: str | None
    mode: str
    items: list[str]
    subject_fingerprint: str | None
    subjects: int
    rows_returned: int
    outcome: str
    outcome_label: str | None
    reason_code: str | None
    reason_label: str | None
    reason: str | None
    client_ip: str | None
    request_id: str
    hash: str

    @classmethod
    def of(
        cls,
        record: AccessRecord,
        *,
        department_slug: str | None = None,
        department_name: str | None = None,
        request_number: str | None = None,
    ) -> "AuditRecordRead":
        try:
            items = [str(i) for i in json.loads(record.items)]
        except (ValueError, TypeError):
            items = [record.items]  # shown as stored; verify says whether it was altered
        return cls(
            id=record.id,
            seq=record.seq,
            at=record.at,
            client_id=record.client_id,
            department_id=record.department_id,
            department_slug=department_slug,
            department_name=department_name,
            operator=record.operator,
            grant_id=record.grant_id,
            request_number=request_number,
            purpose_ref=record.purpose_ref,
            resource_code=record.resource_code,
            mode=record.mode,
            items=items,
            subject_fingerprint=record.subject_fingerprint,
            subjects=record.subjects,
            rows_returned=record.rows_returned,
            outcome=record.outcome,
            outcome_label=_label(AccessOutcome, record.outcome),
            reason_code=record.reason_code,
            reason_label=_label(AccessReason, record.reason_code),
            reason=record.reason,
            client_ip=record.client_ip,
            request_id=record.request_id,
            hash=record.hash,
        )


def _label(enum_cls: type[LabelledEnum], value: str | None) -> str | None:
    member = enum_cls._value2member_map_.get(value) if value is not None else None
    return member.label if isinstance(member, LabelledEnum) else None


class BreakKind(LabelledEnum):
    """What a verification found wrong, and what it means."""

    hash_mismatch = "hash_mismatch", "记录内容与其哈希不符（记录被改动）"
    link_broken = "link_broken", "记录未链接到前一条记录（有记录被删除、插入或调换顺序）"
    seq_gap = "seq_gap", "序号不连续（有记录被删除或插入）"
    head_mismatch = "head_mismatch", "链头与最后一条记录不符（末尾记录被删除或追加）"
    checkpoint_signature_invalid = "checkpoint_signature_invalid", "检查点签名无效"
    checkpoint_mismatch = "checkpoint_mismatch", "检查点与该序号记录的哈希不符"
    malformed = "malformed", "导出文件内容格式错误"
    unpinned = "unpinned", "记录未被平台公布的公钥签名的检查点覆盖"
    subjects_mismatch = "subjects_mismatch", "导出的主体留痕与记录的摘要不符（留痕被删除、改动或增加）"


class ChainBreak(BaseModel):
    """One place where the chain does not hold."""

    kind: BreakKind
    label: str
    seq: int | None
    record_id: int | None = None
    checkpoint_id: int | None = None
    message: str
    message_en: str


class Note(BaseModel):
    message: str
    message_en: str


class VerifyReport(BaseModel):
    """The outcome of recomputing the chain and checking every checkpoint's signature."""

    intact: bool
    source: Literal["database", "export"]
    records: int  # records read
    records_verified: int  # records whose own checks all passed
    checkpoints: int
    checkpoints_verified: int
    first_seq: int | None
    last_seq: int | None
    head_seq: int | None  # the head row (database) or the declared last seq (export)
    # Up to here a record removed or replaced at the end would be found: the head (database)
    # or the last good signed checkpoint (export).
    verified_through: int | None
    first_break: ChainBreak | None
    breaks: list[ChainBreak]  # the first few, in seq order
    break_count: int
    key_fingerprints: dict[str, str]  # signing key id → SHA-256 of its public key (DER)
    notes: list[Note]
