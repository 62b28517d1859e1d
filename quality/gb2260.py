"""GB/T 2260 中华人民共和国行政区划代码 (administrative division codes of the PRC).

A code is six digits: two for the province, two for the prefecture, two for the county.
The list is python-stdnum's ``stdnum/cn/loc.dat`` as shipped with python-stdnum 2.2,
the same list ``stdnum.cn.ric`` checks 公民身份号码 address codes against. Its header says
it was downloaded from the Chinese Wikipedia pages 中华人民共和国行政区划代码 (1区)–(8区);
the file carries no date of its own, and the latest year it mentions is 2025. It holds
province-level (``xx0000``), prefecture-level (``xxxx00``) and county-level codes, 6,885
in all, including codes that have since been abolished, each with the years it was in
force.

A code is valid if the list knows it, whether or not it is still in force: records made
before a re-division keep the code that was correct when they were made, and rejecting
them would mark valid values invalid. ``in_force`` answers the stricter question
(is this code in use in a given year) the way ``stdnum.cn.ric`` does for birth places.

>>> validate('110101')
'110101'
>>> name('110103')
'崇文区'
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from stdnum import numdb
from stdnum.exceptions import InvalidComponent, InvalidFormat, InvalidLength, ValidationError

from quality.vector import unknown_codes

# loc.dat bounds: "[-2010]" has no start, "[1997-]" no end; years are four digits.
_NO_START = 0
_NO_END = 9999


class _Table:
    """loc.dat flattened into arrays for vectorised look-ups."""

    def __init__(self) -> None:
        db = numdb.get("cn/loc")
        names: dict[str, str] = {}
        periods: dict[str, list[tuple[int, int]]] = {}
        for plen, plow, phigh, _pprops, children in db.prefixes:
            for p in range(int(plow), int(phigh) + 1):
                for clen, clow, chigh, _cprops, _ in children:
                    for c in range(int(clow), int(chigh) + 1):
                        code = f"{p:0{plen}d}{c:0{clen}d}"
                        # numdb.info() is what stdnum.cn.ric consults; ask it, so that any
                        # property merging it does is mirrored too.
                        info = {k: v for _, props in db.info(code) for k, v in props.items()}
                        if "county" in info:
                            names[code], periods[code] = _parse_county(info["county"])
        self.names = names
        codes = sorted(names)
        width = max(len(p) for p in periods.values())
        self.codes = np.array([int(c) for c in codes], dtype=np.int64)
        # Unused slots get an empty period (start after end) so they never match.
        self.starts = np.full((len(codes), width), 1, dtype=np.int16)
        self.ends = np.full((len(codes), width), 0, dtype=np.int16)
        for i, code in enumerate(codes):
            for j, (start, end) in enumerate(periods[code]):
                self.starts[i, j] = start
                self.ends[i, j] = end
        self.code_set = frozenset(codes)
        # Row of each code in a table indexed by the code itself (-1: unknown): one gather
        # per look-up instead of a binary search.
        self.rows = np.full(1_000_000, -1, dtype=np.int32)
        self.rows[self.codes] = np.arange(len(codes), dtype=np.int32)


def _parse_county(value: str) -> tuple[str, list[tuple[int, int]]]:
    """Split a loc.dat county value into its latest name and the periods it was in force."""
    # Same parsing as stdnum.cn.ric.get_birth_place: "[1983-2019]桥东区,[2020-]襄都区".
    name = value
    periods = []
    for county in value.split(","):
        if not county.startswith("["):
            periods.append((_NO_START, _NO_END))
            name = county
            continue
        startend, name = county[1:].split("]")
        start, end = startend.split("-")
        periods.append((int(start) if start else _NO_START, int(end) if end else _NO_END))
    return name, periods


@functools.cache
def _table() -> _Table:
    return _Table()


def compact(value: str) -> str:
    """Strip surrounding whitespace."""
    return value.strip()


def validate(value: str) -> str:
    """Check that the value is a six-digit code known to GB/T 2260; return it compacted."""
    code = compact(value)
    if len(code) != 6:
        raise InvalidLength("行政区划代码应为 6 位数字")
    if not (code.isascii() and code.isdigit()):
        raise InvalidFormat("行政区划代码应为 6 位数字")
    if code not in _table().code_set:
        raise InvalidComponent(f"行政区划代码 {code} 不在 GB/T 2260 代码表中")
    return code


def is_valid(value: str) -> bool:
    """Check that the value is a known GB/T 2260 code."""
    try:
        return bool(validate(value))
    except ValidationError:
        return False


def codes() -> frozenset[str]:
    """Return every code loc.dat knows, abolished ones included."""
    return _table().code_set


def name(code: str) -> str:
    """Return the (latest) name of the division, e.g. '东城区'."""
    return _table().names[validate(code)]


def check(values: pd.Series) -> pd.Series:
    """Return None for a known code, a missing or an empty value, else "region_unknown_code"."""
    return unknown_codes(values, _table().code_set, "region_unknown_code")


def in_force(region_codes: np.ndarray, years: np.ndarray) -> np.ndarray:
    """True where the code, as an integer, was in force in that year, as stdnum.cn.ric decides."""
    table = _table()
    numbers = np.asarray(region_codes, dtype=np.int64)
    years = np.asarray(years)
    in_range = (numbers >= 0) & (numbers < len(table.rows))
    rows = np.where(in_range, table.rows[numbers.clip(0, len(table.rows) - 1)], -1)
    # Row -1 picks the last code's periods; `known` discards them.
    known = rows >= 0
    in_period = np.zeros(len(numbers), dtype=bool)
    for slot in range(table.starts.shape[1]):
        in_period |= (table.starts[rows, slot] <= years) & (years <= table.ends[rows, slot])
    return known & in_period
