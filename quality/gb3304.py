"""GB/T 3304-1991 中国各民族名称的罗马字母拼写法和代码 (names of China's nationalities).

The two-digit numeric codes of Table 3, 01 汉族 to 56 基诺族, each with its romanisation
and letter code. The check is membership of that table after stripping surrounding
whitespace; "1" for 01 is not a code.

97 其他 (未识别民族) and 98 外国血统中国籍人士 are not in GB/T 3304, but household and
civil registration extend the standard with them, for people of an ethnic group not yet
recognised (such as 穿青人) and for naturalised citizens of foreign origin. Such values reach
the population library from its authoritative source (公安) and are correct there, so they
are valid here too and ``name`` knows them; ``ETHNICITIES`` holds the 56 codes of the
standard alone.

>>> name('03')
'回族'
"""

from __future__ import annotations

import pandas as pd
from stdnum.exceptions import InvalidComponent, InvalidLength, ValidationError

from quality.vector import unknown_codes

# code: (name, romanisation, letter code), in the order of Table 3.
ETHNICITIES = {
    "01": ("汉族", "Han", "HA"),
    "02": ("蒙古族", "Mongol", "MG"),
    "03": ("回族", "Hui", "HU"),
    "04": ("藏族", "Zang", "ZA"),
    "05": ("维吾尔族", "Uygur", "UG"),
    "06": ("苗族", "Miao", "MH"),
    "07": ("彝族", "Yi", "YI"),
    "08": ("壮族", "Zhuang", "ZH"),
    "09": ("布依族", "Buyei", "BY"),
    "10": ("朝鲜族", "Chosen", "CS"),
    "11": ("满族", "Man", "MA"),
    "12": ("侗族", "Dong", "DO"),
    "13": ("瑶族", "Yao", "YA"),
    "14": ("白族", "Bai", "BA"),
    "15": ("土家族", "Tujia", "TJ"),
    "16": ("哈尼族", "Hani", "HN"),
    "17": ("哈萨克族", "Kazak", "KZ"),
    "18": ("傣族", "Dai", "DA"),
    "19": ("黎族", "Li", "LI"),
    "20": ("傈僳族", "Lisu", "LS"),
    "21": ("佤族", "Va", "VA"),
    "22": ("畲族", "She", "SH"),
    "23": ("高山族", "Gaoshan", "GS"),
    "24": ("拉祜族", "Lahu", "LH"),
    "25": ("水族", "Sui", "SU"),
    "26": ("东乡族", "Dongxiang", "DX"),
    "27": ("纳西族", "Naxi", "NX"),
    "28": ("景颇族", "Jingpo", "JP"),
    "29": ("柯尔克孜族", "Kirgiz", "KG"),
    "30": ("土族", "Tu", "TU"),
    "31": ("达斡尔族", "Daur", "DU"),
    "32": ("仫佬族", "Mulao", "ML"),
    "33": ("羌族", "Qiang", "QI"),
    "34": ("布朗族", "Blang", "BL"),
    "35": ("撒拉族", "Salar", "SL"),
    "36": ("毛南族", "Maonan", "MN"),
    "37": ("仡佬族", "Gelao", "GL"),
    "38": ("锡伯族", "Xibe", "XB"),
    "39": ("阿昌族", "Achang", "AC"),
    "40": ("普米族", "Pumi", "PM"),
    "41": ("塔吉克族", "Tajik", "TA"),
    "42": ("怒族", "Nu", "NU"),
    "43": ("乌孜别克族", "Uzbek", "UZ"),
    "44": ("俄罗斯族", "Russ", "RS"),
    "45": ("鄂温克族", "Ewenki", "EW"),
    "46": ("德昂族", "Deang", "DE"),
    "47": ("保安族", "Bonan", "BN"),
    "48": ("裕固族", "Yugur", "YG"),
    "49": ("京族", "Gin", "GI"),
    "50": ("塔塔尔族", "Tatar", "TT"),
    "51": ("独龙族", "Derung", "DR"),
    "52": ("鄂伦春族", "Oroqen", "OR"),
    "53": ("赫哲族", "Hezhen", "HZ"),
    "54": ("门巴族", "Monba", "MB"),
    "55": ("珞巴族", "Lhoba", "LB"),
    "56": ("基诺族", "Jino", "JN"),
}
REGISTRATION_CODES = {"97": "其他", "98": "外国血统中国籍人士"}
NAMES = {code: entry[0] for code, entry in ETHNICITIES.items()} | REGISTRATION_CODES


def compact(value: str) -> str:
    """Strip surrounding whitespace."""
    return value.strip()


def validate(value: str) -> str:
    """Check that the value is a GB/T 3304 code (or 97/98); return it compacted."""
    code = compact(value)
    if len(code) != 2:
        raise InvalidLength("民族代码应为 2 位数字")
    if code not in NAMES:
        raise InvalidComponent(f"民族代码 {code} 不在 GB/T 3304-1991 中")
    return code


def is_valid(value: str) -> bool:
    """Check whether the value is a GB/T 3304 code (or 97/98)."""
    try:
        return bool(validate(value))
    except ValidationError:
        return False


def name(code: str) -> str:
    """Return the name for the code, e.g. '汉族'."""
    return NAMES[validate(code)]


def check(values: pd.Series) -> pd.Series:
    """Return None for a known code, a missing or an empty value, else "ethnicity_unknown_code"."""
    return unknown_codes(values, NAMES, "ethnicity_unknown_code")
