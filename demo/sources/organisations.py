"""The legal persons of 榕城市 (enterprises, 个体工商户, 机关, 事业单位, 社会组织) the sources name.

Every organisation has a 统一社会信用代码 per GB 32100-2015: registering authority, entity type,
region, a GB 11714 organisation code with its own check character (``quality.gb11714``) and the
MOD 31 check character (``quality.gb32100``).
"""

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np

from demo.sources.city import (
    COUNTIES,
    COUNTY_WEIGHTS,
    TODAY,
    addresses,
    area,
    between,
    one,
    pick,
    random_stream,
)
from demo.sources.people import People, person_names
from quality import gb11714, gb32100

# GB 32100-2015 took effect on this day; codes of organisations registered before it may come
# from provincial pilots whose check characters were computed differently.
USCC_EFFECTIVE = date(2015, 10, 1)

# 企业类型代码 (工商总局《企业登记注册类型与代码》): the company kinds a city registers most.
ENTERPRISE_TYPES = {
    "1130": ("有限责任公司（自然人投资或控股）", "有限公司", 50),
    "1151": ("有限责任公司（自然人独资）", "有限公司", 25),
    "1190": ("其他有限责任公司", "有限责任公司", 10),
    "1140": ("有限责任公司（国有控股）", "有限责任公司", 3),
    "1222": ("股份有限公司（非上市、自然人投资或控股）", "股份有限公司", 6),
    "1212": ("股份有限公司（上市、自然人投资或控股）", "股份有限公司", 1),
}
REGISTRATION_STATUSES = {"存续": 78, "在业": 8, "吊销": 5, "注销": 8, "迁出": 1}
_TRADE_NAME_A = "盛鑫恒华宏瑞永泰海天金嘉榕闽信新众德兴源达丰利通和安汇创力博远优"
_TRADE_NAME_B = "达源通兴昌隆泰盛发祥丰海峰华宇诚信和辉弘邦凯锦铭晟润祺翔"
_INDUSTRIES = [
    "贸易", "科技", "建筑工程", "餐饮管理", "物流", "电子", "食品", "服装", "文化传媒", "信息技术",
    "房地产开发", "机械设备", "医药", "环保科技", "教育咨询", "物业管理", "网络科技", "茶业", "水产",
    "旅游开发", "装饰工程", "汽车销售", "新材料", "供应链管理",
]  # fmt: skip
_INSTITUTION_KINDS = [
    "实验小学", "中心幼儿园", "人民医院", "中医院", "妇幼保健院", "疾病预防控制中心", "图书馆",
    "文化馆", "档案馆", "不动产登记中心", "公共资源交易中心", "政务服务中心", "综合执法大队",
    "农业技术推广站", "水利工作站", "社会福利院", "广播电视台", "机关事务服务中心",
]  # fmt: skip
_INSTITUTION_SPONSORS = [
    "榕城市教育局", "榕城市卫生健康委员会", "榕城市文化和旅游局", "榕城市人民政府办公室",
    "榕城市农业农村局", "榕城市民政局", "榕城市自然资源和规划局",
]  # fmt: skip
_SOCIAL_ORG_KINDS = {
    "1": ["商会", "行业协会", "企业家协会", "老年人体育协会", "摄影家协会", "书法家协会", "志愿者协会"],
    "2": ["培训学校", "养老院", "社会工作服务中心", "幼儿园", "康复中心", "社区服务中心"],
    "3": ["慈善基金会", "教育基金会", "助学基金会"],
}
_SOCIAL_ORG_SCOPE = {
    "1": "行业自律、会员服务、业务培训、交流合作、咨询服务",
    "2": "依法开展非营利性社会服务活动",
    "3": "接受社会捐赠，资助教育、扶贫济困等公益慈善项目",
}
_INSTITUTION_PURPOSE = {
    "实验小学": "实施小学义务教育，促进基础教育发展",
    "中心幼儿园": "实施学前教育，促进幼儿身心健康发展",
    "人民医院": "为人民身体健康提供医疗与护理保健服务",
    "图书馆": "提供文献信息资源借阅、查询和公共文化服务",
    "疾病预防控制中心": "开展疾病预防控制、突发公共卫生事件处置和健康教育",
}
_PUBLIC_SERVICE = "为社会提供公益服务，承担举办单位交办的事项"
_STATE_ORGANS = [
    ("人民政府办公室", "行政机关", "协助市政府领导处理政府日常工作，负责政务运转、督查和信息公开"),
    ("发展和改革委员会", "行政机关", "拟订并组织实施国民经济和社会发展规划，统筹推进社会信用体系建设"),
    ("财政局", "行政机关", "负责财政收支管理、预算编制和执行、政府采购监督管理"),
    ("人民代表大会常务委员会办公厅", "人大机关", "承担人大常委会会议组织、立法和监督工作的服务保障"),
    ("政协办公室", "政协机关", "承担政协全体会议、常委会议的组织和服务工作"),
    ("中级人民法院", "审判机关", "依法审理刑事、民事、行政案件，执行生效裁判"),
    ("人民检察院", "检察机关", "依法行使检察权，开展法律监督"),
    ("总工会", "群团机关", "维护职工合法权益，组织开展劳动竞赛和职工服务"),
]
# 个体工商户 trades and their 经营范围 (许可项目 aside).
_SHOP_TRADES = {
    "小吃店": "餐饮服务（不产生油烟、异味、废气）",
    "便利店": "日用百货销售；食品销售（仅销售预包装食品）",
    "理发店": "理发服务；美容服务",
    "五金店": "五金产品零售；建筑材料销售",
    "茶叶店": "茶具销售；农副产品销售",
    "手机维修部": "通讯设备修理；电子产品销售",
    "水果店": "水果零售；新鲜蔬菜零售",
}
_LICENSED_FREELY = "（除依法须经批准的项目外，凭营业执照依法自主开展经营活动）"
_SOCIAL_ORG_SUPERVISORS = ["榕城市工商业联合会", "榕城市民政局", "榕城市教育局", "榕城市文学艺术界联合会"]


@dataclass
class Org:
    """One organisation; ``extra`` holds what only its register records."""

    code: str
    name: str
    rep: str
    established: date
    region: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Orgs:
    """The city's organisations by kind."""

    enterprises: list[Org]
    institutions: list[Org]
    social_orgs: list[Org]
    state_organs: list[Org]
    individual_businesses: list[Org]


class CreditCodes:
    """Distinct 统一社会信用代码 for one generation run."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def organisation_code(self, established: date) -> str:
        """A GB 11714 code: 8 digits before GB 32100, ``MA`` + 6 characters after it."""
        alphabet = gb32100.ALPHABET if established >= USCC_EFFECTIVE else "0123456789"
        count = 6 if established >= USCC_EFFECTIVE else 8
        chars = "".join(alphabet[int(x)] for x in self.rng.integers(0, len(alphabet), count))
        body = ("MA" + chars) if established >= USCC_EFFECTIVE else chars
        return body + gb11714.calc_check_digit(body)

    def new(self, authority: str, kind: str, region: str, established: date) -> str:
        """A credit code not given out before in this run."""
        while True:
            body = f"{authority}{kind}{region}{self.organisation_code(established)}"
            code = body + gb32100.calc_check_digit(body)
            if code not in self.used:
                self.used.add(code)
                return code


def _trade_name(rng: np.random.Generator) -> str:
    """A two-character 字号 such as 恒通 or 瑞丰."""
    first = one(rng, _TRADE_NAME_A)
    return first + one(rng, _TRADE_NAME_B.replace(first, ""))


def _org_region(rng: np.random.Generator) -> str:
    return (
        "350100"
        if rng.random() < 0.3
        else str(pick(rng, dict(zip(COUNTIES, COUNTY_WEIGHTS, strict=True)), 1)[0])
    )


def domicile(rng: np.random.Generator, region: str) -> str:
    """An organisation's 住所 in the county: a street address, a floor for a building in town."""
    county = region if region in COUNTIES else "350102"
    place = addresses(rng, [county])[0]
    return place.split("号")[0] + f"号{int(rng.integers(1, 25))}层" if "号楼" in place else place


def organisations(count: int, seed: int) -> Orgs:
    """Enterprises (80%, 市场监管), public institutions (12%, 编办) and social organisations (民政)."""
    rng = random_stream(seed, "orgs")
    codes = CreditCodes(rng)
    n_ent = round(count * 0.8)
    n_inst = round(count * 0.12)
    n_soc = count - n_ent - n_inst
    reps = person_names(rng, rng.integers(1, 3, count).astype(np.int8))

    enterprises, names = [], set()
    type_weights = {code: w for code, (_, _, w) in ENTERPRISE_TYPES.items()}
    for j in range(n_ent):
        established = between(rng, date(1992, 1, 1), TODAY - timedelta(days=1))
        region = _org_region(rng)
        kind = str(pick(rng, type_weights, 1)[0])
        while True:
            trade = _trade_name(rng)
            prefix = "福建" if rng.random() < 0.3 else "榕城" if region == "350100" else area(region)
            industry = one(rng, _INDUSTRIES)
            name = f"{prefix}{trade}{industry}{ENTERPRISE_TYPES[kind][1]}"
            if name not in names:
                names.add(name)
                break
        capital = Decimal(int(rng.choice([10, 30, 50, 100, 200, 300, 500, 1000, 2000, 5000, 10000])))
        authority = f"{area(region)}市场监督管理局"
        enterprises.append(
            Org(
                codes.new("9", "1", region, established),
                name,
                reps[j],
                established,
                region,
                {
                    "type": kind,
                    "capital": capital.quantize(Decimal("0.01")),
                    "domicile": domicile(rng, region),
                    "status": str(pick(rng, REGISTRATION_STATUSES, 1)[0]),
                    "authority": authority,
                    "scope": f"一般项目：{industry}；技术服务、技术开发、技术咨询。{_LICENSED_FREELY}",
                },
            )
        )

    institutions, names = [], set()
    for j in range(n_inst):
        established = between(rng, date(1980, 1, 1), TODAY - timedelta(days=1))
        region = _org_region(rng)
        where = area(region)
        name = f"{where}{one(rng, _INSTITUTION_KINDS)}"
        if name in names:
            name = f"{where}第{len(names) + 1}中学"
        names.add(name)
        institutions.append(
            Org(
                codes.new("1", "2", region, established),
                name,
                reps[n_ent + j],
                established,
                region,
                {
                    "scope": _INSTITUTION_PURPOSE.get(name[len(where) :], _PUBLIC_SERVICE),
                    "sponsor": one(rng, _INSTITUTION_SPONSORS),
                    "funds": Decimal(int(rng.choice([5, 10, 30, 50, 100, 500]))).quantize(Decimal("0.01")),
                },
            )
        )

    social, names = [], set()
    for j in range(n_soc):
        established = between(rng, date(1995, 1, 1), TODAY - timedelta(days=1))
        region = _org_region(rng)
        kind = str(pick(rng, {"1": 45, "2": 45, "3": 10}, 1)[0])
        where = area("350100" if kind == "3" else region)
        trade = _trade_name(rng)
        kinds = _SOCIAL_ORG_KINDS[kind]
        name = f"{where}{trade}{one(rng, kinds)}"
        while name in names:
            name = f"{where}{trade}第{len(names) + 1}{kinds[0]}"
        names.add(name)
        social.append(
            Org(
                codes.new("5", kind, region, established),
                name,
                reps[n_ent + n_inst + j],
                established,
                region,
                {
                    "kind": kind,
                    "supervisor": one(rng, _SOCIAL_ORG_SUPERVISORS),
                    "scope": _SOCIAL_ORG_SCOPE[kind],
                },
            )
        )
    # 机关 and 个体工商户 draw on streams of their own, so the organisations above stay as they were.
    return Orgs(
        enterprises, institutions, social, _state_organs(count, seed), _individual_businesses(count, seed)
    )


def _state_organs(count: int, seed: int) -> list[Org]:
    """The city's and its counties' organs (机关法人, registered by 编办: authority 1, type 1)."""
    rng = random_stream(seed, "state_organs")
    codes = CreditCodes(rng)
    wanted = max(6, count // 30)
    reps = person_names(rng, rng.integers(1, 3, wanted).astype(np.int8))
    organs = []
    for j in range(wanted):
        name, kind, duty = _STATE_ORGANS[j % len(_STATE_ORGANS)]
        region = "350100" if j < len(_STATE_ORGANS) else list(COUNTIES)[j % len(COUNTIES)]
        where = "榕城市" if region == "350100" else area(region)
        established = between(rng, date(1950, 1, 1), date(2019, 12, 31))
        organs.append(
            Org(
                codes.new("1", "1", region, established),
                f"{where}{name}",
                reps[j],
                established,
                region,
                {"kind": kind, "scope": duty, "domicile": domicile(rng, region)},
            )
        )
    return organs


def _individual_businesses(count: int, seed: int) -> list[Org]:
    """个体工商户 (registered by 市场监管: authority 9, type 2), named after their 字号 and trade."""
    rng = random_stream(seed, "individual_businesses")
    codes = CreditCodes(rng)
    wanted = max(10, count // 6)
    operators = person_names(rng, rng.integers(1, 3, wanted).astype(np.int8))
    shops: list[Org] = []
    names: set[str] = set()
    for j in range(wanted):
        region = _org_region(rng)
        established = between(rng, USCC_EFFECTIVE, TODAY - timedelta(days=1))
        trade, scope = one(rng, list(_SHOP_TRADES.items()))
        name = f"{area(region)}{_trade_name(rng)}{trade}"
        while name in names:
            name = f"{name}（{len(names) + 1}）"
        names.add(name)
        shops.append(
            Org(
                codes.new("9", "2", region, established),
                name,
                operators[j],
                established,
                region,
                {
                    "form": "2" if rng.random() < 0.2 else "1",
                    "domicile": domicile(rng, region),
                    "status": str(pick(rng, REGISTRATION_STATUSES, 1)[0]),
                    "authority": f"{area(region)}市场监督管理局",
                    "scope": f"{scope}。{_LICENSED_FREELY}",
                },
            )
        )
    return shops


@dataclass
class CleanSubjects:
    """The clean people and enterprises that credit records and certificates may name."""

    pop: People
    clean: np.ndarray
    firms: list[Org]

    def people(self, rng: np.random.Generator, count: int, min_age: int = 18) -> list[int]:
        """``count`` clean residents at least ``min_age`` years old (fewer if there are fewer), in order."""
        of_age = self.pop.birth <= np.datetime64(TODAY, "D") - int(min_age * 365.25) - 1
        pool = np.nonzero(self.clean & of_age)[0]
        return sorted(rng.choice(pool, size=min(count, len(pool)), replace=False).tolist())

    def enterprises(self, rng: np.random.Generator, count: int) -> list[Org]:
        """``count`` clean enterprises (fewer if there are fewer), in register order."""
        picked = rng.choice(len(self.firms), size=min(count, len(self.firms)), replace=False)
        return [self.firms[i] for i in sorted(picked.tolist())]
