"""信用信息类别: the kinds of public credit record the 公共信用库 holds (seeds/002 §六(四)2).

Two digits: 01 行政许可, 02 行政处罚 (the 双公示 pair), 03 失信被执行人 (courts), 04 经营异常名录,
05 严重违法失信名单 (market regulation), 06 监督检查, 07 质量抽检 (regulators' inspections),
08 守信红名单 (commendations). The check is membership of that table after stripping surrounding
whitespace; names such as "行政处罚" are not codes.

A record with a 公示截止日期 is 公示中 until that day ends and 公示期满 after (seeds/002: "公示期满后
停止公示"); the platform derives that status when it serves a record, so it is never stale.

>>> name('02')
'行政处罚'
"""

from __future__ import annotations

from datetime import date

import pandas as pd
from stdnum.exceptions import InvalidComponent, InvalidLength, ValidationError

from quality.vector import unknown_codes

KINDS = {
    "01": "行政许可",
    "02": "行政处罚",
    "03": "失信被执行人",
    "04": "经营异常名录",
    "05": "严重违法失信名单",
    "06": "监督检查",
    "07": "质量抽检",
    "08": "守信红名单",
}
LICENSE, PENALTY, DISHONEST_DEBTOR = "01", "02", "03"

PUBLICITY_END_ELEMENT = "credit.publicity_end_date"
PUBLICITY_STATUS_ELEMENT = "credit.publicity_status"
ON_PUBLICITY, PUBLICITY_ENDED = "公示中", "公示期满"


def compact(value: str) -> str:
    """Strip surrounding whitespace."""
    return value.strip()


def validate(value: str) -> str:
    """Check that the value is a credit record kind code; return it compacted."""
    code = compact(value)
    if len(code) != 2:
        raise InvalidLength("信用信息类别代码应为 2 位数字")
    if code not in KINDS:
        raise InvalidComponent(f"信用信息类别代码 {code} 不在类别表中")
    return code


def is_valid(value: str) -> bool:
    """Check whether the value is a credit record kind code."""
    try:
        return bool(validate(value))
    except ValidationError:
        return False


def name(code: str) -> str:
    """Return the name of the kind, e.g. '行政处罚'."""
    return KINDS[validate(code)]


def check(values: pd.Series) -> pd.Series:
    """Return None for a known code, a missing or an empty value, else "credit_kind_unknown"."""
    return unknown_codes(values, KINDS, "credit_kind_unknown")


def publicity_status(end: object, today: date) -> str | None:
    """公示中 through the 公示截止日期 (a YYYY-MM-DD text), 公示期满 after it; None without a date."""
    if not isinstance(end, str) or not end:
        return None
    return ON_PUBLICITY if end >= today.isoformat() else PUBLICITY_ENDED
