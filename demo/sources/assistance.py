"""民政's 社会救助 table: 低保 and 特困供养 families, the dataset of 低保救助对象信息 (库表交换).

A few hundred residents (one in twenty) are on 低保: 城市低保 in the city districts, 农村低保 in the
counties, 特困供养 for some who live alone. Each 认定 (assessment) is a row; some families were
re-assessed and have two. The monthly amount is the 保障标准 per person times the people covered,
less the family's own income. Two faults: a mistyped ID check character, and a row whose ID
number was left empty; both must be quarantined with their reason.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import numpy as np

from demo.sources.city import COUNTIES, TODAY, between, random_stream, wrong
from demo.sources.manifest import EXPECTED, Fault, fault_count
from demo.sources.organisations import CleanSubjects
from demo.sources.output import SourceTable

SOURCE = "minzheng_dibao"
# 救助类别: 01 城市低保, 02 农村低保, 03 特困供养; monthly 保障标准 per person, yuan (榕城市 2026).
URBAN, RURAL, DESTITUTE = "01", "02", "03"
_STANDARD = {URBAN: Decimal("1080"), RURAL: Decimal("1080"), DESTITUTE: Decimal("1404")}
_STREETS = {
    "350102": [
        "鼓东街道",
        "鼓西街道",
        "温泉街道",
        "东街街道",
        "南街街道",
        "安泰街道",
        "华大街道",
        "水部街道",
    ],
    "350103": ["瀛洲街道", "后洲街道", "义洲街道", "新港街道", "上海街道", "苍霞街道", "茶亭街道"],
    "350104": ["仓山镇", "城门镇", "盖山镇", "建新镇", "上渡街道", "下渡街道", "对湖街道"],
    "350105": ["罗星街道", "马尾镇", "亭江镇"],
    "350111": ["王庄街道", "象园街道", "茶园街道", "鼓山镇", "新店镇", "岳峰镇"],
}
_ID_CHECK_CHARACTERS = "0123456789X"


@dataclass
class Subsistence:
    """The 低保 table and the faults injected into it."""

    table: SourceTable
    faults: list[Fault]


def _street(region: str, address: str, rng_pick: int) -> str:
    """The 街道 or 乡镇 of an address: named in it in the counties, the district's list in the city."""
    for part in ("街道", "镇"):
        if part in address:
            head = address.split(part, 1)[0]
            return head.rsplit(COUNTIES.get(region, "榕城市"), 1)[-1] + part
    streets = _STREETS.get(region, _STREETS["350102"])
    return streets[rng_pick % len(streets)]


def subsistence(subjects: CleanSubjects, seed: int) -> Subsistence:
    """民政's 低保 rows, ordered by 认定日期, with a few re-assessed families and two kinds of fault."""
    rng = random_stream(seed, SOURCE)
    pop = subjects.pop
    chosen = subjects.people(rng, max(12, len(pop) // 20))
    rows: list[dict[str, str]] = []
    for person in chosen:
        region = pop.region[person]
        rural = region not in _STREETS
        alone = rng.random() < 0.12
        kind = DESTITUTE if alone else (RURAL if rural else URBAN)
        covered = 1 if alone else int(rng.integers(1, 5))
        assessed = between(rng, date(2019, 1, 1), TODAY - timedelta(days=15))
        rows.append(
            _row(
                rng, pop.ids[person], pop.names[person], pop.address[person], region, kind, covered, assessed
            )
        )
    reassessed = [r for r in rows if r["jzlb"] != DESTITUTE][: max(2, len(rows) // 40)]
    for first in reassessed:
        later = between(rng, date.fromisoformat(first["rdrq"]) + timedelta(days=180), TODAY)
        if later <= date.fromisoformat(first["rdrq"]):
            later = date.fromisoformat(first["rdrq"]) + timedelta(days=1)
        covered = max(1, int(first["bzrs"]) + int(rng.choice([-1, 1])))
        kind = DESTITUTE if covered == 1 and rng.random() < 0.5 else first["jzlb"]
        row = dict(first, jzlb=kind, bzrs=str(covered), rdrq=later.isoformat())
        row["ybzje"] = _amount(rng, kind, covered)
        rows.append(row)
    rows.sort(key=lambda r: (r["rdrq"], r["sfzh"]))
    faults = _inject(rng, rows)
    columns = {
        name: [r[name] for r in rows]
        for name in ("sfzh", "xm", "jtzz", "jzlb", "bzrs", "ybzje", "rdrq", "ssjd")
    }
    return Subsistence(SourceTable(columns), faults)


def _amount(rng: np.random.Generator, kind: str, covered: int) -> str:
    """The monthly amount: 保障标准 × people covered, less the family's income (none for 特困供养)."""
    income = Decimal(0) if kind == DESTITUTE else Decimal(int(rng.integers(0, 40)) * 10)
    return str(max(Decimal(100), _STANDARD[kind] * covered - income).quantize(Decimal("0.01")))


def _row(
    rng: np.random.Generator,
    id_number: str,
    name: str,
    address: str,
    region: str,
    kind: str,
    covered: int,
    assessed: date,
) -> dict[str, str]:
    return {
        "sfzh": id_number,
        "xm": name,
        "jtzz": address,
        "jzlb": kind,
        "bzrs": str(covered),
        "ybzje": _amount(rng, kind, covered),
        "rdrq": assessed.isoformat(),
        "ssjd": _street(region, address, int(rng.integers(0, 1 << 20))),
    }


def _inject(rng: np.random.Generator, rows: list[dict[str, str]]) -> list[Fault]:
    """A mistyped ID check character and an empty ID number, each in ``fault_count`` distinct rows."""
    k = fault_count(len(rows))
    # Only people with a single 认定: a fault must not leave a re-assessed family's other row alone.
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["sfzh"]] = counts.get(r["sfzh"], 0) + 1
    once = [i for i, r in enumerate(rows) if counts[r["sfzh"]] == 1]
    picked = rng.choice(once, size=2 * k, replace=False).tolist()
    faults = []
    for i in sorted(picked[:k]):
        number = rows[i]["sfzh"]
        rows[i]["sfzh"] = number[:17] + wrong(number[17], _ID_CHECK_CHARACTERS, rng)
        faults.append(Fault(SOURCE, i + 1, rows[i]["sfzh"], "id_checksum", EXPECTED["id_checksum"]))
    for i in sorted(picked[k:]):
        rows[i]["sfzh"] = ""
        faults.append(Fault(SOURCE, i + 1, "", "required_missing", EXPECTED["required_missing"]))
    return sorted(faults, key=lambda f: f.row)
