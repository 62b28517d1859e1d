"""GB/T 2261.1 sex, GB/T 3304 ethnicity and GB/T 2260 region codes."""

import numpy as np
import pandas as pd
import pytest
from stdnum.exceptions import InvalidComponent, InvalidFormat, InvalidLength

from quality import gb2260, gb2261, gb3304

# ---------------------------------------------------------------- GB/T 2261.1


@pytest.mark.parametrize(
    ("code", "name"), [("0", "未知的性别"), ("1", "男性"), ("2", "女性"), ("9", "未说明的性别")]
)
def test_sex_codes_have_their_names(code, name):
    assert gb2261.name(code) == name


@pytest.mark.parametrize(
    ("value", "error"), [("3", InvalidComponent), ("男", InvalidComponent), ("10", InvalidLength)]
)
def test_sex_validate_rejects_what_is_not_a_code(value, error):
    with pytest.raises(error, match="性别代码"):
        gb2261.validate(value)


def test_sex_check_reports_unknown_codes_only():
    values = pd.Series(["1", " 2", "0", "9", "3", "男", "M", None, ""])

    assert gb2261.check(values).tolist() == [None] * 4 + ["sex_unknown_code"] * 3 + [None, None]


# ---------------------------------------------------------------- GB/T 3304


def test_ethnicity_table_is_the_56_codes_in_order():
    assert list(gb3304.ETHNICITIES) == [f"{i:02d}" for i in range(1, 57)]


@pytest.mark.parametrize(
    ("code", "name"),
    [("01", "汉族"), ("05", "维吾尔族"), ("36", "毛南族"), ("46", "德昂族"), ("56", "基诺族")],
)
def test_ethnicity_codes_have_their_names(code, name):
    assert gb3304.name(code) == name


def test_ethnicity_letter_codes_are_unique():
    assert len({letters for _, _, letters in gb3304.ETHNICITIES.values()}) == 56


def test_registration_codes_97_and_98_are_valid_but_not_in_the_standard_table():
    assert (gb3304.name("97"), gb3304.name("98"), "97" in gb3304.ETHNICITIES) == (
        "其他",
        "外国血统中国籍人士",
        False,
    )


@pytest.mark.parametrize(
    ("value", "error"), [("1", InvalidLength), ("57", InvalidComponent), ("99", InvalidComponent)]
)
def test_ethnicity_validate_rejects_what_is_not_a_code(value, error):
    with pytest.raises(error, match="民族代码"):
        gb3304.validate(value)


def test_ethnicity_check_reports_unknown_codes_only():
    values = pd.Series(["01", "56", "97", "98", "1", "57", "汉", None, ""])

    assert gb3304.check(values).tolist() == [None] * 4 + ["ethnicity_unknown_code"] * 3 + [None, None]


# ---------------------------------------------------------------- GB/T 2260


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("110000", "北京市"),
        ("110100", "市辖区"),
        ("110101", "东城区"),
        ("350102", "鼓楼区"),
        ("130502", "襄都区"),
    ],
)
def test_region_codes_of_every_level_have_their_names(code, name):
    assert gb2260.name(code) == name


def test_abolished_region_code_is_valid():
    assert (gb2260.is_valid("110103"), gb2260.name("110103")) == (True, "崇文区")


@pytest.mark.parametrize(
    ("value", "error"), [("11010", InvalidLength), ("11010A", InvalidFormat), ("110199", InvalidComponent)]
)
def test_region_validate_rejects_what_is_not_a_code(value, error):
    with pytest.raises(error, match="行政区划代码"):
        gb2260.validate(value)


def test_region_check_reports_unknown_codes_only():
    values = pd.Series(["110101", " 110103", "110199", "999999", "1101", None, ""])

    assert gb2260.check(values).tolist() == [None, None] + ["region_unknown_code"] * 3 + [None, None]


def test_in_force_follows_the_years_in_loc_dat():
    codes = np.array([110103, 110103, 130502, 130502, 110101, 110199])
    years = np.array([2010, 2011, 2019, 2020, 1950, 2000])

    assert gb2260.in_force(codes, years).tolist() == [True, False, True, True, True, False]
