"""The 法人 (legal person) library's sources, one per register: 市场监管 企业登记 and 个体工商户,
编办 事业单位 and 机关, 民政 社会组织.

Each register is the authoritative source of the legal persons its department registers (the
first character of their credit codes). 市场监管's enterprise register carries the credit-code
faults; the credit records and certificates name only enterprises whose record is clean.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Column, Date, MetaData, Numeric, String, Table

from demo.sources.city import COUNTIES, TODAY, between, random_stream, wrong
from demo.sources.manifest import EXPECTED, Fault, fault_count
from demo.sources.organisations import USCC_EFFECTIVE, CreditCodes, Org, domicile
from demo.sources.output import BUSINESS_KEY, SURROGATE_ID, TIMESTAMP, SourceTable
from quality import gb32100

ENTERPRISE_REGISTER_TABLE = "qiye_dengji"


@dataclass
class Register:
    """A register's rows, the faults injected into them, and (per organisation) whether one concerns it."""

    table: SourceTable
    faults: list[Fault]
    tainted: list[bool] = field(default_factory=list)


_ENTERPRISE_REGISTER_FAULTS = ("uscc_checksum", "uscc_authority", "uscc_pilot", "duplicate_key")


def enterprise_register(enterprises: list[Org], seed: int) -> Register:
    """市场监管's 企业登记 table (``qiye_dengji``), rows in order of registration."""
    rng = random_stream(seed, "shichang_qiye")
    k = fault_count(len(enterprises))
    chosen = rng.choice(len(enterprises), size=k * len(_ENTERPRISE_REGISTER_FAULTS), replace=False).tolist()
    groups = {kind: chosen[j * k : (j + 1) * k] for j, kind in enumerate(_ENTERPRISE_REGISTER_FAULTS)}
    codes = CreditCodes(rng)
    codes.used = {e.code for e in enterprises}
    kinds: dict[int, str] = {}
    for i in groups["uscc_checksum"]:
        e = enterprises[i]
        e.established = max(e.established, between(rng, USCC_EFFECTIVE, TODAY - timedelta(days=1)))
        e.code = e.code[:17] + wrong(e.code[17], gb32100.ALPHABET, rng)
        kinds[i] = "uscc_checksum"
    for i in groups["uscc_authority"]:
        e = enterprises[i]
        e.established = max(e.established, between(rng, USCC_EFFECTIVE, TODAY - timedelta(days=1)))
        e.code = codes.new("5", "1", e.region, e.established)  # a 民政 code in 市场监管's register
        kinds[i] = "uscc_authority"
    for i in groups["uscc_pilot"]:
        e = enterprises[i]
        e.established = between(rng, date(2008, 1, 1), USCC_EFFECTIVE - timedelta(days=1))
        region = e.region if e.region in COUNTIES else "350102"
        body = f"91{region}{codes.organisation_code(e.established)}"
        e.code = body + wrong(gb32100.calc_check_digit(body), gb32100.ALPHABET, rng)
        kinds[i] = "uscc_pilot"
    tainted = [i in kinds or i in groups["duplicate_key"] for i in range(len(enterprises))]

    order = sorted(range(len(enterprises)), key=lambda i: (enterprises[i].established, enterprises[i].code))
    repeats = sorted(groups["duplicate_key"], key=order.index)
    for i in repeats:
        at = int(rng.integers(order.index(i) + 1, len(order) + 1))
        order.insert(at, -1 - i)  # a later record repeating enterprise i's code

    columns: dict[str, list[Any]] = {c: [] for c in _ENTERPRISE_REGISTER_COLUMNS}
    found = []
    for row, i in enumerate(order, start=1):
        e = enterprises[i if i >= 0 else -1 - i]
        changed = between(rng, max(e.established, date(2020, 1, 1)), TODAY - timedelta(days=1))
        stamp = datetime.combine(changed, datetime.min.time()) + timedelta(
            seconds=int(rng.integers(28800, 64800))
        )
        address = e.extra["domicile"] if i >= 0 else domicile(rng, e.region) + "之二"
        values = [row, e.code, e.name, e.extra["type"], e.rep, e.extra["capital"], e.established, address]
        values += [e.extra["status"], e.extra["authority"], e.extra["scope"], stamp]
        for column, value in zip(_ENTERPRISE_REGISTER_COLUMNS, values, strict=True):
            columns[column].append(value)
        kind = kinds.get(i) if i >= 0 else "duplicate_key"
        if kind is not None:
            found.append(Fault("shichang_qiye", row, e.code, kind, EXPECTED[kind]))
    return Register(SourceTable(columns), found, tainted)


def enterprise_register_schema() -> Table:
    """市场监管's own table: a surrogate ``id``, no unique constraint on the 统一社会信用代码."""
    return Table(
        ENTERPRISE_REGISTER_TABLE,
        MetaData(),
        Column("id", SURROGATE_ID, primary_key=True, autoincrement=False),
        Column("tyshxydm", String(18), nullable=False, comment="统一社会信用代码", info={BUSINESS_KEY: True}),
        Column("qymc", String(200), comment="企业名称"),
        Column("qylx", String(4), comment="企业类型代码"),
        Column("fddbr", String(50), comment="法定代表人"),
        Column("zczb", Numeric(18, 2), comment="注册资本（万元）"),
        Column("clrq", Date, comment="成立日期"),
        Column("zs", String(200), comment="住所"),
        Column("djzt", String(4), comment="登记状态"),
        Column("djjg", String(100), comment="登记机关"),
        Column("jyfw", String(4000), comment="经营范围"),
        Column("updated_at", TIMESTAMP, nullable=False, comment="更新时间"),
        comment="企业登记基本信息",
        mysql_charset="utf8mb4",
    )


_ENTERPRISE_REGISTER_COLUMNS = (
    "id",
    "tyshxydm",
    "qymc",
    "qylx",
    "fddbr",
    "zczb",
    "clrq",
    "zs",
    "djzt",
    "djjg",
    "jyfw",
    "updated_at",
)


def public_institutions(institutions: list[Org], seed: int) -> Register:
    """编办's 事业单位 list, some rows without a name."""
    rng = random_stream(seed, "bianban_shiye")
    k = fault_count(len(institutions))
    nameless = {institutions[i].code for i in rng.choice(len(institutions), size=k, replace=False).tolist()}
    rows = sorted(institutions, key=lambda o: o.code)
    found = [
        Fault("bianban_shiye", row, org.code, "required_missing", EXPECTED["required_missing"])
        for row, org in enumerate(rows, start=1)
        if org.code in nameless
    ]
    columns = {
        "tyshxydm": [o.code for o in rows],
        "dwmc": ["" if o.code in nameless else o.name for o in rows],
        "fddbr": [o.rep for o in rows],
        "jbdw": [o.extra["sponsor"] for o in rows],
        "kbzj": [str(o.extra["funds"]) for o in rows],
        "zzhywfw": [o.extra["scope"] for o in rows],
        "clrq": [o.established.isoformat() for o in rows],
        "djjg": [_ESTABLISHMENT_OFFICE for _ in rows],
    }
    return Register(SourceTable(columns), found)


def social_organisations(social: list[Org]) -> Register:
    """民政's 社会组织 list; the file is cut off in the middle of its last record."""
    rows = sorted(social, key=lambda o: o.established)
    last = rows[-1]
    fault = Fault("minzheng_shehui", len(rows), last.code, "truncated_file", EXPECTED["truncated_file"])
    columns = {
        "tyshxydm": [o.code for o in rows],
        "zzmc": [o.name for o in rows],
        "zzlx": [o.extra["kind"] for o in rows],
        "fddbr": [o.rep for o in rows],
        "ywzgdw": [o.extra["supervisor"] for o in rows],
        "ywfw": [o.extra["scope"] for o in rows],
        "djjg": ["榕城市民政局" for _ in rows],
        "djrq": [o.established.isoformat() for o in rows],
    }
    return Register(SourceTable(columns), [fault])


_ESTABLISHMENT_OFFICE = "中共榕城市委机构编制委员会办公室"


def state_organs(organs: list[Org]) -> Register:
    """编办's 机关 list (机关法人: credit codes beginning 11)."""
    rows = sorted(organs, key=lambda o: o.code)
    columns = {
        "tyshxydm": [o.code for o in rows],
        "jgmc": [o.name for o in rows],
        "fzr": [o.rep for o in rows],
        "jglb": [o.extra["kind"] for o in rows],
        "zyzz": [o.extra["scope"] for o in rows],
        "zs": [o.extra["domicile"] for o in rows],
        "clrq": [o.established.isoformat() for o in rows],
        "djjg": [_ESTABLISHMENT_OFFICE for _ in rows],
    }
    return Register(SourceTable(columns), [])


def individual_businesses(shops: list[Org], seed: int) -> Register:
    """市场监管's 个体工商户 register (credit codes beginning 92), a few with a mistyped check character."""
    rng = random_stream(seed, "shichang_getihu")
    rows = sorted(shops, key=lambda o: (o.established, o.code))
    broken = set(rng.choice(len(rows), size=fault_count(len(rows)), replace=False).tolist())
    codes = [
        o.code[:17] + wrong(o.code[17], gb32100.ALPHABET, rng) if i in broken else o.code
        for i, o in enumerate(rows)
    ]
    found = [
        Fault("shichang_getihu", i + 1, codes[i], "uscc_checksum", EXPECTED["uscc_checksum"])
        for i in sorted(broken)
    ]
    columns = {
        "tyshxydm": codes,
        "zh": [o.name for o in rows],
        "jyz": [o.rep for o in rows],
        "zcxs": [o.extra["form"] for o in rows],
        "jycs": [o.extra["domicile"] for o in rows],
        "jyfw": [o.extra["scope"] for o in rows],
        "zcrq": [o.established.isoformat() for o in rows],
        "djzt": [o.extra["status"] for o in rows],
        "djjg": [o.extra["authority"] for o in rows],
    }
    return Register(SourceTable(columns), found, [i in broken for i in range(len(rows))])
