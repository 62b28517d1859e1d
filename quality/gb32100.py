"""GB 32100-2015 法人和其他组织统一社会信用代码 (unified social credit code).

Eighteen characters from the GB 32100 alphabet (digits and the capitals other than I, O,
S, V, Z): registering-authority code (1), institution-type code (1), the registering
authority's GB/T 2260 region code (6), the GB 11714 organisation code (9) and a check
character (1) computed with weights 3^i mod 31.

``validate`` and ``is_valid`` use python-stdnum's ``stdnum.cn.uscc`` (its compaction and
check character) and ``check`` gives the same verdict for a whole column, with a reason:

* ``uscc_format``: not 18 characters after stdnum's compaction (spaces and hyphens
  removed, upper-cased), characters 2-8 not digits, characters 9-18 outside the alphabet,
  or a first character that is neither a digit nor a letter code of Table 1;
* ``uscc_checksum``: the GB 32100 check character is wrong.

One deliberate difference from stdnum 2.2, which wants the first eight characters to be
digits: the letter registering-authority codes A (中央军委改革和编制办公室), N (农业,
e.g. 村级集体经济组织 ``N2...``) and Y (其他) are valid here, as the code table allows;
rejecting them would reject real codes. Like stdnum, ``check`` does not check the check
digit of the embedded GB 11714 organisation code, nor that the authority, type and region
codes are assigned: codes issued during the pilot period do not always satisfy those.
``structurally_valid`` asks for a known authority and institution type, to tell a
plausible pilot-era code with a bad check character from a typing error.

``validate_key`` and ``is_valid_key`` check a code that names a subject in a data call, where
there is no review queue to route a doubtful code to: a pilot-era code passes (a bad check
character with a known authority and institution type), as refusing it would lock a real
organisation out of every data call.

>>> validate('91110000600037341L')
'91110000600037341L'
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from stdnum.cn import uscc
from stdnum.exceptions import InvalidChecksum, InvalidFormat, InvalidLength, ValidationError

from quality.vector import TEXT, char_matrix, stdnum_compact

LENGTH = 18
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CHAR = "[0-9A-HJ-NP-RTUW-Y]"
_FORMAT = rf"[0-9ANY][0-9]{{7}}{_CHAR}{{10}}"
_WEIGHTS = [3**i % 31 for i in range(17)]

# GB 32100-2015 Table 1 with the codes assigned since (登记管理部门代码 and 机构类别代码).
REGISTERING_AUTHORITIES = {
    "1": "机构编制",
    "2": "外交",
    "3": "司法行政",
    "4": "文化",
    "5": "民政",
    "6": "旅游",
    "7": "宗教",
    "8": "工会",
    "9": "工商",
    "A": "中央军委改革和编制办公室",
    "N": "农业",
    "Y": "其他",
}
INSTITUTION_TYPES = {
    "1": {"1": "机关", "2": "事业单位", "3": "中央编办直接管理机构编制的群众团体", "9": "其他"},
    "2": {"1": "外国常住新闻机构", "9": "其他"},
    "3": {
        "1": "律师执业机构",
        "2": "公证处",
        "3": "基层法律服务所",
        "4": "司法鉴定机构",
        "5": "仲裁委员会",
        "9": "其他",
    },
    "4": {"1": "外国在华文化中心", "9": "其他"},
    "5": {"1": "社会团体", "2": "民办非企业单位", "3": "基金会", "9": "其他"},
    "6": {"1": "外国旅游部门常驻代表机构", "2": "港澳台地区旅游部门常驻内地（大陆）代表机构", "9": "其他"},
    "7": {"1": "宗教活动场所", "2": "宗教院校", "9": "其他"},
    "8": {"1": "基层工会", "9": "其他"},
    "9": {"1": "企业", "2": "个体工商户", "3": "农民专业合作社"},
    "A": {"1": "军队事业单位", "9": "其他"},
    "N": {"1": "组级集体经济组织", "2": "村级集体经济组织", "3": "乡镇级集体经济组织", "9": "其他"},
    "Y": {"1": "其他"},
}
_KNOWN_PREFIXES = frozenset(a + t for a, types in INSTITUTION_TYPES.items() for t in types)
# Index in ALPHABET of every byte value (only alphabet bytes are ever looked up).
_VALUE = np.zeros(256, dtype=np.int64)
_VALUE[[ord(c) for c in ALPHABET]] = np.arange(len(ALPHABET))
_MESSAGES: dict[type[ValidationError], str] = {
    InvalidLength: "统一社会信用代码应为 18 位",
    InvalidFormat: "统一社会信用代码含有不允许的字符",
    InvalidChecksum: "统一社会信用代码校验码错误",
}


def compact(value: str) -> str:
    """Return the value as stdnum keeps it: spaces and hyphens removed, upper-cased."""
    return str(uscc.compact(value))


def calc_check_digit(value: str) -> str:
    """Return the GB 32100 check character of the first 17 characters of the compacted value."""
    return str(uscc.calc_check_digit(value))


def validate(value: str) -> str:
    """Check the format and check character; return the compacted code or raise a ValidationError."""
    code = compact(value)
    if len(code) != LENGTH:
        raise InvalidLength(_MESSAGES[InvalidLength])
    if code[0] not in "0123456789ANY" or not code[1:8].isdigit() or not code[1:8].isascii():
        raise InvalidFormat(_MESSAGES[InvalidFormat])
    if any(c not in ALPHABET for c in code[8:]):
        raise InvalidFormat(_MESSAGES[InvalidFormat])
    if code[-1] != uscc.calc_check_digit(code):
        raise InvalidChecksum(_MESSAGES[InvalidChecksum])
    return code


def is_valid(value: str) -> bool:
    """Check whether the value is a valid 统一社会信用代码."""
    try:
        return bool(validate(value))
    except ValidationError:
        return False


def validate_key(value: str) -> str:
    """Check the value as ``validate`` does, but let a pilot-era code pass; return it compacted."""
    try:
        return validate(value)
    except InvalidChecksum:
        if bool(structurally_valid(pd.Series([value])).iloc[0]):
            return compact(value)
        raise


def is_valid_key(value: str) -> bool:
    """Check whether the value names an organisation: a valid 统一社会信用代码 or a pilot-era one."""
    try:
        return bool(validate_key(value))
    except ValidationError:
        return False


def compact_all(values: pd.Series) -> pd.Series:
    """Vectorised ``compact``: a str Series, missing where the value is."""
    return stdnum_compact(values, deletechars=" -")


def check(values: pd.Series) -> pd.Series:
    """Return None where the value is valid, missing or empty, else the reason it is not."""
    raw = values.astype(TEXT)
    text = compact_all(raw)
    present = (raw != "").fillna(False).to_numpy(dtype=bool)
    well_formed = text.str.fullmatch(_FORMAT).fillna(False).to_numpy(dtype=bool)
    chars = char_matrix(text[well_formed], LENGTH)
    total = np.zeros(len(chars), dtype=np.int64)
    for column, weight in enumerate(_WEIGHTS):
        total += _VALUE[chars[:, column]] * weight
    expected = np.frombuffer(ALPHABET.encode(), dtype=np.uint8)[(31 - total % 31) % 31]
    found = np.full(len(chars), None, dtype=object)
    found[chars[:, 17] != expected] = "uscc_checksum"
    reasons = np.full(len(values), None, dtype=object)
    reasons[well_formed] = found
    reasons[present & ~well_formed] = "uscc_format"
    return pd.Series(reasons, index=values.index, dtype=object)


def structurally_valid(values: pd.Series) -> pd.Series:
    """True where the code has the shape of GB 32100 with a known authority and institution type."""
    text = compact_all(values)
    shaped = text.str.fullmatch(rf"{_CHAR}{{2}}[0-9]{{6}}{_CHAR}{{10}}").fillna(False)
    known = text.str.slice(0, 2).isin(_KNOWN_PREFIXES)
    return pd.Series((shaped & known).fillna(False).to_numpy(dtype=bool), index=values.index)


def registering_authority(values: pd.Series) -> pd.Series:
    """Return the first character (registering-authority code) of each compacted value, None if blank."""
    first = compact_all(values).str.slice(0, 1)
    authorities = first.to_numpy(dtype=object)
    authorities[(first.isna() | (first == "")).to_numpy(dtype=bool)] = None
    return pd.Series(authorities, index=values.index, dtype=object)
