"""Builders of valid input documents; a test overrides only what it is about."""

from typing import Any

from stdnum.cn import uscc


def credit_code(seed: int) -> str:
    """A valid GB 32100 code for a government organ in region 350100 (organisation code + check digits)."""
    digits = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    body = f"{seed:08d}"
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(digits.index(c) * w for c, w in zip(body, weights, strict=True))
    check = 11 - total % 11
    org = body + ("X" if check == 10 else "0" if check == 11 else str(check))
    partial = "11350100" + org
    return partial + uscc.calc_check_digit(partial)


def department(**overrides: Any) -> dict[str, Any]:
    doc = {
        "slug": "shenji",
        "name": "榕城市审计局",
        "credit_code": credit_code(77001),
        "region_code": "350100",
        "kind": "government",
        "supervisor": {
            "name": "李督办",
            "phone": "0591-87001234",
            "email": "dubian@shenji.example.cn",
        },
    }
    doc.update(overrides)
    return doc


def element(**overrides: Any) -> dict[str, Any]:
    doc = {
        "code": "population.test_element",
        "name": "测试数据元",
        "library": "population",
        "data_type": "C",
        "length": 50,
        "sensitivity": "internal",
        "authoritative": "gongan",
        "verification": [],
    }
    doc.update(overrides)
    return doc


def resource(**overrides: Any) -> dict[str, Any]:
    doc = {
        "name": "测试人口信息",
        "category": {"class": "basic", "item": "01", "catalog": "009"},
        "provider": "gongan",
        "abstract": "用于测试的人口信息资源。",
        "format": "database",
        "share": {"type": "unconditional", "method": "api"},
        "update_cycle": "daily",
        "items": [
            {
                "name": "公民身份号码",
                "data_type": "C",
                "length": 18,
                "element": "population.id_number",
            },
            {"name": "姓名", "data_type": "C", "length": 50, "element": "population.name"},
        ],
    }
    doc.update(overrides)
    return doc
