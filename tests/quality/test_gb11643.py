"""GB 11643-1999 公民身份号码: the scalar functions, and the vectorised ones against stdnum."""

import random
import re
from datetime import date

import pandas as pd
import pytest
from stdnum.cn import ric
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength

from quality import gb2260, gb11643

VALID = "11010519491231002X"  # 110105 北京市朝阳区, born 1949-12-31, female, check character X


def with_check(body: str) -> str:
    """The 17-digit body followed by its ISO 7064 MOD 11-2 check character."""
    return body + ric.calc_check_digit(body + "0")


def stdnum_is_valid(value: str) -> bool:
    """stdnum.cn.ric.is_valid, with its KeyError for unknown counties read as "invalid"."""
    try:
        return ric.is_valid(value)
    except KeyError:
        return False


def generated_values(count: int, seed: int = 11643) -> list[str]:
    """Identity numbers, some valid, the rest with every kind of fault stdnum can find."""
    rng = random.Random(seed)
    regions = sorted(gb2260.codes())
    to_fullwidth = str.maketrans("0123456789", "０１２３４５６７８９")

    def body() -> str:
        region = rng.choice(regions)
        year = rng.randint(1900, 2025)
        month = rng.randint(1, 12)
        day = rng.randint(1, 28)
        return f"{region}{year:04d}{month:02d}{day:02d}{rng.randint(0, 999):03d}"

    def random_date_body() -> str:
        # Month 00 or 13, day 00, 0230, 0229 in a common year, year 0000; or any eight digits.
        region = rng.choice(regions)
        date = rng.choice(
            ["00000101", "19900001", "19901301", "19900100", "19900230", "19000229", "20000229"]
        )
        date = date if rng.random() < 0.7 else f"{rng.randint(0, 9999):04d}{rng.randint(0, 1332):04d}"
        return f"{region}{date}{rng.randint(0, 999):03d}"

    faults = [
        lambda: with_check(body()),
        lambda: with_check(body()),
        lambda: with_check(body()),
        lambda: "".join(rng.choice("0123456789") for _ in range(18)),
        lambda: "".join(rng.choice("0123456789") for _ in range(17)) + "X",
        lambda: (v := with_check(body()))[:17] + rng.choice([c for c in "0123456789X" if c != v[17]]),
        lambda: with_check(random_date_body()),
        lambda: with_check(f"{rng.choice(['110199', '999999', '000000', '110103', '132426'])}{body()[6:]}"),
        lambda: with_check(body()).lower(),
        lambda: with_check(body())[: rng.choice([15, 17])],
        lambda: with_check(body()) + rng.choice("0X"),
        lambda: (v := with_check(body()))[:5] + rng.choice("ABCxyz") + v[6:],
        lambda: with_check(body())[:17] + rng.choice("YZx*"),
        lambda: (
            rng.choice([" ", "\t", "\u3000", "\xa0", "\n"])
            + with_check(body())
            + rng.choice(["", " ", "\u3000"])
        ),
        lambda: (v := with_check(body()))[:6] + rng.choice([" ", "-", "–"]) + v[6:],
        lambda: with_check(body()).translate(to_fullwidth),
        lambda: rng.choice(["  ", "\u3000", "X" * 18, "0" * 18, "１" * 18, "ß" * 9, "无"]),
    ]
    return [rng.choice(faults)() for _ in range(count)]


def test_validate_returns_compacted_number():
    assert gb11643.validate(" 11010519491231002x ") == VALID


def test_calc_check_digit_reads_the_first_17_digits():
    assert (gb11643.calc_check_digit(VALID[:17]), gb11643.calc_check_digit(VALID)) == ("X", "X")


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("1101051949123100", InvalidLength),
        ("11010519491231002A", InvalidChecksum),
        ("1101051949123100AX", InvalidFormat),
        ("110105194912310021", InvalidChecksum),
        (with_check("11010519490230002"), InvalidComponent),
        (with_check("99999919491231002"), InvalidComponent),
    ],
)
def test_validate_raises_stdnum_error_with_chinese_message(value, error):
    with pytest.raises(error, match="公民身份号码"):
        gb11643.validate(value)


def test_unknown_county_of_known_province_is_invalid_where_stdnum_raises_keyerror():
    value = with_check("11019919900101000")
    with pytest.raises(KeyError):
        ric.is_valid(value)

    assert gb11643.is_valid(value) is False


def test_check_agrees_with_stdnum_on_generated_values():
    values = generated_values(24_000)

    reasons = gb11643.check(pd.Series(values))

    assert [r is None for r in reasons] == [stdnum_is_valid(v) for v in values]


def test_generated_values_include_every_reason():
    reasons = gb11643.check(pd.Series(generated_values(24_000)))

    assert set(reasons) == {None, "id_format", "id_checksum", "id_birth_date", "id_region"}


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (VALID, None),
        ("11010519491231002x", None),
        ("\u300011010519491231002X ", None),
        ("１１０１０５１９４９１２３１００２X", None),
        ("1101051949123100", "id_format"),
        ("110105194912310021X", "id_format"),
        ("1101051949123100AX", "id_format"),
        ("11010519491231002Y", "id_format"),
        ("110105 19491231002X", "id_format"),
        ("  ", "id_format"),
        ("110105194912310021", "id_checksum"),
        (with_check("11010519490230002"), "id_birth_date"),
        (with_check("11010519000229002"), "id_birth_date"),
        (with_check("11010500000101002"), "id_birth_date"),
        (with_check("11019919900101000"), "id_region"),
        (with_check("11010320110101000"), "id_region"),
        (with_check("11010320100101000"), None),
        (None, None),
        ("", None),
    ],
)
def test_check_names_the_reason(value, reason):
    assert gb11643.check(pd.Series([value])).tolist() == [reason]


def test_checksum_is_reported_before_birth_date_as_stdnum_checks_it_first():
    good = with_check("11010519490230002")
    value = good[:17] + ("1" if good[17] == "0" else "0")

    assert gb11643.check(pd.Series([value])).tolist() == ["id_checksum"]


def test_check_keeps_the_index():
    values = pd.Series(["110105194912310021", VALID], index=[7, 3])

    assert gb11643.check(values).to_dict() == {7: "id_checksum", 3: None}


def test_birth_dates_are_iso_where_extractable():
    values = pd.Series([VALID, "110105194912310021", with_check("11010519490230002"), "abc", None])

    assert gb11643.birth_dates(values).tolist() == ["1949-12-31", "1949-12-31", None, None, None]


def test_sex_codes_follow_the_parity_of_the_17th_digit():
    values = pd.Series([with_check("11010519491231001"), with_check("11010519491231002"), "abc", None])

    assert gb11643.sex_codes(values).tolist() == ["1", "2", None, None]


# -- a number that names a subject in a data call ---------------------------------------------------


def former_data_plane_check(number: str) -> bool:
    """The data plane's own check until it used ``validate_key`` (the former authz/access/service.py)."""
    if not re.fullmatch(r"[0-9]{17}[0-9X]", number) or ric.calc_check_digit(number) != number[17]:
        return False
    try:
        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return True


def test_validate_key_accepts_an_address_code_younger_than_its_holder():
    born_1950 = with_check("35010219500101005")  # 350102 (鼓楼区) was created in the 1980s

    assert (gb11643.is_valid(born_1950), gb11643.validate_key(born_1950)) == (False, born_1950)


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (" 11010519491231002X", InvalidLength),
        ("11010519491231002x", InvalidChecksum),
        ("１１０１０５１９４９１２３１００２X", InvalidFormat),
        ("110105194912310021", InvalidChecksum),
        (with_check("11010519490230002"), InvalidComponent),
        (with_check("11010500000101002"), InvalidComponent),
    ],
)
def test_validate_key_checks_the_value_as_given_with_chinese_message(value, error):
    with pytest.raises(error, match="公民身份号码"):
        gb11643.validate_key(value)


def test_is_valid_key_agrees_with_the_data_planes_former_check_on_generated_values():
    values = generated_values(24_000, seed=2026)

    assert [gb11643.is_valid_key(v) for v in values] == [former_data_plane_check(v) for v in values]
