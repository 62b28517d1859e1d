"""GB 11643-1999 公民身份号码 (citizen identity number).

Eighteen characters: a six-digit address code (GB/T 2260), an eight-digit birth date
YYYYMMDD, a three-digit sequence code whose last digit is odd for men and even for women,
and a check character computed with ISO 7064 MOD 11-2 (0-9 or X).

``validate`` and ``is_valid`` are python-stdnum's ``stdnum.cn.ric`` (2.2), with Chinese
messages. ``check`` gives the same verdict for a whole column at once and says why a value
fails:

* ``id_format``: not 17 digits followed by a digit or X, after stdnum's compaction
  (surrounding whitespace removed, lowercase x upper-cased, full-width digits folded);
* ``id_checksum``: the check character is wrong;
* ``id_birth_date``: characters 7-14 are not a real date (e.g. 19900230, year 0000);
* ``id_region``: the address code is not in GB/T 2260 (stdnum's loc.dat), or was not in
  force in the birth year; stdnum checks this too, so it has a code of its own.

They are tested in stdnum's order, so a value has the first reason that applies. stdnum
raises InvalidChecksum when the 18th character is neither a digit nor X; ``check`` calls
that ``id_format``, as no check character could be right there.

``validate_key`` and ``is_valid_key`` check a number that names a subject in a data call: as
given (it is already in the canonical form the libraries are keyed by), and without the
address code, which is assigned when the number is issued: 350102 (鼓楼区, created in the
1980s) is right for someone born there in 1950. Refusing such a number would lock a real
person out of every data call (and the table lookup is the slowest part of the check).

>>> validate('11010519491231002X')
'11010519491231002X'
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
from stdnum.cn import ric
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength, ValidationError

from quality import gb2260
from quality.vector import TEXT, char_matrix, stdnum_compact

LENGTH = 18
_DIGITS = re.compile(r"[0-9]{17}")
_WEIGHTS = [2 ** (17 - i) % 11 for i in range(17)]
_MESSAGES: dict[type[ValidationError], str] = {
    InvalidLength: "公民身份号码应为 18 位",
    InvalidFormat: "公民身份号码前 17 位应为数字",
    InvalidChecksum: "公民身份号码校验码错误",
    InvalidComponent: "公民身份号码中的出生日期或地址码无效",
}
_NO_SUCH_DATE = "公民身份号码中的出生日期不存在"


def compact(value: str) -> str:
    """Return the value as stdnum keeps it: stripped, upper-cased, full-width digits folded."""
    return str(ric.compact(value))


def calc_check_digit(value: str) -> str:
    """Return the ISO 7064 MOD 11-2 check character of the first 17 digits of the value."""
    # stdnum reads the first 17 characters of a whole number; a 17-digit body gets a placeholder.
    return str(ric.calc_check_digit(value[:17] + "0"))


def validate(value: str) -> str:
    """Check the value with stdnum.cn.ric and return it compacted; raise a ValidationError if not."""
    try:
        return str(ric.validate(value))
    except ValidationError as exc:
        raise type(exc)(_MESSAGES[type(exc)]) from exc
    except KeyError as exc:
        # stdnum 2.2 raises KeyError('county') for an address code whose province is known
        # but whose county is not (e.g. 110199); that is an unknown address code.
        raise InvalidComponent(_MESSAGES[InvalidComponent]) from exc


def is_valid(value: str) -> bool:
    """Check whether the value is a valid 公民身份号码."""
    try:
        return bool(validate(value))
    except ValidationError:
        return False


def validate_key(value: str) -> str:
    """Check the value as given for all but its address code; return it or raise a ValidationError."""
    if len(value) != LENGTH:
        raise InvalidLength(_MESSAGES[InvalidLength])
    if not _DIGITS.fullmatch(value[:17]):
        raise InvalidFormat(_MESSAGES[InvalidFormat])
    if ric.calc_check_digit(value) != value[17]:
        raise InvalidChecksum(_MESSAGES[InvalidChecksum])
    try:
        ric.get_birth_date(value)
    except InvalidComponent as exc:
        raise InvalidComponent(_NO_SUCH_DATE) from exc
    return value


def is_valid_key(value: str) -> bool:
    """Check whether the value as given is a 公民身份号码, its address code aside."""
    try:
        return bool(validate_key(value))
    except ValidationError:
        return False


def _number(chars: np.ndarray, start: int, stop: int) -> np.ndarray:
    """The decimal number spelt by columns start..stop-1 of a matrix of ASCII digits."""
    total = np.zeros(len(chars), dtype=np.int64)
    for column in range(start, stop):
        total = total * 10 + (chars[:, column] - ord("0"))
    return total


class _Parsed:
    """The compacted values, which are present and well formed, and the parts of those."""

    def __init__(self, values: pd.Series) -> None:
        raw = values.astype(TEXT)
        self.text = stdnum_compact(raw)
        self.present = (raw != "").fillna(False).to_numpy(dtype=bool)
        self.well_formed = self.text.str.fullmatch(r"[0-9]{17}[0-9X]").fillna(False).to_numpy(dtype=bool)
        # Column by column on the raw bytes: converting all 17 columns of a million rows to
        # integers at once costs more than every check together.
        self.chars = char_matrix(self.text[self.well_formed], LENGTH)
        self.year = _number(self.chars, 6, 10)
        self.month = _number(self.chars, 10, 12)
        self.day = _number(self.chars, 12, 14)

    def spread(self, found: np.ndarray) -> np.ndarray:
        """Place values computed for the well-formed rows into an all-None array of every row."""
        result = np.full(len(self.well_formed), None, dtype=object)
        result[self.well_formed] = found
        return result

    def checksum_ok(self) -> np.ndarray:
        # ISO 7064 MOD 11-2: the weighted sum including the check value is 1 (mod 11).
        total = np.zeros(len(self.chars), dtype=np.int64)
        for column, weight in enumerate(_WEIGHTS):
            total += (self.chars[:, column].astype(np.int64) - ord("0")) * weight
        value = (1 - total) % 11
        return self.chars[:, 17] == np.where(value == 10, ord("X"), value + ord("0"))

    def date_ok(self) -> np.ndarray:
        # datetime.date() decides for stdnum: years 1-9999, proleptic Gregorian calendar.
        leap = (self.year % 4 == 0) & ((self.year % 100 != 0) | (self.year % 400 == 0))
        month_days = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
        known_month = (self.month >= 1) & (self.month <= 12)
        days = month_days[np.where(known_month, self.month, 0)] + (leap & (self.month == 2))
        return (self.year >= 1) & known_month & (self.day >= 1) & (self.day <= days)

    def region_ok(self) -> np.ndarray:
        return gb2260.in_force(_number(self.chars, 0, 6), self.year)


def check(values: pd.Series) -> pd.Series:
    """Return None where the value is valid, missing or empty, else the reason it is not."""
    parsed = _Parsed(values)
    found = np.full(len(parsed.chars), None, dtype=object)
    date_ok = parsed.date_ok()
    # Later assignments win, so go from the last check stdnum makes to the first.
    found[date_ok & ~parsed.region_ok()] = "id_region"
    found[~date_ok] = "id_birth_date"
    found[~parsed.checksum_ok()] = "id_checksum"
    reasons = parsed.spread(found)
    # A blank value ("  ") is present: only null and "" are left to the requiredness check.
    reasons[parsed.present & ~parsed.well_formed] = "id_format"
    return pd.Series(reasons, index=values.index, dtype=object)


def birth_dates(values: pd.Series) -> pd.Series:
    """Return "YYYY-MM-DD" where the value is well formed and characters 7-14 are a real date."""
    parsed = _Parsed(values)
    ok = parsed.date_ok()
    iso = np.full((int(ok.sum()), 10), ord("-"), dtype=np.uint8)
    iso[:, 0:4] = parsed.chars[ok, 6:10]
    iso[:, 5:7] = parsed.chars[ok, 10:12]
    iso[:, 8:10] = parsed.chars[ok, 12:14]
    offsets = pa.py_buffer(np.arange(0, iso.size + 1, 10, dtype=np.int32))
    text = pa.Array.from_buffers(pa.string(), len(iso), [None, offsets, pa.py_buffer(iso)])
    found = np.full(len(ok), None, dtype=object)
    found[ok] = text.to_numpy(zero_copy_only=False)
    return pd.Series(parsed.spread(found), index=values.index, dtype=object)


def sex_codes(values: pd.Series) -> pd.Series:
    """Return the GB/T 2261.1 code the 17th digit implies: "1" (男性) if odd, "2" (女性) if even."""
    parsed = _Parsed(values)
    odd = (parsed.chars[:, 16] - ord("0")) % 2 == 1
    return pd.Series(parsed.spread(np.where(odd, "1", "2")), index=values.index, dtype=object)
