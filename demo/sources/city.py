"""The demo city 榕城市: its fixed today, its counties and streets, and the seeded draws every source makes.

Every value the generators write derives from the seed through :func:`random_stream`, one numpy
stream per source, and "today" is fixed, so a seed always gives the same bytes.
"""

import zlib
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import TypeVar

import numpy as np

TODAY = date(2026, 11, 20)
T = TypeVar("T")

# Counties of 榕城市 (350100) in force today, GB/T 2260: household regions and registration regions.
COUNTIES = {
    "350102": "鼓楼区",
    "350103": "台江区",
    "350104": "仓山区",
    "350105": "马尾区",
    "350111": "晋安区",
    "350112": "长乐区",
    "350121": "闽侯县",
    "350122": "连江县",
    "350123": "罗源县",
    "350124": "闽清县",
    "350125": "永泰县",
    "350128": "平潭县",
    "350181": "福清市",
}
COUNTY_WEIGHTS = [14, 10, 12, 4, 12, 7, 9, 6, 3, 3, 3, 4, 13]
_URBAN_ROADS = {
    "350102": ["五四路", "鼓屏路", "杨桥中路", "湖东路", "铜盘路", "西二环中路", "华林路", "古田路"],
    "350103": ["八一七中路", "工业路", "江滨中大道", "上下杭路", "五一中路", "广达路"],
    "350104": ["上渡路", "南江滨西大道", "金山大道", "首山路", "建新南路", "盖山路"],
    "350105": ["罗星东路", "江滨东大道", "儒江西路", "君竹路"],
    "350111": ["福新东路", "岳峰路", "前横路", "新店路", "鹤林路", "晋安河路"],
}
_TOWNS = {
    "350112": ["吴航街道", "航城街道", "首占镇", "金峰镇"],
    "350121": ["甘蔗街道", "上街镇", "南屿镇", "青口镇"],
    "350122": ["凤城镇", "琯头镇", "敖江镇"],
    "350123": ["凤山镇", "松山镇"],
    "350124": ["梅城镇", "白樟镇"],
    "350125": ["樟城镇", "城峰镇"],
    "350128": ["潭城镇", "苏澳镇"],
    "350181": ["玉屏街道", "龙田镇", "江阴镇"],
}
_VILLAGES = ["东山", "西园", "后坂", "岭头", "下洋", "溪口", "上洋", "新店", "前亭", "湖里", "桥头", "塘边"]


def random_stream(seed: int, stream: str) -> np.random.Generator:
    """An independent random stream per source, so one source's changes never shift another's data."""
    return np.random.default_rng([seed, zlib.crc32(stream.encode())])


def pick(rng: np.random.Generator, weights: Mapping[str, float], size: int) -> np.ndarray:
    """``size`` keys of ``weights``, each drawn with probability proportional to its weight."""
    keys = np.array(list(weights))
    p = np.array(list(weights.values()), dtype=float)
    return keys[rng.choice(len(keys), size=size, p=p / p.sum())]


def between(rng: np.random.Generator, start: date, end: date) -> date:
    """A day from ``start`` to ``end``, both included (``start`` if the range is empty)."""
    return start + timedelta(days=int(rng.integers(0, max((end - start).days, 0) + 1)))


def add_years(day: date, years: int) -> date:
    """The same day ``years`` later; 29 February becomes 28 February in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def one(rng: np.random.Generator, items: Sequence[T]) -> T:
    """One of ``items``, drawn uniformly."""
    return items[int(rng.integers(0, len(items)))]


def wrong(correct: str, alphabet: str, rng: np.random.Generator) -> str:
    """A character of ``alphabet`` other than ``correct``: a mistyped check character."""
    others = [c for c in alphabet if c != correct]
    return one(rng, others)


def addresses(rng: np.random.Generator, regions: Sequence[str]) -> list[str]:
    """Street addresses in each county: road and flat in the city districts, village elsewhere."""
    n = len(regions)
    number = rng.integers(1, 400, n).tolist()
    building = rng.integers(1, 30, n).tolist()
    room = (rng.integers(1, 33, n) * 100 + rng.integers(1, 9, n)).tolist()
    choice = rng.integers(0, 1 << 30, n).tolist()
    village = np.array(_VILLAGES)[rng.integers(0, len(_VILLAGES), n)].tolist()
    out = []
    for code, no, bldg, rm, p, vil in zip(regions, number, building, room, choice, village, strict=True):
        county = COUNTIES.get(code, "鼓楼区")
        if code in _TOWNS:
            towns = _TOWNS[code]
            out.append(f"榕城市{county}{towns[p % len(towns)]}{vil}村{no}号")
        else:
            roads = _URBAN_ROADS.get(code, _URBAN_ROADS["350102"])
            out.append(f"榕城市{county}{roads[p % len(roads)]}{no}号{bldg}号楼{rm}室")
    return out


def area(region: str) -> str:
    """How names and authorities say where they are: 榕城市, 榕城市鼓楼区, 闽侯县, 福清市."""
    county = COUNTIES.get(region)
    if county is None:
        return "榕城市"
    return f"榕城市{county}" if county.endswith("区") else county
