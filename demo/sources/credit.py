"""The 信用 (credit) library's sources, one per kind of record, each from the department that decides it.

法院 失信被执行人 (03); 信用办 双公示, licences (01) and penalties (02); 市场监管 经营异常名录 (04),
严重违法失信名单 (05) and 质量抽检 (07); 卫健 监督检查 (06); 发改 守信红名单 (08). They name
clean residents and enterprises only (:class:`~demo.sources.organisations.CleanSubjects`).
"""

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from demo.sources.city import TODAY, add_years, area, between, one, pick, random_stream
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


_ABNORMAL_REASONS = [
    "未依照《企业信息公示暂行条例》第八条规定的期限公示年度报告",
    "通过登记的住所或者经营场所无法联系",
    "未在责令的期限内公示有关企业信息",
    "公示企业信息隐瞒真实情况、弄虚作假",
]
_SERIOUS_DISHONESTY = [
    "被列入经营异常名录届满3年仍未履行相关义务",
    "提交虚假材料或者采取其他欺诈手段隐瞒重要事实，取得公司变更或者注销登记",
    "生产、销售不符合食品安全标准的食品，造成严重后果",
]
_HEALTH_INSPECTIONS = [
    "公共场所卫生监督检查",
    "生活饮用水卫生监督检查",
    "医疗机构依法执业检查",
    "学校卫生监督检查",
]
_PRODUCTS = ["电动自行车", "儿童玩具", "食品相关产品（塑料餐具）", "电线电缆", "化肥", "服装", "燃气灶具"]
_COMMENDATIONS = {
    "纳税信用A级纳税人": "国家税务总局榕城市税务局",
    "守合同重信用企业": "榕城市市场监督管理局",
    "诚信示范企业": "榕城市发展和改革委员会",
}
_VOLUNTEER = ("五星级志愿者（诚信个人）", "共青团榕城市委员会")


class _Numbers:
    """Document numbers such as 榕市监异〔2025〕17号: a running number per prefix and year."""

    def __init__(self, rng: Any) -> None:
        self.rng = rng
        self.last: dict[tuple[str, int], int] = {}

    def next(self, prefix: str, year: int) -> str:
        start = self.last.get((prefix, year), int(self.rng.integers(1, 60)))
        self.last[prefix, year] = start + int(self.rng.integers(1, 6))
        return f"{prefix}〔{year}〕{self.last[prefix, year]}号"


def abnormal_operations(subjects: CleanSubjects, seed: int) -> SourceTable:
    """市场监管's 经营异常名录 (04): listings, about a third of them since removed."""
    rng = random_stream(seed, "shichang_jingying_yichang")
    numbers = _Numbers(rng)
    rows = []
    for firm in subjects.enterprises(rng, max(3, len(subjects.firms) // 12)):
        listed = between(rng, date(2021, 1, 1), TODAY - timedelta(days=90))
        removed = between(rng, listed + timedelta(days=30), TODAY) if rng.random() < 0.35 else None
        authority = f"{area(firm.region)}市场监督管理局"
        rows.append(
            (
                listed,
                numbers.next("榕市监异", listed.year),
                firm,
                one(rng, _ABNORMAL_REASONS),
                removed,
                authority,
            )
        )
    rows.sort(key=lambda r: (r[0], r[1]))
    return SourceTable(
        {
            "lrwsh": [r[1] for r in rows],
            "tyshxydm": [r[2].code for r in rows],
            "qymc": [r[2].name for r in rows],
            "lryy": [r[3] for r in rows],
            "lrrq": [r[0].isoformat() for r in rows],
            "ycrq": [r[4].isoformat() if r[4] else "" for r in rows],
            "ycbz": ["0" if r[4] else "1" for r in rows],
            "zcjdjg": [r[5] for r in rows],
        }
    )


def serious_dishonesty(subjects: CleanSubjects, seed: int) -> SourceTable:
    """市场监管's 严重违法失信名单 (05), 公示 for 3 years: the oldest listings are past their 公示期."""
    rng = random_stream(seed, "shichang_yanzhong_shixin")
    numbers = _Numbers(rng)
    firms = subjects.enterprises(rng, max(4, len(subjects.firms) // 40))
    rows = []
    for i, firm in enumerate(firms):
        # The first listing is old enough to be past its 公示期, the second still in it.
        start = date(2020, 1, 1) if i != 1 else TODAY - timedelta(days=700)
        end = date(2022, 6, 30) if i == 0 else TODAY - timedelta(days=1)
        listed = between(rng, start, end)
        rows.append((listed, numbers.next("榕市监严", listed.year), firm, one(rng, _SERIOUS_DISHONESTY)))
    rows.sort(key=lambda r: (r[0], r[1]))
    return SourceTable(
        {
            "wsh": [r[1] for r in rows],
            "tyshxydm": [r[2].code for r in rows],
            "mc": [r[2].name for r in rows],
            "lrsy": [r[3] for r in rows],
            "lrrq": [r[0].isoformat() for r in rows],
            "gsjzrq": [add_years(r[0], 3).isoformat() for r in rows],
            "bz": ["1" for _ in rows],
            "jdjg": ["榕城市市场监督管理局" for _ in rows],
        }
    )


def _inspections(
    subjects: CleanSubjects, seed: int, stream: str, prefix: str, items: list[str], results: dict[str, int]
) -> list[tuple[str, ...]]:
    """Inspection results of clean enterprises since 2024, each 公示 for a year, in date order."""
    rng = random_stream(seed, stream)
    numbers = _Numbers(rng)
    rows = []
    for firm in subjects.enterprises(rng, max(3, len(subjects.firms) // 10)):
        day = between(rng, date(2024, 1, 1), TODAY - timedelta(days=1))
        result = str(pick(rng, results, 1)[0])
        number = numbers.next(prefix, day.year)
        rows.append((day, number, firm, one(rng, items), result))
    rows.sort(key=lambda r: (r[0], r[1]))
    return [
        (n, f.code, f.name, item, res, d.isoformat(), add_years(d, 1).isoformat())
        for d, n, f, item, res in rows
    ]


def _inspection_table(rows: list[tuple[str, ...]], authority: str, columns: tuple[str, ...]) -> SourceTable:
    """``rows`` and the authority under the source's own names for: number, subject code and name,
    item, result, date, 公示截止日期, authority."""
    values = [[*row, authority] for row in rows]
    return SourceTable({column: [v[k] for v in values] for k, column in enumerate(columns)})


def health_inspections(subjects: CleanSubjects, seed: int) -> SourceTable:
    """卫健's 监督检查 results (06)."""
    results = {"合格": 80, "责令整改": 15, "不合格": 5}
    rows = _inspections(subjects, seed, "weijian_jiandu_jiancha", "榕卫监检", _HEALTH_INSPECTIONS, results)
    columns = ("jcwsh", "dwdm", "dwmc", "jcsx", "jcjg", "jcrq", "gsjzrq", "jcjgmc")
    return _inspection_table(rows, "榕城市卫生健康委员会", columns)


def quality_sampling(subjects: CleanSubjects, seed: int) -> SourceTable:
    """市场监管's 产品质量监督抽查 results (07)."""
    rows = _inspections(
        subjects, seed, "shichang_zhiliang_choujian", "榕市监抽", _PRODUCTS, {"合格": 85, "不合格": 15}
    )
    columns = ("bgbh", "qydm", "qymc", "cpmc", "jyjl", "ccrq", "gsjzrq", "zzjg")
    return _inspection_table(rows, "榕城市市场监督管理局", columns)


def commendations(subjects: CleanSubjects, seed: int) -> list[dict[str, Any]]:
    """发改's 守信红名单 (08): enterprises and a few volunteers, each valid for 2 years."""
    rng = random_stream(seed, "fagai_shouxin_hongmingdan")
    numbers = _Numbers(rng)
    pop = subjects.pop
    named = [
        (f.code, f.name, one(rng, list(_COMMENDATIONS)))
        for f in subjects.enterprises(rng, max(3, len(subjects.firms) // 15))
    ]
    named += [
        (pop.ids[i], pop.names[i], _VOLUNTEER[0]) for i in subjects.people(rng, max(2, len(pop) // 1000))
    ]
    records = []
    for code, name, title in named:
        decided = between(rng, date(2023, 1, 1), TODAY - timedelta(days=1))
        records.append(
            {
                "rdwh": numbers.next("榕发改信", decided.year),
                "ztdm": code,
                "ztmc": name,
                "jlsx": title,
                "rdrq": decided.isoformat(),
                "yxqz": add_years(decided, 2).isoformat(),
                "rddw": dict([_VOLUNTEER, *_COMMENDATIONS.items()])[title],
            }
        )
    records.sort(key=lambda r: (r["rdrq"], r["rdwh"]))
    return records
