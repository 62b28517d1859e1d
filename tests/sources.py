"""Small hand-made department sources for pipeline tests: valid people, CSV drops, their specs."""

import csv
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from stdnum.cn import ric

from connectors.config import SourceSpec

HOUSEHOLD_REGISTER_COLUMNS = {
    "sfzh": "population.id_number",
    "xm": "population.name",
    "xb": "population.gender",
    "mz": "population.ethnicity",
    "csrq": "population.birth_date",
    "hjdz": "population.household_region",
}
SOCIAL_INSURANCE_COLUMNS = {
    "sfzh": "population.id_number",
    "xm": "population.name",
    "cbzt": "population.insurance_status",
}


def id_number(n: int, *, male: bool = True) -> str:
    """A valid GB 11643 number for the n-th test person (region 350102, born on or after 1985-03-12)."""
    sequence = (n % 500) * 2 + (1 if male else 0)
    body = f"350102{birth_date(n).replace('-', '')}{sequence:03d}"
    return body + ric.calc_check_digit(body + "0")


def birth_date(n: int) -> str:
    return (date(1985, 3, 12) + timedelta(days=n // 500)).isoformat()


def person(n: int, **overrides: str) -> dict[str, str]:
    """A clean 公安 户籍 row."""
    row = {
        "sfzh": id_number(n),
        "xm": f"测试{n}",
        "xb": "1",
        "mz": "01",
        "csrq": birth_date(n),
        "hjdz": "350102",
    }
    row.update(overrides)
    return row


def write_csv(path: Path, rows: list[dict[str, str]], *, columns: list[str] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns or list(rows[0]), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def spec(name: str, path: Path, *, department: str, columns: dict[str, str], **extra: Any) -> SourceSpec:
    """A CSV source feeding the population library."""
    return SourceSpec.model_validate(
        {
            "name": name,
            "title": f"测试数据源 {name}",
            "department": department,
            "library": extra.pop("library", "population"),
            "connector": {
                "kind": "file",
                "path": str(path),
                "format": "csv",
                "chunk_rows": extra.pop("chunk_rows", 1000),
            },
            "columns": columns,
            "key": extra.pop("key", ["population.id_number"]),
            **extra,
        }
    )


def household_register(path: Path, rows: list[dict[str, str]], **extra: Any) -> SourceSpec:
    return spec(
        "test_huji", write_csv(path, rows), department="gongan", columns=HOUSEHOLD_REGISTER_COLUMNS, **extra
    )


def social_insurance(path: Path, rows: list[dict[str, str]]) -> SourceSpec:
    return spec("test_canbao", write_csv(path, rows), department="renshe", columns=SOCIAL_INSURANCE_COLUMNS)


# -- a dataset source (库表交换): 民政's 低保 table for 低保救助对象信息 ------------------------------

SUBSISTENCE = "203001/000001"
SUBSISTENCE_COLUMNS = {
    "sfzh": "公民身份号码",
    "xm": "姓名",
    "jtzz": "家庭住址",
    "jzlb": "救助类别",
    "bzrs": "保障人数",
    "ybzje": "月保障金额",
    "rdrq": "认定日期",
    "ssjd": "所属街道（乡镇）",
}


def subsistence_row(n: int, **overrides: str) -> dict[str, str]:
    """One 认定 record of the n-th test person on 低保."""
    row = {
        "sfzh": id_number(n),
        "xm": f"测试{n}",
        "jtzz": "榕城市鼓楼区五四路1号",
        "jzlb": "01",
        "bzrs": "2",
        "ybzje": "1520.00",
        "rdrq": "2025-03-01",
        "ssjd": "鼓东街道",
    }
    row.update(overrides)
    return row


def subsistence(
    path: Path, rows: list[dict[str, str]], *, department: str = "minzheng", **extra: Any
) -> SourceSpec:
    """民政's 低保 table, a CSV drop, loading the dataset of 低保救助对象信息."""
    return SourceSpec.model_validate(
        {
            "name": "test_dibao",
            "title": "测试数据源 低保",
            "department": department,
            "resource": SUBSISTENCE,
            "connector": {"kind": "file", "path": str(write_csv(path, rows)), "format": "csv"},
            "columns": SUBSISTENCE_COLUMNS,
            **extra,
        }
    )


# -- 法院's 失信被执行人 table for 失信被执行人信息 (a dataset keyed by 主体代码, one row per 执行案号) --

DISHONEST_DEBTORS = "104003/000001"
DISHONEST_DEBTOR_COLUMNS = {
    "bzxrzjhm": "主体代码",
    "bzxrmc": "被执行人名称",
    "sxbz": "失信被执行人标识",
    "ah": "执行案号",
    "zxfy": "执行法院",
    "sxqx": "失信行为情形",
    "fbrq": "发布日期",
}


def dishonest_debtor(code: str, case: str, **overrides: str) -> dict[str, str]:
    """One 失信被执行人 case of the subject ``code`` (an ID number or a credit code)."""
    row = {
        "bzxrzjhm": code,
        "bzxrmc": "榕城测试贸易有限公司",
        "sxbz": "1",
        "ah": case,
        "zxfy": "榕城市鼓楼区人民法院",
        "sxqx": "有履行能力而拒不履行生效法律文书确定义务",
        "fbrq": "2026-05-18",
    }
    row.update(overrides)
    return row


def dishonest_debtors(path: Path, rows: list[dict[str, str]]) -> SourceSpec:
    """法院's 失信被执行人 list, a CSV drop, loading the dataset of 失信被执行人信息."""
    return SourceSpec.model_validate(
        {
            "name": "test_shixin",
            "title": "测试数据源 失信被执行人",
            "department": "fayuan",
            "resource": DISHONEST_DEBTORS,
            "connector": {"kind": "file", "path": str(write_csv(path, rows)), "format": "csv"},
            "columns": DISHONEST_DEBTOR_COLUMNS,
        }
    )
