"""GB 11714-1997 组织机构代码: compaction, the check character, and what validate refuses."""

import pytest
from stdnum.exceptions import InvalidChecksum, InvalidFormat, InvalidLength

from quality import gb11714


@pytest.mark.parametrize(
    "code",
    [
        "D2143569X",  # a letter in the body, check character 10 written X
        "100000040",  # check value 11 written 0
        "600037341",  # characters 9-17 of stdnum's credit-code example 91110000600037341L
        "M000100Y4",  # characters 9-17 of the credit code 91350100M000100Y43
    ],
)
def test_valid_codes_are_valid(code):
    assert gb11714.validate(code) == code and gb11714.is_valid(code)


def test_validate_returns_the_code_without_its_hyphen_and_upper_cased():
    assert gb11714.validate(" d2143569-x ") == "D2143569X"


@pytest.mark.parametrize(("body", "check"), [("D2143569", "X"), ("10000004", "0"), ("60003734", "1")])
def test_calc_check_digit_reads_the_eight_character_body(body, check):
    assert (gb11714.calc_check_digit(body), gb11714.calc_check_digit(body + check)) == (check, check)


@pytest.mark.parametrize("value", ["D21435690", "600037342", "M000100Y5", "10000004X"])
def test_wrong_check_character_is_refused(value):
    with pytest.raises(InvalidChecksum, match="组织机构代码校验码错误"):
        gb11714.validate(value)


@pytest.mark.parametrize("value", ["D2143569", "D2143569X0", "", "91110000600037341L"])
def test_wrong_length_is_refused(value):
    with pytest.raises(InvalidLength, match="组织机构代码应为 9 位"):
        gb11714.validate(value)


@pytest.mark.parametrize("value", ["D214356*X", "D2143569.", "Ｄ2143569X", "D2143569_"])
def test_characters_other_than_digits_and_capital_letters_are_refused(value):
    with pytest.raises(InvalidFormat, match="组织机构代码只能含数字和大写字母"):
        gb11714.validate(value)


@pytest.mark.parametrize("value", ["D21435690", "D2143569", "D214356*X"])
def test_is_valid_is_false_for_what_validate_refuses(value):
    assert gb11714.is_valid(value) is False
