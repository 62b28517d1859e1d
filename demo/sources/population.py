"""The 人口 (population) library's sources: 公安 户籍, 卫健 births and deaths, 人社 参保, 民政 婚姻.

公安's register is the authoritative source and carries the identity faults; the others name
only people whose 户籍 record is clean, so their faults are their own.
"""

import shutil
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Column, Date, MetaData, String, Table

from demo.sources.city import TODAY, add_years, addresses, area, between, pick, random_stream, wrong
from demo.sources.manifest import EXPECTED, Fault, fault_count
from demo.sources.output import BUSINESS_KEY, SURROGATE_ID, TIMESTAMP, SourceTable, Writer, csv_text
from demo.sources.people import HOMOPHONES, People, strangers

HOUSEHOLD_REGISTER_TABLE = "huji"

# 参保状态 (population.insurance_status): 1 参保缴费, 2 暂停缴费, 3 终止参保.
INSURANCE_ACTIVE = "1"
# Household regions that are not GB/T 2260 codes (the region_unknown_code fault).
UNKNOWN_REGIONS = ("359999", "350199")
# Ethnicity codes outside GB/T 3304 (01-56) (the ethnicity_unknown_code fault).
UNKNOWN_ETHNICITIES = ("77", "66")
_ID_CHECK_CHARACTERS = "0123456789X"


def _updated_at(rng: np.random.Generator, n: int, since: date = date(2024, 1, 1)) -> np.ndarray:
    start = np.datetime64(since, "s")
    span = int((np.datetime64(TODAY, "s") - start).astype(np.int64))
    return start + rng.integers(0, span, n).astype("m8[s]")


@dataclass
class HouseholdRegister:
    """公安's 户籍 rows, the faults injected into them, and which people they concern."""

    table: SourceTable
    faults: list[Fault]
    edge_cases: list[Fault]
    tainted: np.ndarray  # per person: their 户籍 row is faulty or repeated
    row_of: np.ndarray  # per person: the 1-based row of their (first) 户籍 record


_HOUSEHOLD_REGISTER_FAULTS = (
    "id_checksum",
    "id_birth_date_mismatch",
    "id_sex_mismatch",
    "region_unknown_code",
    "ethnicity_unknown_code",
    "duplicate_key",
)


def household_register(pop: People, seed: int, *, faults: bool) -> HouseholdRegister:
    """公安's 户籍 rows (``huji``), with the identity faults injected into distinct people."""
    rng = random_stream(seed, "gongan_huji")
    n = len(pop)
    k = fault_count(n) if faults else 0
    candidates = np.setdiff1d(np.arange(n), pop.rare)
    chosen = rng.choice(candidates, size=k * len(_HOUSEHOLD_REGISTER_FAULTS), replace=False)
    groups = dict(
        zip(_HOUSEHOLD_REGISTER_FAULTS, np.split(chosen, len(_HOUSEHOLD_REGISTER_FAULTS)), strict=True)
    )

    # A repeated record appears later than the original it repeats.
    originals = np.sort(groups["duplicate_key"])
    positions = rng.integers(originals + 1, n + 1)
    order = np.insert(np.arange(n), positions, originals)
    repeat = np.insert(np.zeros(n, dtype=bool), positions, True)
    first_rows = np.nonzero(~repeat)[0]
    row_of = np.empty(n, dtype=np.int64)
    row_of[order[first_rows]] = first_rows + 1

    idx = order.tolist()
    updated = _updated_at(rng, n)[order]
    columns: dict[str, list[Any]] = {
        "id": list(range(1, len(idx) + 1)),
        "sfzh": [pop.ids[i] for i in idx],
        "xm": [pop.names[i] for i in idx],
        "xb": [str(pop.sex[i]) for i in idx],
        "mz": [pop.ethnicity[i] for i in idx],
        "csrq": pop.birth[order].tolist(),
        "hjdqh": [pop.region[i] for i in idx],
        "zz": [pop.address[i] for i in idx],
        "lxdh": [pop.phone[i] for i in idx],
        "updated_at": updated.tolist(),
    }
    found: list[Fault] = []

    def record(kind: str, row: int) -> None:
        found.append(Fault("gongan_huji", row, columns["sfzh"][row - 1], kind, EXPECTED[kind]))

    for person in groups["id_checksum"].tolist():
        r = int(row_of[person]) - 1
        number = columns["sfzh"][r]
        columns["sfzh"][r] = number[:17] + wrong(number[17], _ID_CHECK_CHARACTERS, rng)
        record("id_checksum", r + 1)
    for person in groups["id_birth_date_mismatch"].tolist():
        r = int(row_of[person]) - 1
        columns["csrq"][r] = columns["csrq"][r] - timedelta(days=int(rng.integers(40, 4000)))
        record("id_birth_date_mismatch", r + 1)
    for person in groups["id_sex_mismatch"].tolist():
        r = int(row_of[person]) - 1
        columns["xb"][r] = "2" if columns["xb"][r] == "1" else "1"
        record("id_sex_mismatch", r + 1)
    for j, person in enumerate(groups["region_unknown_code"].tolist()):
        r = int(row_of[person]) - 1
        columns["hjdqh"][r] = UNKNOWN_REGIONS[j % len(UNKNOWN_REGIONS)]
        record("region_unknown_code", r + 1)
    for j, person in enumerate(groups["ethnicity_unknown_code"].tolist()):
        r = int(row_of[person]) - 1
        columns["mz"][r] = UNKNOWN_ETHNICITIES[j % len(UNKNOWN_ETHNICITIES)]
        record("ethnicity_unknown_code", r + 1)
    for r in np.nonzero(repeat)[0].tolist():
        original = int(row_of[order[r]]) - 1
        moved = addresses(rng, [columns["hjdqh"][r]])[0]
        columns["zz"][r] = moved if moved != columns["zz"][original] else moved + "之一"
        later = columns["updated_at"][original] + timedelta(days=int(rng.integers(1, 30)))
        columns["updated_at"][r] = min(
            later, datetime.combine(TODAY, datetime.min.time()) - timedelta(seconds=1)
        )
        record("duplicate_key", r + 1)

    tainted = np.zeros(n, dtype=bool)
    tainted[chosen] = True
    edge = [
        Fault("gongan_huji", int(row_of[i]), pop.ids[i], "rare_character", "loaded")
        for i in pop.rare.tolist()
    ]
    return HouseholdRegister(SourceTable(columns), found, edge, tainted, row_of)


def household_register_schema() -> Table:
    """公安's own table: a surrogate ``id``, no unique constraint on the 公民身份号码."""
    return Table(
        HOUSEHOLD_REGISTER_TABLE,
        MetaData(),
        Column("id", SURROGATE_ID, primary_key=True, autoincrement=False),
        Column("sfzh", String(18), nullable=False, comment="公民身份号码", info={BUSINESS_KEY: True}),
        Column("xm", String(50), comment="姓名"),
        Column("xb", String(1), comment="性别代码 GB/T 2261.1"),
        Column("mz", String(2), comment="民族代码 GB/T 3304"),
        Column("csrq", Date, comment="出生日期"),
        Column("hjdqh", String(6), comment="户籍地行政区划代码 GB/T 2260"),
        Column("zz", String(200), comment="住址"),
        Column("lxdh", String(20), comment="联系电话"),
        Column("updated_at", TIMESTAMP, nullable=False, comment="更新时间"),
        comment="常住人口户籍登记",
        mysql_charset="utf8mb4",
    )


@dataclass
class VitalRecords:
    """卫健's records as its API serves them, and who among the residents has died."""

    records: list[dict[str, Any]]
    deceased: np.ndarray  # person indices


def _birth_cert_no(year: int, serial: int) -> str:
    # One letter per print run of the 出生医学证明 form (four years each from 1996), nine digits.
    letter = "KLMNPQRT"[min((year - 1996) // 4, 7)]
    return f"{letter}35{serial:07d}"


def vital_records(pop: People, clean: np.ndarray, seed: int) -> VitalRecords:
    """卫健's vital records: a 出生医学证明 for everyone born since 1996, and deaths."""
    rng = random_stream(seed, "weijian_birth_death")
    n = len(pop)
    k = fault_count(n)
    born96 = pop.birth >= np.datetime64("1996-01-01")
    elderly = clean & (pop.birth < np.datetime64("1966-01-01"))
    elderly[pop.rare] = False
    pool = np.nonzero(elderly)[0]
    n_dead = min(max(2 * k + 2, round(n * 0.01)), len(pool))
    deceased = np.sort(rng.choice(pool, size=n_dead, replace=False))
    members = np.union1d(np.nonzero(clean & born96)[0], deceased)
    members = members[rng.permutation(len(members))]
    serials = rng.choice(10**7, size=len(members), replace=False)
    dead = set(deceased.tolist())
    day_end = datetime.combine(TODAY, datetime.min.time()) - timedelta(seconds=1)
    records = []
    for i, serial in zip(members.tolist(), serials.tolist(), strict=True):
        birth = pop.birth_date(i)
        died = between(rng, date(2019, 1, 1), TODAY - timedelta(days=1)) if i in dead else None
        event_day = died or max(birth, date(2018, 1, 1))
        stamp = datetime.combine(event_day, datetime.min.time()) + timedelta(
            days=int(rng.integers(1, 6)), seconds=int(rng.integers(0, 86400))
        )
        records.append(
            {
                "sfzh": pop.ids[i],
                "xm": pop.names[i],
                "xb": str(pop.sex[i]),
                "csrq": birth.isoformat(),
                "cszmbh": _birth_cert_no(birth.year, serial) if birth.year >= 1996 else None,
                "swbz": "1" if died else "0",
                "swrq": died.isoformat() if died else None,
                "gxsj": min(stamp, day_end).isoformat(sep=" "),
            }
        )
    return VitalRecords(records, deceased)


@dataclass
class SocialInsurance:
    """人社's 参保 rows and the faults injected into them."""

    table: SourceTable
    faults: list[Fault]
    edge_cases: list[Fault]


def social_insurance(pop: People, clean: np.ndarray, deceased: np.ndarray, seed: int) -> SocialInsurance:
    """人社's 参保 drop: about 60% of residents aged 16 and over, 参保状态 per person."""
    rng = random_stream(seed, "renshe_canbao")
    n = len(pop)
    k = fault_count(n)
    adult = pop.birth <= np.datetime64(TODAY, "D") - 16 * 365
    pool = np.nonzero(clean & adult)[0]
    pool = pool[~np.isin(pool, pop.rare)]
    target = min(len(pool), round(0.6 * n))
    members = rng.choice(pool, size=target, replace=False)
    members = np.union1d(members, pop.rare[clean[pop.rare]])
    dead = set(deceased.tolist())
    rare = set(pop.rare.tolist())

    insured_dead = rng.choice(deceased, size=k, replace=False)
    members = np.union1d(members, insured_dead)
    alive = np.array([i for i in members.tolist() if i not in dead and i not in rare])
    picks = rng.choice(alive, size=2 * k, replace=False)
    renamed, bad_id = picks[:k], picks[k:]

    status = pick(rng, {"1": 85, "2": 10, "3": 5}, len(members)).tolist()
    status = ["3" if i in dead else s for i, s in zip(members.tolist(), status, strict=True)]
    scheme = pick(rng, {"110": 60, "120": 10, "170": 30}, len(members)).tolist()
    rows: list[dict[str, Any]] = []
    for i, st, sc in zip(members.tolist(), status, scheme, strict=True):
        start = max(add_years(pop.birth_date(i), 18), date(1995, 1, 1))
        rows.append(
            {
                "person": i,
                "sfzh": pop.ids[i],
                "xm": pop.names[i],
                "xzlx": sc,
                "cbzt": st,
                "cbrq": between(rng, start, TODAY).isoformat() if start < TODAY else TODAY.isoformat(),
            }
        )
    by_person = {r["person"]: r for r in rows}
    kinds: dict[int, str] = {}
    for i in insured_dead.tolist():
        by_person[i]["cbzt"] = INSURANCE_ACTIVE
        kinds[i] = "deceased_insured"
    for i in renamed.tolist():
        name = by_person[i]["xm"]
        pos = len(name) - 1
        by_person[i]["xm"] = name[:pos] + HOMOPHONES[name[pos]]
        kinds[i] = "name_mismatch"
    for i in bad_id.tolist():
        number = by_person[i]["sfzh"]
        by_person[i]["sfzh"] = number[:17] + wrong(number[17], _ID_CHECK_CHARACTERS, rng)
        kinds[i] = "id_checksum"

    # Residents 人社 insures who are not in 公安's register (moved in, or mistyped upstream).
    for j, (number, name) in enumerate(strangers(rng, pop, k)):
        rows.append(
            {"person": -1 - j, "sfzh": number, "xm": name, "xzlx": "110", "cbzt": "1", "cbrq": "2025-03-01"}
        )
        kinds[-1 - j] = "unknown_subject"

    rows = [rows[i] for i in rng.permutation(len(rows))]
    found, edge = [], []
    for r, row in enumerate(rows, start=1):
        kind = kinds.get(row["person"])
        if kind is not None:
            found.append(Fault("renshe_canbao", r, row["sfzh"], kind, EXPECTED[kind]))
        if row["person"] in rare:
            edge.append(Fault("renshe_canbao", r, row["sfzh"], "rare_character", "loaded"))
    columns = {
        "grbh": [f"3501{r:010d}" for r in range(1, len(rows) + 1)],
        "sfzh": [row["sfzh"] for row in rows],
        "xm": [row["xm"] for row in rows],
        "xzlx": [row["xzlx"] for row in rows],
        "cbzt": [row["cbzt"] for row in rows],
        "cbrq": [row["cbrq"] for row in rows],
        "jbjg": ["榕城市社会保险中心"] * len(rows),
    }
    return SocialInsurance(SourceTable(columns), found, edge)


_MARITAL = {"21": 55, "20": 10, "22": 8, "23": 2, "40": 15, "30": 8, "10": 1, "90": 1}


def marriages(pop: People, clean: np.ndarray, seed: int) -> SourceTable:
    """民政's 婚姻登记 sheet: about 30% of residents of marriageable age (GB/T 2261.2 codes)."""
    rng = random_stream(seed, "minzheng_hunyin")
    today = np.datetime64(TODAY, "D")
    of_age = np.where(pop.sex == 1, pop.birth <= today - 22 * 365 - 6, pop.birth <= today - 20 * 365 - 5)
    pool = np.nonzero(clean & of_age)[0]
    members = rng.choice(pool, size=min(len(pool), round(0.3 * len(pop))), replace=False)
    status = pick(rng, _MARITAL, len(members)).tolist()
    rows = []
    for i, st in zip(members.tolist(), status, strict=True):
        birth = pop.birth_date(i)
        if st == "30" and birth.year > 1975:
            st = "21"  # widowhood is rare among the young
        start = max(add_years(birth, 22 if pop.sex[i] == 1 else 20), date(1980, 1, 1))
        registered = between(rng, start, TODAY - timedelta(days=1))
        rows.append((registered, i, st))
    rows.sort()
    return SourceTable(
        {
            "sfzh": [pop.ids[i] for _, i, _ in rows],
            "xm": [pop.names[i] for _, i, _ in rows],
            "hyzk": [st for _, _, st in rows],
            "djrq": [d for d, _, _ in rows],
            "djjg": [f"{area(pop.region[i])}民政局" for _, i, _ in rows],
        }
    )


def write_broken_variants(writer: Writer, insurance: SourceTable) -> None:
    """Variants of the 参保 drop that a declared spec cannot read: tests declare specs for them."""
    without_name = SourceTable({c: v for c, v in insurance.columns.items() if c != "xm"})
    writer.path("broken/renshe_missing_column.csv").write_bytes(
        csv_text(without_name, crlf=True).encode("gb18030")
    )
    shutil.copyfile(
        writer.root / "renshe/canbao_20261120.csv", writer.path("broken/renshe_wrong_encoding.csv")
    )
    writer.manifest.broken = {
        "renshe_missing_column": {
            "path": "broken/renshe_missing_column.csv",
            "based_on": "renshe_canbao",
            "missing_column": "xm",
            "expected": "schema_drift",
        },
        "renshe_wrong_encoding": {
            "path": "broken/renshe_wrong_encoding.csv",
            "based_on": "renshe_canbao",
            "actual_encoding": "gb18030",
            "declare_encoding": "utf-8",
            "expected": "schema_drift",
        },
    }
