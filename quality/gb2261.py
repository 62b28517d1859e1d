"""GB/T 2261.1-2003 个人基本信息分类与代码 第1部分：人的性别代码 (codes for human sex).

One digit: 0 未知的性别, 1 男性, 2 女性, 9 未说明的性别. The check is membership of that
table after stripping surrounding whitespace; names such as "男" are not codes.

>>> name('2')
'女性'
"""

from __future__ import annotations

import pandas as pd
from stdnum.exceptions import InvalidComponent, InvalidLength, ValidationError

from quality.vector import unknown_codes

SEXES = {"0": "未知的性别", "1": "男性", "2": "女性", "9": "未说明的性别"}


def compact(value: str) -> str:
    """Strip surrounding whitespace."""
    return value.strip()


def validate(value: str) -> str:
    """Check that the value is a GB/T 2261.1 sex code; return it compacted."""
    code = compact(value)
    if len(code) != 1:
        raise InvalidLength("性别代码应为 1 位数字")
    if code not in SEXES:
        raise InvalidComponent(f"性别代码 {code} 不在 GB/T 2261.1-2003 中")
    return code


def is_valid(value: str) -> bool:
    """Check whether the value is a GB/T 2261.1 sex code."""
    try:
        return bool(validate(value))
    except ValidationError:
        return False


def name(code: str) -> str:
    """Return the name of the sex code, e.g. '男性'."""
    return SEXES[validate(code)]


def check(values: pd.Series) -> pd.Series:
    """Return None for a known code, a missing or an empty value, else "sex_unknown_code"."""
    return unknown_codes(values, SEXES, "sex_unknown_code")
