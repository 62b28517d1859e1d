"""GB 11714-1997 全国组织机构代码编制规则 (organisation code).

Nine characters (§2.1): an eight-character body (本体代码) of digits and capital Latin letters,
then a check character (校验码). On paper a hyphen separates the two (``D2143569-X``, §2.2);
machines leave it out. The check character is C9 = 11 - MOD(Σ Ci × Wi, 11) over the body, with
weights 3, 7, 9, 10, 5, 8, 4, 2 and a letter worth 10 (A) to 35 (Z) (Annex A); 10 is written X
and 11 is written 0 (§2.1.2).

Since GB 32100-2015 the code is also characters 9-17 of every 统一社会信用代码; the codes assigned
since (``MA`` and six characters) draw their bodies from the GB 32100 alphabet, which the
letters accepted here include. python-stdnum (2.2) has no module for this code (``stdnum.cn``
holds ``ric`` and ``uscc`` only), so the check is written here, with stdnum's compaction and
errors. ``validate`` and ``is_valid`` check:

* the length: 9 characters after compaction (spaces and hyphens removed, upper-cased);
* the characters: digits and capital Latin letters only;
* the check character.

>>> validate('D2143569-X')
'D2143569X'
"""

from __future__ import annotations

from stdnum.exceptions import InvalidChecksum, InvalidFormat, InvalidLength, ValidationError
from stdnum.util import clean

LENGTH = 9
CHARACTERS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_MESSAGES: dict[type[ValidationError], str] = {
    InvalidLength: "组织机构代码应为 9 位",
    InvalidFormat: "组织机构代码只能含数字和大写字母",
    InvalidChecksum: "组织机构代码校验码错误",
}


def compact(value: str) -> str:
    """Return the value as stdnum keeps codes: spaces and hyphens removed, upper-cased."""
    return str(clean(value, " -")).upper().strip()


def calc_check_digit(value: str) -> str:
    """Return the check character of the first eight characters of the value (§2.1.2)."""
    total = sum(CHARACTERS.index(c) * w for c, w in zip(compact(value), _WEIGHTS, strict=False))
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def validate(value: str) -> str:
    """Check the length, characters and check character; return the compacted code or raise."""
    code = compact(value)
    if len(code) != LENGTH:
        raise InvalidLength(_MESSAGES[InvalidLength])
    if any(c not in CHARACTERS for c in code):
        raise InvalidFormat(_MESSAGES[InvalidFormat])
    if code[-1] != calc_check_digit(code):
        raise InvalidChecksum(_MESSAGES[InvalidChecksum])
    return code


def is_valid(value: str) -> bool:
    """Check whether the value is a valid 组织机构代码."""
    try:
        return bool(validate(value))
    except ValidationError:
        return False
