"""The 信用 (credit) library's sources: 法院 失信被执行人 and 信用办 双公示 (licences and penalties).

They name clean residents and enterprises only (:class:`~demo.sources.organisations.CleanSubjects`).
"""

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from demo.sources.city import TODAY, add_years, between, one, random_stream
from demo.sources.organisations import CleanSubjects
from demo.sources.output import SourceTable

# The departments that publish 双公示 decisions, with the abbreviation of their document numbers.
_PUBLISHERS = {
    "榕市监": "榕城市市场监督管理局",
    "榕环": "榕城市生态环境局",
    "榕建": "榕城市住房和城乡建设局",
    "榕卫": "榕城市卫生健康委员会",
    "榕交": "榕城市交通运输局",
}
_LICENSES = {
    "榕市监": ["准予食品经营许可", "准予药品零售许可", "准予特种设备使用登记"],
    "榕环": ["准予排污许可", "准予建设项目环境影响报告表审批"],
    "榕建": ["准予建筑工程施工许可", "准予建筑业企业资质许可"],
    "榕卫": ["准予公共场所卫生许可", "准予医疗机构执业登记"],
    "榕交": ["准予道路货物运输经营许可", "准予机动车维修经营备案"],
}
_PENALTIES = {
    "榕市监": ["销售超过保质期的食品", "未按规定公示年度报告", "虚假宣传", "未明码标价"],
    "榕环": ["超标排放大气污染物", "未批先建", "危险废物贮存不规范"],
    "榕建": ["未取得施工许可证擅自施工", "违反工程建设强制性标准"],
    "榕卫": ["未取得卫生许可证从事经营活动", "从业人员未取得健康合格证明"],
    "榕交": ["未取得道路运输经营许可从事经营", "超限运输"],
}
_DISHONEST_CONDUCT = [
    "有履行能力而拒不履行生效法律文书确定义务",
    "违反财产报告制度",
    "违反限制消费令",
    "以虚假诉讼、虚假仲裁或者以隐匿、转移财产等方法规避执行",
]
_COURTS = {
    "01": "榕城市中级人民法院",
    "0102": "榕城市鼓楼区人民法院",
    "0103": "榕城市台江区人民法院",
    "0104": "榕城市仓山区人民法院",
    "0111": "榕城市晋安区人民法院",
    "0121": "闽侯县人民法院",
    "0181": "福清市人民法院",
}


def dishonest_debtors(subjects: CleanSubjects, seed: int) -> list[dict[str, Any]]:
    """法院's 失信被执行人 list: enterprises and people, one enforcement case each."""
    rng = random_stream(seed, "fayuan_shixin")
    pop = subjects.pop
    named: list[tuple[str, str]] = [
        (f.code, f.name) for f in subjects.enterprises(rng, max(3, len(subjects.firms) // 30))
    ]
    named += [(pop.ids[i], pop.names[i]) for i in subjects.people(rng, max(3, len(pop) // 200))]
    serial: dict[tuple[int, str], int] = {}
    records = []
    for code, name in named:
        filed = between(rng, date(2019, 1, 1), TODAY - timedelta(days=30))
        court = one(rng, list(_COURTS))
        serial[filed.year, court] = serial.get((filed.year, court), int(rng.integers(100, 900))) + int(
            rng.integers(1, 40)
        )
        records.append(
            {
                "ah": f"（{filed.year}）闽{court}执{serial[filed.year, court]}号",
                "bzxrmc": name,
                "bzxrzjhm": code,
                "zxfy": _COURTS[court],
                "lasj": filed.isoformat(),
                "fbrq": between(rng, filed + timedelta(days=20), TODAY).isoformat(),
                "sxqx": one(rng, _DISHONEST_CONDUCT),
                "sxbz": "1",
            }
        )
    records.sort(key=lambda r: (r["fbrq"], r["ah"]))
    return records


def licences_and_penalties(subjects: CleanSubjects, seed: int) -> tuple[SourceTable, SourceTable]:
    """信用办's 双公示 files: administrative licences and penalties, with their document numbers."""
    rng = random_stream(seed, "xinyong_shuang_gongshi")
    pop = subjects.pop
    serial: dict[tuple[str, int], int] = {}

    def doc_no(abbr: str, kind: str, year: int) -> str:
        serial[abbr + kind, year] = serial.get((abbr + kind, year), int(rng.integers(1, 60))) + int(
            rng.integers(1, 6)
        )
        return f"{abbr}{kind}〔{year}〕{serial[abbr + kind, year]}号"

    def named(n_firms: int, n_people: int) -> list[tuple[str, str]]:
        out = [(f.code, f.name) for f in subjects.enterprises(rng, n_firms)]
        return out + [(pop.ids[i], pop.names[i]) for i in subjects.people(rng, n_people)]

    licences = []
    for code, name in named(max(4, len(subjects.firms) // 2), max(2, len(pop) // 250)):
        abbr = one(rng, list(_PUBLISHERS))
        decided = between(rng, date(2021, 1, 1), TODAY - timedelta(days=1))
        licence = one(rng, _LICENSES[abbr])
        licences.append((decided, doc_no(abbr, "许", decided.year), code, name, licence, abbr))
    licences.sort()
    licences_table = SourceTable(
        {
            "xk_wsh": [x[1] for x in licences],
            "xk_xdr_mc": [x[3] for x in licences],
            "xk_xdr_dm": [x[2] for x in licences],
            "xk_nr": [x[4] for x in licences],
            "xk_jdrq": [x[0].isoformat() for x in licences],
            "xk_gsjzq": [add_years(x[0], 3).isoformat() for x in licences],
            "xk_xkjg": [_PUBLISHERS[x[5]] for x in licences],
        }
    )

    penalties = []
    for code, name in named(max(3, len(subjects.firms) // 5), max(2, len(pop) // 500)):
        abbr = one(rng, list(_PUBLISHERS))
        decided = between(rng, date(2022, 1, 1), TODAY - timedelta(days=1))
        reason = one(rng, _PENALTIES[abbr])
        yuan = int(rng.choice([0, 2000, 5000, 10000, 20000, 50000, 100000, 200000]))
        decision = f"警告，罚款人民币{yuan}元" if yuan else "警告"
        amount = (Decimal(yuan) / 10000).quantize(Decimal("0.0001"))
        penalties.append(
            (decided, doc_no(abbr, "罚", decided.year), code, name, reason, decision, amount, abbr)
        )
    penalties.sort()
    penalties_table = SourceTable(
        {
            "cf_wsh": [p[1] for p in penalties],
            "cf_xdr_mc": [p[3] for p in penalties],
            "cf_xdr_dm": [p[2] for p in penalties],
            "cf_sy": [p[4] for p in penalties],
            "cf_nr": [p[5] for p in penalties],
            "cf_fk": [str(p[6]) for p in penalties],
            "cf_jdrq": [p[0].isoformat() for p in penalties],
            # 行政处罚信息公示期: 3 years when a fine was imposed, 1 year for a warning alone.
            "cf_gsjzq": [add_years(p[0], 3 if p[6] else 1).isoformat() for p in penalties],
            "cf_cfjg": [_PUBLISHERS[p[7]] for p in penalties],
        }
    )
    return licences_table, penalties_table
