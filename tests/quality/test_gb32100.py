"""GB 32100-2015 统一社会信用代码: the scalar functions, and the vectorised ones against stdnum."""

import random

import pandas as pd
import pytest
from stdnum.cn import uscc
from stdnum.exceptions import InvalidChecksum, InvalidFormat, InvalidLength, ValidationError

from quality import gb32100

VALID = "91110000600037341L"  # stdnum's own example: 工商, 企业, 110000


def with_check(body: str) -> str:
    """The 17-character body followed by its GB 32100 check character."""
    return body + uscc.calc_check_digit(body + "0")


def generated_values(count: int, seed: int = 32100) -> list[str]:
    """Credit codes, some valid, the rest with every kind of fault stdnum can find."""
    rng = random.Random(seed)
    alphabet = gb32100.ALPHABET

    def body(first: str = "123456789") -> str:
        authority = rng.choice(first)
        kind = rng.choice("1239")
        region = f"{rng.randint(0, 999999):06d}"
        return authority + kind + region + "".join(rng.choice(alphabet) for _ in range(9))

    faults = [
        lambda: with_check(body()),
        lambda: with_check(body()),
        lambda: with_check(body()),
        lambda: (v := with_check(body()))[:17] + rng.choice([c for c in alphabet if c != v[17]]),
        lambda: "".join(rng.choice(alphabet) for _ in range(18)),
        lambda: with_check(body()).lower(),
        lambda: with_check(body())[: rng.choice([9, 15, 17])],
        lambda: with_check(body()) + rng.choice(alphabet),
        lambda: (v := with_check(body()))[:12] + rng.choice("IOSVZ*a") + v[13:],
        lambda: (v := with_check(body()))[:3] + rng.choice("ABN") + v[4:],
        lambda: with_check(body("0BCDEFGHJ")),
        lambda: " ".join([(v := with_check(body()))[:2], v[2:8], v[8:17], v[17]]),
        lambda: "-".join([(v := with_check(body()))[:8], v[8:]]),
        lambda: "—".join([(v := with_check(body()))[:8], v[8:]]),
        lambda: rng.choice(["\u3000", "\t", " "]) + with_check(body()) + rng.choice(["", "\n", "\u3000"]),
        lambda: with_check(body()).translate(str.maketrans("0123456789", "０１２３４５６７８９")),
        lambda: with_check(body())[:16] + "ﬀ",
        lambda: rng.choice(["  ", "-", "I" * 18, "0" * 18, "无"]),
    ]
    return [rng.choice(faults)() for _ in range(count)]


def test_validate_returns_compacted_code():
    assert gb32100.validate("9111 0000 6000 3734 1l") == VALID


def test_calc_check_digit_reads_the_first_17_characters():
    assert (gb32100.calc_check_digit(VALID[:17]), gb32100.calc_check_digit(VALID)) == ("L", "L")


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("9111000060003734", InvalidLength),
        ("911100006000373I1L", InvalidFormat),
        ("9A110000600037341L", InvalidFormat),
        ("B1110000600037341L", InvalidFormat),
        ("91110000600037341M", InvalidChecksum),
    ],
)
def test_validate_raises_stdnum_error_with_chinese_message(value, error):
    with pytest.raises(error, match="统一社会信用代码"):
        gb32100.validate(value)


def stdnum_is_valid(value: str) -> bool:
    """stdnum.cn.uscc.is_valid, except for the letter authorities it rejects and we accept."""
    return gb32100.is_valid(value) if uscc.compact(value)[:1] in "ANY" else uscc.is_valid(value)


def test_check_agrees_with_stdnum_on_generated_values():
    values = generated_values(24_000)

    reasons = gb32100.check(pd.Series(values))

    assert [r is None for r in reasons] == [stdnum_is_valid(v) for v in values]


def test_generated_values_include_every_reason():
    reasons = gb32100.check(pd.Series(generated_values(24_000)))

    assert set(reasons) == {None, "uscc_format", "uscc_checksum"}


@pytest.mark.parametrize("first", ["A", "N", "Y"])
def test_letter_registering_authority_is_valid_though_stdnum_rejects_it(first):
    value = with_check(f"{first}1350100MA0000000")

    assert (uscc.is_valid(value), gb32100.is_valid(value), gb32100.check(pd.Series([value])).tolist()) == (
        False,
        True,
        [None],
    )


def test_check_agrees_with_is_valid_on_letter_authorities():
    values = [v for v in generated_values(24_000, seed=7) if v[:1] in "ANY"]
    values += [with_check(f"{a}{k}350100{i:09d}") for a in "ANY" for k in "12" for i in range(100)]

    reasons = gb32100.check(pd.Series(values))

    assert [r is None for r in reasons] == [gb32100.is_valid(v) for v in values]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (VALID, None),
        ("91110000600037341l", None),
        ("9111-0000 6000 3734 1L", None),
        ("91110000600037341M", "uscc_checksum"),
        ("911100006000373I1L", "uscc_format"),
        ("9111000060003734", "uscc_format"),
        ("B1110000600037341L", "uscc_format"),
        ("  ", "uscc_format"),
        (None, None),
        ("", None),
    ],
)
def test_check_names_the_reason(value, reason):
    assert gb32100.check(pd.Series([value])).tolist() == [reason]


def test_embedded_organisation_code_check_digit_is_not_checked_as_stdnum_does_not():
    # 60003734-1 has GB 11714 check digit 1; 600037342 is wrong there but may be a pilot-era code.
    value = with_check("91110000600037342")

    assert (uscc.is_valid(value), gb32100.check(pd.Series([value])).tolist()) == (True, [None])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (VALID, True),
        ("91110000600037341M", True),
        ("N2110105MF0000000A", True),
        ("94110000600037341L", False),
        ("Y2110000600037341L", False),
        ("B1110000600037341L", False),
        ("911100A0600037341L", False),
        ("9111000060003734", False),
        (None, False),
    ],
)
def test_structurally_valid_wants_known_authority_and_institution_type(value, expected):
    assert gb32100.structurally_valid(pd.Series([value])).tolist() == [expected]


def test_registering_authority_is_the_first_character():
    values = pd.Series([VALID, " n2110105MF0000000A", None, ""], index=[4, 3, 2, 1])

    assert gb32100.registering_authority(values).to_dict() == {4: "9", 3: "N", 2: None, 1: None}


def test_every_registering_authority_has_institution_types():
    assert set(gb32100.REGISTERING_AUTHORITIES) == set(gb32100.INSTITUTION_TYPES)


# -- a code that names a subject in a data call -----------------------------------------------------


def former_data_plane_check(code: str) -> bool:
    """The data plane's own check until it used ``is_valid_key`` (the former authz/access/service.py)."""
    try:
        gb32100.validate(code)
        return True
    except InvalidChecksum:
        return bool(gb32100.structurally_valid(pd.Series([code])).iloc[0])
    except ValidationError:
        return False


def test_validate_key_lets_a_pilot_era_code_pass_compacted():
    assert gb32100.validate_key("9111 0000 6000 3734 1m") == "91110000600037341M"


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("94110000600037341M", InvalidChecksum),
        ("911100006000373I1L", InvalidFormat),
        ("9111000060003734", InvalidLength),
    ],
)
def test_validate_key_refuses_what_no_pilot_era_code_looks_like_with_chinese_message(value, error):
    with pytest.raises(error, match="统一社会信用代码"):
        gb32100.validate_key(value)


def test_is_valid_key_agrees_with_the_data_planes_former_check_on_generated_values():
    values = generated_values(6_000, seed=2026)

    assert [gb32100.is_valid_key(v) for v in values] == [former_data_plane_check(v) for v in values]
