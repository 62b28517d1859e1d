"""Masking rules: each pure function on Chinese text, empty and short values; and the default rules."""

import pytest

from authz.access import masking
from authz.types import MaskRule
from catalog_schema.types import Sensitivity

ID = "35010219900101001X"


@pytest.mark.parametrize(
    ("value", "shown"),
    [(ID, "3****************X"), ("欧阳娜娜", "欧**娜"), ("张三", "张*"), ("张", "*"), ("", "")],
)
def test_keep_ends_keeps_first_and_last_character(value, shown):
    assert masking.keep_ends(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [(ID, "350102********001X"), ("3501021990", "3********0"), ("35010", "3***0"), ("", "")],
)
def test_id_number_keeps_first_six_and_last_four(value, shown):
    assert masking.id_number(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [("13905911234", "139****1234"), ("0591-87001234", "059******1234"), ("1234567", "1*****7"), ("", "")],
)
def test_phone_keeps_first_three_and_last_four(value, shown):
    assert masking.phone(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [("1990-01-01", "1990"), ("19491231", "1949"), ("2026年11月", "2026"), ("一九九〇年", "*****"), ("", "")],
)
def test_year_only_keeps_the_year_of_a_date(value, shown):
    assert masking.year_only(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"), [("张三丰", "张*"), ("欧阳娜娜", "欧*"), ("李", "李*"), ("", "")]
)
def test_surname_keeps_the_first_character_and_hides_the_length(value, shown):
    assert masking.surname(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("福建省榕城市鼓楼区五四路158号", "福建省榕城市…"),
        ("福建省榕城市", "福建省榕城市"),
        ("鼓楼", "鼓楼"),
        ("", ""),
    ],
)
def test_region_keeps_the_first_six_characters(value, shown):
    assert masking.region(value) == shown


def test_hidden_gives_no_value():
    assert masking.mask(MaskRule.hidden, "张三丰") is None


def test_none_serves_the_value_as_stored():
    assert masking.mask(MaskRule.none, "张三丰") == "张三丰"


@pytest.mark.parametrize("rule", list(MaskRule))
def test_a_missing_value_stays_missing_under_every_rule(rule):
    assert masking.mask(rule, None) is None


@pytest.mark.parametrize("rule", [r for r in MaskRule if r is not MaskRule.hidden])
def test_an_empty_value_stays_empty_under_every_rule_but_hidden(rule):
    assert masking.mask(rule, "") == ""


def test_a_non_text_value_is_masked_as_its_text():
    assert masking.mask(MaskRule.keep_ends, 123456) == "1****6"


@pytest.mark.parametrize(
    ("element", "sensitivity", "rule"),
    [
        ("population.id_number", Sensitivity.highly_sensitive, MaskRule.id_number),
        ("population.phone", Sensitivity.highly_sensitive, MaskRule.phone),
        ("population.address", Sensitivity.highly_sensitive, MaskRule.region),
        ("population.unlisted", Sensitivity.highly_sensitive, MaskRule.keep_ends),
        ("population.name", Sensitivity.sensitive, MaskRule.none),
        ("legal_person.name", Sensitivity.public, MaskRule.none),
        (None, None, MaskRule.none),
    ],
)
def test_default_rule_masks_only_highly_sensitive_elements(element, sensitivity, rule):
    assert masking.default_rule(element, sensitivity) is rule
