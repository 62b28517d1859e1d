"""The residents of 榕城市 that every population source and credit record draws on.

Identifiers are well-formed: a 公民身份号码 per GB 11643-1999 carries a birth-place code in
force in the birth year (GB/T 2260), the birth date, a sequence whose parity is the sex, and its
ISO 7064 MOD 11-2 check character (``quality.gb11643``).
"""

from dataclasses import dataclass
from datetime import date
from functools import cache

import numpy as np

from demo.sources.city import COUNTIES, COUNTY_WEIGHTS, TODAY, addresses, pick, random_stream
from quality import gb11643

# Birth-place codes of 公民身份号码 and their weights. A number keeps the code of the county
# where it was first assigned, so abolished codes (市区, 长乐县, 福清县, 长乐市) are still
# carried, and some residents were born elsewhere. The GB 11643 check also requires the
# county to have existed in the birth year, so each person only gets a code valid then.
_ID_REGIONS = {
    "350100": 2,
    "350120": 10,
    "350121": 8,
    "350102": 12,
    "350103": 9,
    "350104": 10,
    "350105": 3,
    "350111": 10,
    "350112": 5,
    "350122": 5,
    "350123": 2,
    "350124": 2,
    "350125": 2,
    "350126": 4,
    "350127": 4,
    "350128": 3,
    "350181": 9,
    "350182": 5,
    "350203": 1,
    "350302": 1,
    "350502": 1,
    "350602": 1,
    "350702": 1,
    "110105": 0.5,
    "430104": 0.5,
}
# Where people whose number carries an abolished county code are registered today.
_SUCCESSOR = {"350126": "350112", "350182": "350112", "350127": "350181"}

_SURNAMES = {
    "陈": 10, "林": 9, "黄": 6, "张": 4, "李": 4, "王": 4, "吴": 3.5, "刘": 3, "郑": 3, "杨": 2,
    "蔡": 2, "许": 2, "郭": 2, "谢": 2, "洪": 1.5, "邱": 1.2, "曾": 1.2, "周": 1.2, "徐": 1, "游": 1,
    "叶": 1.2, "苏": 1, "庄": 1, "江": 1, "何": 1, "罗": 1, "高": 1, "朱": 0.8, "魏": 0.8, "卢": 0.8,
    "潘": 0.8, "余": 0.8, "詹": 0.6, "翁": 0.6, "薛": 0.6, "傅": 0.6, "施": 0.6, "卓": 0.5, "阮": 0.4,
    "柯": 0.5, "严": 0.5, "赖": 0.5, "钟": 0.5, "宋": 0.5, "孙": 0.5, "沈": 0.5, "董": 0.4, "唐": 0.4,
    "方": 0.6, "邓": 0.4, "范": 0.4, "姚": 0.4, "温": 0.4, "蓝": 0.3, "雷": 0.3, "欧阳": 0.05, "上官": 0.03,
}  # fmt: skip
# Given-name characters, each with a same-sounding character a clerk may type instead (the
# name_mismatch fault): every character a generated name uses has one.
HOMOPHONES = {
    # male
    "伟": "玮", "强": "蔷", "磊": "垒", "军": "君", "勇": "泳", "杰": "捷", "涛": "滔", "斌": "彬",
    "明": "鸣", "刚": "钢", "平": "坪", "辉": "晖", "鹏": "朋", "华": "骅", "飞": "菲", "鑫": "昕",
    "宇": "禹", "浩": "昊", "凯": "恺", "健": "建", "俊": "峻", "帆": "凡", "旭": "煦", "龙": "隆",
    "林": "霖", "阳": "扬", "建": "剑", "国": "帼", "志": "智", "文": "闻", "东": "冬", "晨": "辰",
    "峰": "锋", "宏": "鸿", "成": "诚", "振": "震", "兴": "星", "良": "梁", "翔": "祥", "铭": "明",
    "泽": "择", "睿": "瑞", "皓": "浩", "博": "泊",
    # female
    "芳": "方", "娜": "纳", "敏": "闽", "静": "婧", "丽": "莉", "艳": "燕", "娟": "鹃", "霞": "侠",
    "秀": "绣", "英": "瑛", "玲": "铃", "燕": "艳", "萍": "平", "红": "虹", "桂": "贵", "兰": "岚",
    "婷": "庭", "琳": "林", "晶": "菁", "慧": "惠", "颖": "莹", "倩": "茜", "洁": "杰", "佳": "嘉",
    "梅": "玫", "莉": "丽", "欣": "馨", "怡": "仪", "萱": "轩", "涵": "含", "琪": "琦", "悦": "月",
    "雯": "文", "琴": "芹", "珍": "真", "凤": "奉", "薇": "微", "蓉": "荣", "瑶": "遥", "妍": "研",
    "梦": "孟", "思": "丝", "雨": "宇", "晓": "筱",
    # either
    "子": "梓", "嘉": "佳", "永": "咏", "金": "锦", "春": "椿", "立": "丽",
}  # fmt: skip
_MALE_GIVEN = "伟强磊军勇杰涛斌明刚平辉鹏华飞鑫宇浩凯健俊帆旭龙林阳建国志文东晨峰宏成振兴良翔铭泽睿皓博"
_FEMALE_GIVEN = "芳娜敏静丽艳娟霞秀英玲燕萍红桂兰婷琳晶慧颖倩洁佳梅莉欣怡萱涵琪悦雯琴珍凤薇蓉瑶妍梦思雨晓"
_SHARED_GIVEN = "子嘉永金春立"
# 生僻字 outside GBK (CJK Extension A and C): GB18030 encodes them, GBK does not.
RARE_GIVEN = ("䶮", "𫖯")

# GB/T 3304 codes other than 汉族 (01), weighted for 福建: 畲族 22, 回族 03, 高山族 23 ...
_MINORITIES = {"22": 12, "03": 5, "08": 3, "06": 3, "15": 3, "23": 1, "11": 2, "02": 1, "12": 1, "13": 1}
# Mobile number segments (号段) of the three carriers.
_PHONE_PREFIXES = [
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155",
    "156", "157", "158", "159", "166", "173", "175", "176", "177", "178", "180", "181", "182",
    "183", "185", "186", "187", "188", "189", "191", "198", "199",
]  # fmt: skip
# Population pyramid in 5-year bands (0-4 ... 90-94), roughly a Chinese prefecture city.
_AGE_BANDS = [4.5, 5.5, 6, 5.5, 5, 5.5, 8, 7.5, 6.5, 7.5, 8.5, 8, 6, 5.5, 4.5, 3, 2, 1, 0.4]


@dataclass
class People:
    """The residents, column by column: index ``i`` of every field is one person."""

    body: np.ndarray  # int64: the first 17 digits of the 公民身份号码
    ids: list[str]
    names: list[str]
    sex: np.ndarray  # int8: 1 male, 2 female (GB/T 2261.1)
    birth: np.ndarray  # datetime64[D]
    ethnicity: list[str]
    region: list[str]  # household county (GB/T 2260)
    address: list[str]
    phone: list[str | None]
    rare: np.ndarray  # indices of the people whose names use 生僻字

    def __len__(self) -> int:
        return len(self.ids)

    def birth_date(self, i: int) -> date:
        """Person ``i``'s date of birth."""
        return date.fromisoformat(str(self.birth[i]))


@cache
def _region_valid_in(year: int) -> np.ndarray:
    """Which birth-place codes a valid 公民身份号码 of someone born in ``year`` may carry."""
    bodies = [f"{code}{year}0101001" for code in _ID_REGIONS]
    return np.array([gb11643.is_valid(body + gb11643.calc_check_digit(body)) for body in bodies])


def _id_regions(rng: np.random.Generator, years: np.ndarray) -> np.ndarray:
    codes = np.array([int(c) for c in _ID_REGIONS], dtype=np.int64)
    weights = np.array(list(_ID_REGIONS.values()), dtype=float)
    out = np.empty(len(years), dtype=np.int64)
    for year in np.unique(years):
        sel = np.nonzero(years == year)[0]
        p = weights * _region_valid_in(int(year))
        out[sel] = codes[rng.choice(len(codes), size=len(sel), p=p / p.sum())]
    return out


def _id_bodies(rng: np.random.Generator, birth: np.ndarray, sex: np.ndarray, taken: set[int]) -> np.ndarray:
    """17-digit bodies: region, birth date, a sequence whose parity is the sex (odd male), all distinct."""
    n = len(birth)
    years = birth.astype("M8[Y]").astype(np.int64) + 1970
    months = birth.astype("M8[M]").astype(np.int64) % 12 + 1
    days = (birth - birth.astype("M8[M]")).astype(np.int64) + 1
    prefix = _id_regions(rng, years) * 10**11 + (years * 10_000 + months * 100 + days) * 1000

    def sequences(count: int, male: np.ndarray) -> np.ndarray:
        k = rng.integers(1, 500, count)
        return 2 * k + male.astype(np.int64)

    body = prefix + sequences(n, sex == 1)
    while True:
        _, first = np.unique(body, return_index=True)
        clash = np.ones(n, dtype=bool)
        clash[first] = False
        if taken:
            clash |= np.isin(body, np.fromiter(taken, dtype=np.int64))
        if not clash.any():
            return body
        body[clash] = prefix[clash] + sequences(int(clash.sum()), sex[clash] == 1)


def _id_number(body: int) -> str:
    """The 公民身份号码 of a 17-digit body: the body and its check character."""
    digits = f"{body:017d}"
    return digits + gb11643.calc_check_digit(digits)


def person_names(rng: np.random.Generator, sex: np.ndarray) -> list[str]:
    """A name per sex code: a surname and one or two given-name characters of that sex."""
    n = len(sex)
    surnames = pick(rng, _SURNAMES, n)
    male = sex == 1
    first_pool_m = np.array(list(_SHARED_GIVEN + _MALE_GIVEN))
    first_pool_f = np.array(list(_SHARED_GIVEN + _FEMALE_GIVEN))
    last_pool_m = np.array(list(_MALE_GIVEN))
    last_pool_f = np.array(list(_FEMALE_GIVEN))
    first = np.where(
        male,
        first_pool_m[rng.integers(0, len(first_pool_m), n)],
        first_pool_f[rng.integers(0, len(first_pool_f), n)],
    )
    last = np.where(
        male,
        last_pool_m[rng.integers(0, len(last_pool_m), n)],
        last_pool_f[rng.integers(0, len(last_pool_f), n)],
    )
    two = rng.random(n) < 0.72
    return [s + f + t if w else s + t for s, f, t, w in zip(surnames, first, last, two, strict=True)]


def residents(n: int, seed: int) -> People:
    """``n`` residents of 榕城市, vectorised so a million take seconds."""
    rng = random_stream(seed, "people")
    bands = np.array(_AGE_BANDS) / sum(_AGE_BANDS)
    band = rng.choice(len(bands), size=n, p=bands)
    age_days = ((band + rng.random(n)) * 5 * 365.25).astype(np.int64) + 1
    birth = np.datetime64(TODAY, "D") - age_days
    sex = rng.integers(1, 3, n).astype(np.int8)
    body = _id_bodies(rng, birth, sex, set())
    ids = [_id_number(b) for b in body.tolist()]
    names = person_names(rng, sex)

    ethnicity = np.where(rng.random(n) < 0.968, "01", pick(rng, _MINORITIES, n)).tolist()
    counties = pick(rng, dict(zip(COUNTIES, COUNTY_WEIGHTS, strict=True)), n)
    born_in = (body // 10**11).astype(str)
    stays = rng.random(n) < 0.8
    region = []
    for code, county, stay in zip(born_in.tolist(), counties.tolist(), stays.tolist(), strict=True):
        home = _SUCCESSOR.get(code, code)
        region.append(home if stay and home in COUNTIES else county)
    address = addresses(rng, region)
    prefixes = np.array(_PHONE_PREFIXES)[rng.integers(0, len(_PHONE_PREFIXES), n)]
    suffixes = rng.integers(0, 10**8, n)
    child = age_days < 12 * 365
    phone: list[str | None] = [
        None if c else f"{p}{s:08d}" for p, s, c in zip(prefixes, suffixes.tolist(), child, strict=True)
    ]
    adults = np.nonzero(age_days > 20 * 365)[0]
    rare = rng.choice(adults, size=min(len(RARE_GIVEN), len(adults)), replace=False)
    for i, char in zip(rare.tolist(), RARE_GIVEN, strict=False):
        names[i] = names[i][:-1] + char
    return People(body, ids, names, sex, birth, ethnicity, region, address, phone, rare)


def strangers(rng: np.random.Generator, pop: People, count: int) -> list[tuple[str, str]]:
    """Valid 公民身份号码 of people absent from 公安's register, with names."""
    birth = np.datetime64("1970-01-01") + rng.integers(0, 30 * 365, count).astype("m8[D]")
    sex = rng.integers(1, 3, count).astype(np.int8)
    body = _id_bodies(rng, birth, sex, set(pop.body.tolist()))
    return list(zip([_id_number(b) for b in body.tolist()], person_names(rng, sex), strict=True))
