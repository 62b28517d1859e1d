"""Masking of served values (脱敏), one pure function per rule of ``authz.types.MaskRule``.

Every rule keeps an empty value empty and a missing value missing. Where a value is too short
for a rule to keep its ends and still hide something (a two-character name under ``keep_ends``,
a seven-digit number under ``phone``), less is kept, never more: masking must not fail open.
"""

import re
from collections.abc import Callable

from authz.types import MaskRule
from catalog_schema.types import ID_CARRYING_ELEMENTS, Sensitivity

STAR = "*"
ELLIPSIS = "…"
_YEAR = re.compile(r"\d{4}")

# The default rule of a highly sensitive element, by element code; any other one keeps its ends.
DEFAULT_RULES: dict[str, MaskRule] = {
    **dict.fromkeys(ID_CARRYING_ELEMENTS, MaskRule.id_number),
    "population.phone": MaskRule.phone,
    "population.address": MaskRule.region,
}


def keep_ends(value: str) -> str:
    """First and last character kept: ``1****************X``; one or two characters: only the first."""
    if len(value) <= 1:
        return STAR * len(value)
    if len(value) == 2:
        return value[0] + STAR
    return value[0] + STAR * (len(value) - 2) + value[-1]


def _keep(value: str, head: int, tail: int) -> str:
    """``head`` first and ``tail`` last characters kept; values too short for that keep their ends only."""
    if len(value) <= head + tail:
        return keep_ends(value)
    return value[:head] + STAR * (len(value) - head - tail) + value[-tail:]


def id_number(value: str) -> str:
    """First six (address code) and last four kept: ``350102********123X``."""
    return _keep(value, 6, 4)


def phone(value: str) -> str:
    """First three and last four kept: ``139****5678``."""
    return _keep(value, 3, 4)


def year_only(value: str) -> str:
    """A date (``1949-12-31``, ``19491231``) as its year; anything else wholly starred."""
    match = _YEAR.match(value)
    return match.group(0) if match else STAR * len(value)


def surname(value: str) -> str:
    """The first character (the surname, for most names) and one star: ``张*``, whatever the length."""
    return value[:1] + STAR if value else value


def region(value: str) -> str:
    """The first six characters (city and district) and an ellipsis: ``福建省福州市…``."""
    return value if len(value) <= 6 else value[:6] + ELLIPSIS


_RULES: dict[MaskRule, Callable[[str], str]] = {
    MaskRule.keep_ends: keep_ends,
    MaskRule.id_number: id_number,
    MaskRule.year_only: year_only,
    MaskRule.surname: surname,
    MaskRule.phone: phone,
    MaskRule.region: region,
}


def mask(rule: MaskRule, value: object) -> str | None:
    """``value`` as ``rule`` shows it; None stays None, and ``hidden`` gives None."""
    if value is None or rule is MaskRule.hidden:
        return None
    text = value if isinstance(value, str) else str(value)
    if rule is MaskRule.none or not text:
        return text
    return _RULES[rule](text)


def default_rule(element_code: str | None, sensitivity: Sensitivity | None) -> MaskRule:
    """The rule a grant gives an item its provider did not name: highly sensitive elements are masked."""
    if sensitivity is not Sensitivity.highly_sensitive:
        return MaskRule.none
    return DEFAULT_RULES.get(element_code or "", MaskRule.keep_ends)
