"""The resource code of 1272号: classification code + "/" + sequence code."""

import pytest

from catalog_schema.resource import code


@pytest.mark.parametrize(
    "value", ["101001/000001", "3130010/000123", "201001001/999999", " 101001 / 000002 "]
)
def test_well_formed_codes_are_valid(value):
    assert code.is_valid(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "101001",
        "401001/000001",
        "10100/000001",
        "101001/00001",
        "101001/000000",
        "10a001/000001",
        "101001-000001",
        "101001/0000001",
    ],
)
def test_malformed_codes_are_invalid(value):
    with pytest.raises(code.InvalidResourceCode) as refused:
        code.validate(value)
    assert refused.value.reason_zh and refused.value.reason_en


def test_code_must_carry_the_classification_of_its_category():
    with pytest.raises(code.InvalidResourceCode) as refused:
        code.validate("102001/000001", expected_classification="101001")
    assert "101001" in refused.value.reason_zh


def test_format_pads_the_sequence_to_six_digits():
    assert code.format("101001", 7) == "101001/000007"


def test_format_refuses_a_sequence_beyond_six_digits():
    with pytest.raises(code.InvalidResourceCode):
        code.format("101001", 1_000_000)


def test_split_gives_classification_and_sequence():
    assert code.split("2010010/000042") == ("2010010", 42)
