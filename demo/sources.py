"""The 榕城市 demo departments' sources: reproducible data carrying the faults real sources have.

``generate`` writes every source declared in ``sources.yaml`` beside this file — two SQL
tables (公安 户籍, 市场监管 企业登记), CSV/XLSX/JSON/Parquet drops, and the JSON behind 卫健's
paged API (``health_api.py``) — plus ``manifest.json``, which lists each injected fault with
the outcome the pipeline must reach for it:

* ``quarantined:<check>``    the record is held back by the named check;
* ``discrepancy:<element>``  the record loads but contradicts the authoritative source;
* ``review:<check>``         the record goes to manual review (pilot-era credit codes);
* ``verdict:<verdict>``      a certificate that loads, and that ``govdx certificate verify`` calls
                             ``tampered``, ``revoked`` or ``expired``.

Every certificate row carries its issuer's Ed25519 signature (column ``qm``) over the canonical
content of the values the loader stores (``catalog_schema.certificate.signing``). Each issuing
department's key derives from the seed (:func:`issuer_key`) and is never written; its public
key is, under ``issuer-keys/`` with a ``manifest.json`` that ``govdx certificate import-keys``
registers.

Every value derives from the seed (one numpy stream per source) and "today" is 2026-11-20, so
a seed always gives the same bytes. Identifiers are well-formed unless a fault breaks them:
公民身份号码 per GB 11643-1999 (region code, birth date, sequence whose parity is the sex,
ISO 7064 MOD 11-2 check character) and 统一社会信用代码 per GB 32100-2015 (registering
authority, entity type, region, GB 11714 organisation code with its own check digit, MOD 31
check character).
"""

import csv
import hashlib
import io
import json
import math
import shutil
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from openpyxl import Workbook
from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    create_engine,
    event,
)
from sqlalchemy.dialects import sqlite
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError as StdnumError

from catalog_schema.certificate import signing
from catalog_schema.errors import InvalidInput, Problem
from catalog_schema.library import subjects
from connectors.config import load_sources

TODAY = date(2026, 11, 20)
# GB 32100-2015 took effect on this day; codes of organisations registered before it may come
# from provincial pilots whose check characters were computed differently.
USCC_EFFECTIVE = date(2015, 10, 1)
SOURCES_FILE = Path(__file__).with_name("sources.yaml")
MANIFEST_NAME = "manifest.json"
T = TypeVar("T")
MIN_PEOPLE = 100
MIN_ORGS = 50
CHUNK_ROWS = 50_000

GONGAN_DB = "gongan_huji.sqlite"
SHICHANG_DB = "shichang_qiye.sqlite"
HUJI_TABLE = "huji"
QIYE_TABLE = "qiye_dengji"
WEIJIAN_RECORDS = "weijian/vital_records.json"

# 证照类型代码: the issuing department's 统一社会信用代码 followed by a 3-digit sequence, as the
# national 电子证照 catalogue numbers certificate types (codes of the demo catalog's departments).
CERTIFICATE_TYPES = {
    "zhengzhao_yingye": ("11350100003576486C001", "营业执照"),
    "zhengzhao_jiehun": ("11350100003572207Y001", "结婚证"),
    "zhengzhao_jiashi": ("11350100003571132M001", "机动车驾驶证"),
    "zhengzhao_budongchan": ("113501000035818325001", "不动产权证书"),
}
# The department that issues, and signs, each certificate type (its credit code begins the type code).
CERTIFICATE_ISSUERS = {
    "zhengzhao_yingye": "shichang",
    "zhengzhao_jiehun": "minzheng",
    "zhengzhao_jiashi": "gongan",
    "zhengzhao_budongchan": "ziran",
}
SIGNATURE_COLUMN = "qm"
ISSUER_KEYS_DIR = "issuer-keys"

# 参保状态 (population.insurance_status): 1 参保缴费, 2 暂停缴费, 3 终止参保.
INSURANCE_ACTIVE = "1"

EXPECTED = {
    "id_checksum": "quarantined:id_checksum",
    "id_birth_date_mismatch": "quarantined:id_birth_date_mismatch",
    "id_sex_mismatch": "quarantined:id_sex_mismatch",
    "region_unknown_code": "quarantined:region_unknown_code",
    "ethnicity_unknown_code": "quarantined:ethnicity_unknown_code",
    "duplicate_key": "quarantined:duplicate_key",
    "name_mismatch": "discrepancy:population.name",
    "deceased_insured": "discrepancy:population.insurance_status",
    "unknown_subject": "discrepancy:population.id_number",
    "uscc_checksum": "quarantined:uscc_checksum",
    "uscc_authority": "quarantined:uscc_authority",
    "uscc_pilot": "review:uscc_pilot_review",
    "required_missing": "quarantined:required_missing",
    "truncated_file": "quarantined:truncated_record",
    "certificate_tampered": "verdict:tampered",
    "certificate_revoked": "verdict:revoked",
    "certificate_expired": "verdict:expired",
}

# ----------------------------------------------------------------------------- reference data

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
_COUNTY_WEIGHTS = [14, 10, 12, 4, 12, 7, 9, 6, 3, 3, 3, 4, 13]
# Household regions that are not GB/T 2260 codes (the region_unknown_code fault).
UNKNOWN_REGIONS = ("359999", "350199")
# Ethnicity codes outside GB/T 3304 (01-56) (the ethnicity_unknown_code fault).
UNKNOWN_ETHNICITIES = ("77", "66")

# Birth-place codes of 公民身份号码 and their weights. A number keeps the code of the county
# where it was first assigned, so abolished codes (市区, 长乐县, 福清县, 长乐市) are still
# carried, and some residents were born elsewhere. stdnum.cn.ric.validate also requires the
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
_SOCIAL_ORG_SUPERVISORS = ["榕城市工商业联合会", "榕城市民政局", "榕城市教育局", "榕城市文学艺术界联合会"]
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
_DRIVING_CLASSES = {"C1": 70, "C2": 15, "B2": 6, "A2": 2, "D": 4, "A1": 1, "B1": 2}

# ----------------------------------------------------------------------------- the manifest


@dataclass(frozen=True)
class Fault:
    """One injected fault: where it is, the subject key the pipeline forms, and the expected outcome."""

    source: str
    row: int
    key: str
    fault: str
    expected: str


@dataclass
class SourceOutput:
    """What was written for one source."""

    format: str
    rows: int
    path: str | None = None
    table: str | None = None


@dataclass
class Manifest:
    """Everything written under one output directory, and every fault injected into it."""

    seed: int
    people: int
    orgs: int
    sources: dict[str, SourceOutput] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    broken: dict[str, dict[str, str]] = field(default_factory=dict)
    # Records that are valid but awkward (生僻字 names outside GBK): they must load.
    edge_cases: list[Fault] = field(default_factory=list)
    generated_for: str = TODAY.isoformat()

    def faults_of(self, source: str, fault: str | None = None) -> list[Fault]:
        """The faults injected into ``source``, optionally of one kind."""
        return [f for f in self.faults if f.source == source and (fault is None or f.fault == fault)]

    def as_dict(self) -> dict[str, Any]:
        """The manifest as written to ``manifest.json``."""
        return {
            "seed": self.seed,
            "generated_for": self.generated_for,
            "people": self.people,
            "orgs": self.orgs,
            "sources": {
                name: {k: v for k, v in asdict(out).items() if v is not None}
                for name, out in self.sources.items()
            },
            "faults": [asdict(f) for f in self.faults],
            "edge_cases": [asdict(f) for f in self.edge_cases],
            "broken": self.broken,
        }

    @classmethod
    def load(cls, path: Path) -> "Manifest":
        """Read a ``manifest.json``."""
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            seed=data["seed"],
            people=data["people"],
            orgs=data["orgs"],
            sources={name: SourceOutput(**out) for name, out in data["sources"].items()},
            faults=[Fault(**f) for f in data["faults"]],
            broken=data["broken"],
            edge_cases=[Fault(**f) for f in data["edge_cases"]],
            generated_for=data["generated_for"],
        )


# ----------------------------------------------------------------------------- public entry points


def generate(
    out_dir: Path,
    *,
    people: int = 5000,
    orgs: int = 600,
    seed: int = 2026,
    gongan_url: str | None = None,
    shichang_url: str | None = None,
) -> Manifest:
    """Write every demo source and ``manifest.json`` under ``out_dir``; the same seed gives the same data."""
    _check_sizes(people=people, orgs=orgs, seed=seed)
    if out_dir.exists() and not out_dir.is_dir():
        raise InvalidInput(
            f"输出路径 {out_dir} 已存在且不是目录",
            f"output path {out_dir} exists and is not a directory",
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(seed=seed, people=people, orgs=orgs)
    writer = _Writer(out_dir, manifest)

    pop = _people(people, seed)
    huji = _huji(pop, seed, faults=True)
    writer.sql("gongan_huji", gongan_url or _sqlite_url(out_dir / GONGAN_DB, fresh=True), huji.table)
    manifest.faults += huji.faults
    manifest.edge_cases += huji.edge_cases
    clean = ~huji.tainted

    vital = _weijian(pop, clean, seed)
    renshe = _renshe(pop, clean, vital.deceased, seed)
    writer.csv("renshe_canbao", "renshe/canbao_20261120.csv", renshe.table, encoding="gb18030", crlf=True)
    manifest.faults += renshe.faults
    manifest.edge_cases += renshe.edge_cases
    _write_broken(writer, renshe.table)
    hunyin = _hunyin(pop, clean, seed)
    writer.xlsx("minzheng_hunyin", "minzheng/hunyin.xlsx", hunyin, sheet="婚姻登记信息")
    writer.json("weijian_birth_death", WEIJIAN_RECORDS, vital.records, fmt="http", indent=None)

    orgs_ = _orgs(orgs, seed)
    qiye = _qiye(orgs_.enterprises, seed)
    writer.sql("shichang_qiye", shichang_url or _sqlite_url(out_dir / SHICHANG_DB, fresh=True), qiye.table)
    manifest.faults += qiye.faults
    shiye = _shiye(orgs_.institutions, seed)
    writer.csv("bianban_shiye", "bianban/shiye_danwei.csv", shiye.table)
    manifest.faults += shiye.faults
    shehui = _shehui(orgs_.social_orgs)
    writer.csv("minzheng_shehui", "minzheng/shehui_zuzhi.csv", shehui.table, truncate_last=True)
    manifest.faults += shehui.faults

    firms = [e for e, bad in zip(orgs_.enterprises, qiye.tainted, strict=True) if not bad]
    subjects = _Subjects(pop, clean, firms)
    writer.json("fayuan_shixin", "fayuan/shixin.json", _shixin(subjects, seed), indent=2)
    xuke, chufa = _shuang_gongshi(subjects, seed)
    writer.csv("xinyong_xuke", "xinyong/xingzheng_xuke.csv", xuke)
    writer.csv("xinyong_chufa", "xinyong/xingzheng_chufa.csv", chufa)

    certificates = {
        "zhengzhao_yingye": _yingye(firms, seed),
        "zhengzhao_jiehun": _jiehun(pop, hunyin),
        "zhengzhao_jiashi": _jiashi(pop, clean, seed),
        "zhengzhao_budongchan": _budongchan(pop, clean, seed),
    }
    manifest.faults += _sign_certificates(certificates, seed)
    writer.jsonl(
        "zhengzhao_yingye", "zhengzhao/yingye_zhizhao.jsonl", certificates["zhengzhao_yingye"].records()
    )
    writer.csv("zhengzhao_jiehun", "zhengzhao/jiehunzheng.csv", certificates["zhengzhao_jiehun"])
    writer.csv("zhengzhao_jiashi", "zhengzhao/jiashizheng.csv", certificates["zhengzhao_jiashi"])
    writer.parquet(
        "zhengzhao_budongchan", "zhengzhao/budongchan.parquet", certificates["zhengzhao_budongchan"]
    )
    _write_issuer_keys(writer, seed)

    order = {name: i for i, name in enumerate(manifest.sources)}
    manifest.faults.sort(key=lambda f: (order[f.source], f.row))
    (out_dir / MANIFEST_NAME).write_text(
        json.dumps(manifest.as_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return manifest


def write_gongan_huji(url: str, *, people: int, seed: int, faults: bool = True) -> int:
    """Write 公安's 户籍 table ``huji`` (replacing it) for ``people`` people; returns the rows written."""
    _check_sizes(people=people, seed=seed)
    huji = _huji(_people(people, seed), seed, faults=faults)
    _write_table(url, huji.table)
    return huji.table.rows


def demo_connection_env(out_dir: Path, weijian_base_url: str) -> dict[str, str]:
    """The environment the connectors need to reach the demo sources written to ``out_dir``."""
    root = out_dir.resolve()
    return {
        "GOVDX_SOURCES_DIR": str(root),
        "GOVDX_CONN_GONGAN_HUJI": _sqlite_url(root / GONGAN_DB),
        "GOVDX_CONN_SHICHANG_QIYE": _sqlite_url(root / SHICHANG_DB),
        "GOVDX_CONN_WEIJIAN_API": weijian_base_url.rstrip("/"),
    }


def fault_count(n: int) -> int:
    """How many records of each fault a source of ``n`` subjects gets: a handful, growing slowly."""
    return max(2, round(math.sqrt(n) / 12))


def _check_sizes(*, people: int, seed: int, orgs: int | None = None) -> None:
    problems = []
    if people < MIN_PEOPLE:
        problems.append(
            Problem("people", f"人口数至少为 {MIN_PEOPLE}", f"people must be at least {MIN_PEOPLE}")
        )
    if orgs is not None and orgs < MIN_ORGS:
        problems.append(Problem("orgs", f"法人数至少为 {MIN_ORGS}", f"orgs must be at least {MIN_ORGS}"))
    if seed < 0:
        problems.append(Problem("seed", "随机种子不能为负数", "seed must not be negative"))
    if problems:
        raise InvalidInput("演示数据规模有误", "invalid demo data size", problems=problems)


def _rng(seed: int, stream: str) -> np.random.Generator:
    """An independent random stream per source, so one source's changes never shift another's data."""
    return np.random.default_rng([seed, zlib.crc32(stream.encode())])


def _pick(rng: np.random.Generator, weights: Mapping[str, float], size: int) -> np.ndarray:
    keys = np.array(list(weights))
    p = np.array(list(weights.values()), dtype=float)
    return keys[rng.choice(len(keys), size=size, p=p / p.sum())]


def _between(rng: np.random.Generator, start: date, end: date) -> date:
    return start + timedelta(days=int(rng.integers(0, max((end - start).days, 0) + 1)))


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _one(rng: np.random.Generator, items: Sequence[T]) -> T:
    return items[int(rng.integers(0, len(items)))]


def _wrong(correct: str, alphabet: str, rng: np.random.Generator) -> str:
    """A character of ``alphabet`` other than ``correct``: a mistyped check character."""
    others = [c for c in alphabet if c != correct]
    return _one(rng, others)


# ----------------------------------------------------------------------------- people


@dataclass
class _People:
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
        return date.fromisoformat(str(self.birth[i]))


@cache
def _region_valid_in(year: int) -> np.ndarray:
    """Which birth-place codes stdnum.cn.ric accepts for a person born in ``year``."""
    valid = []
    for code in _ID_REGIONS:
        try:
            ric.get_birth_place(f"{code}{year}01010010")
            valid.append(True)
        except StdnumError:
            valid.append(False)
    return np.array(valid)


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


def _ric(body: int) -> str:
    # calc_check_digit reads the first 17 characters of an 18-character number.
    digits = f"{body:017d}"
    return digits + ric.calc_check_digit(digits + "0")


def _person_names(rng: np.random.Generator, sex: np.ndarray) -> list[str]:
    n = len(sex)
    surnames = _pick(rng, _SURNAMES, n)
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


def _addresses(rng: np.random.Generator, regions: Sequence[str]) -> list[str]:
    """Street addresses in each county: road and flat in the city districts, village elsewhere."""
    n = len(regions)
    number = rng.integers(1, 400, n).tolist()
    building = rng.integers(1, 30, n).tolist()
    room = (rng.integers(1, 33, n) * 100 + rng.integers(1, 9, n)).tolist()
    pick = rng.integers(0, 1 << 30, n).tolist()
    village = np.array(_VILLAGES)[rng.integers(0, len(_VILLAGES), n)].tolist()
    out = []
    for code, no, bldg, rm, p, vil in zip(regions, number, building, room, pick, village, strict=True):
        county = COUNTIES.get(code, "鼓楼区")
        if code in _TOWNS:
            towns = _TOWNS[code]
            out.append(f"榕城市{county}{towns[p % len(towns)]}{vil}村{no}号")
        else:
            roads = _URBAN_ROADS.get(code, _URBAN_ROADS["350102"])
            out.append(f"榕城市{county}{roads[p % len(roads)]}{no}号{bldg}号楼{rm}室")
    return out


def _people(n: int, seed: int) -> _People:
    """``n`` residents of 榕城市, vectorised so a million take seconds."""
    rng = _rng(seed, "people")
    bands = np.array(_AGE_BANDS) / sum(_AGE_BANDS)
    band = rng.choice(len(bands), size=n, p=bands)
    age_days = ((band + rng.random(n)) * 5 * 365.25).astype(np.int64) + 1
    birth = np.datetime64(TODAY, "D") - age_days
    sex = rng.integers(1, 3, n).astype(np.int8)
    body = _id_bodies(rng, birth, sex, set())
    ids = [_ric(b) for b in body.tolist()]
    names = _person_names(rng, sex)

    ethnicity = np.where(rng.random(n) < 0.968, "01", _pick(rng, _MINORITIES, n)).tolist()
    counties = _pick(rng, dict(zip(COUNTIES, _COUNTY_WEIGHTS, strict=True)), n)
    born_in = (body // 10**11).astype(str)
    stays = rng.random(n) < 0.8
    region = []
    for code, county, stay in zip(born_in.tolist(), counties.tolist(), stays.tolist(), strict=True):
        home = _SUCCESSOR.get(code, code)
        region.append(home if stay and home in COUNTIES else county)
    address = _addresses(rng, region)
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
    return _People(body, ids, names, sex, birth, ethnicity, region, address, phone, rare)


# ----------------------------------------------------------------------------- tables


@dataclass
class _Table:
    """Rows of one source, column by column, in the order a connector numbers them."""

    columns: dict[str, list[Any]]
    name: str = ""

    @property
    def rows(self) -> int:
        return len(next(iter(self.columns.values())))

    def records(self) -> list[dict[str, Any]]:
        """One mapping per row, columns in order."""
        return [
            dict(zip(self.columns, values, strict=True))
            for values in zip(*self.columns.values(), strict=True)
        ]


def _updated_at(rng: np.random.Generator, n: int, since: date = date(2024, 1, 1)) -> np.ndarray:
    start = np.datetime64(since, "s")
    span = int((np.datetime64(TODAY, "s") - start).astype(np.int64))
    return start + rng.integers(0, span, n).astype("m8[s]")


@dataclass
class _Huji:
    table: _Table
    faults: list[Fault]
    edge_cases: list[Fault]
    tainted: np.ndarray  # per person: their 户籍 row is faulty or repeated
    row_of: np.ndarray  # per person: the 1-based row of their (first) 户籍 record


_HUJI_FAULTS = (
    "id_checksum",
    "id_birth_date_mismatch",
    "id_sex_mismatch",
    "region_unknown_code",
    "ethnicity_unknown_code",
    "duplicate_key",
)


def _huji(pop: _People, seed: int, *, faults: bool) -> _Huji:
    """公安's 户籍 rows (``huji``), with the identity faults injected into distinct people."""
    rng = _rng(seed, "gongan_huji")
    n = len(pop)
    k = fault_count(n) if faults else 0
    candidates = np.setdiff1d(np.arange(n), pop.rare)
    chosen = rng.choice(candidates, size=k * len(_HUJI_FAULTS), replace=False)
    groups = dict(zip(_HUJI_FAULTS, np.split(chosen, len(_HUJI_FAULTS)), strict=True))

    # A repeated record appears later than the original it repeats.
    originals = np.sort(groups["duplicate_key"])
    positions = rng.integers(originals + 1, n + 1)
    order = np.insert(np.arange(n), positions, originals)
    repeat = np.insert(np.zeros(n, dtype=bool), positions, True)
    first_rows = np.nonzero(~repeat)[0]
    row_of = np.empty(n, dtype=np.int64)
    row_of[order[first_rows]] = first_rows + 1

    idx = order.tolist()
    updated = _updated_at(rng, n)[order]
    columns: dict[str, list[Any]] = {
        "id": list(range(1, len(idx) + 1)),
        "sfzh": [pop.ids[i] for i in idx],
        "xm": [pop.names[i] for i in idx],
        "xb": [str(pop.sex[i]) for i in idx],
        "mz": [pop.ethnicity[i] for i in idx],
        "csrq": pop.birth[order].tolist(),
        "hjdqh": [pop.region[i] for i in idx],
        "zz": [pop.address[i] for i in idx],
        "lxdh": [pop.phone[i] for i in idx],
        "updated_at": updated.tolist(),
    }
    found: list[Fault] = []

    def record(kind: str, row: int) -> None:
        found.append(Fault("gongan_huji", row, columns["sfzh"][row - 1], kind, EXPECTED[kind]))

    for person in groups["id_checksum"].tolist():
        r = int(row_of[person]) - 1
        number = columns["sfzh"][r]
        columns["sfzh"][r] = number[:17] + _wrong(number[17], "0123456789X", rng)
        record("id_checksum", r + 1)
    for person in groups["id_birth_date_mismatch"].tolist():
        r = int(row_of[person]) - 1
        columns["csrq"][r] = columns["csrq"][r] - timedelta(days=int(rng.integers(40, 4000)))
        record("id_birth_date_mismatch", r + 1)
    for person in groups["id_sex_mismatch"].tolist():
        r = int(row_of[person]) - 1
        columns["xb"][r] = "2" if columns["xb"][r] == "1" else "1"
        record("id_sex_mismatch", r + 1)
    for j, person in enumerate(groups["region_unknown_code"].tolist()):
        r = int(row_of[person]) - 1
        columns["hjdqh"][r] = UNKNOWN_REGIONS[j % len(UNKNOWN_REGIONS)]
        record("region_unknown_code", r + 1)
    for j, person in enumerate(groups["ethnicity_unknown_code"].tolist()):
        r = int(row_of[person]) - 1
        columns["mz"][r] = UNKNOWN_ETHNICITIES[j % len(UNKNOWN_ETHNICITIES)]
        record("ethnicity_unknown_code", r + 1)
    for r in np.nonzero(repeat)[0].tolist():
        original = int(row_of[order[r]]) - 1
        moved = _addresses(rng, [columns["hjdqh"][r]])[0]
        columns["zz"][r] = moved if moved != columns["zz"][original] else moved + "之一"
        later = columns["updated_at"][original] + timedelta(days=int(rng.integers(1, 30)))
        columns["updated_at"][r] = min(
            later, datetime.combine(TODAY, datetime.min.time()) - timedelta(seconds=1)
        )
        record("duplicate_key", r + 1)

    tainted = np.zeros(n, dtype=bool)
    tainted[chosen] = True
    edge = [
        Fault("gongan_huji", int(row_of[i]), pop.ids[i], "rare_character", "loaded")
        for i in pop.rare.tolist()
    ]
    return _Huji(_Table(columns, HUJI_TABLE), found, edge, tainted, row_of)


@dataclass
class _Vital:
    records: list[dict[str, Any]]
    deceased: np.ndarray  # person indices


def _birth_cert_no(year: int, serial: int) -> str:
    # One letter per print run of the 出生医学证明 form (four years each from 1996), nine digits.
    letter = "KLMNPQRT"[min((year - 1996) // 4, 7)]
    return f"{letter}35{serial:07d}"


def _weijian(pop: _People, clean: np.ndarray, seed: int) -> _Vital:
    """卫健's vital records: a 出生医学证明 for everyone born since 1996, and deaths."""
    rng = _rng(seed, "weijian_birth_death")
    n = len(pop)
    k = fault_count(n)
    born96 = pop.birth >= np.datetime64("1996-01-01")
    elderly = clean & (pop.birth < np.datetime64("1966-01-01"))
    elderly[pop.rare] = False
    pool = np.nonzero(elderly)[0]
    n_dead = min(max(2 * k + 2, round(n * 0.01)), len(pool))
    deceased = np.sort(rng.choice(pool, size=n_dead, replace=False))
    members = np.union1d(np.nonzero(clean & born96)[0], deceased)
    members = members[rng.permutation(len(members))]
    serials = rng.choice(10**7, size=len(members), replace=False)
    dead = set(deceased.tolist())
    day_end = datetime.combine(TODAY, datetime.min.time()) - timedelta(seconds=1)
    records = []
    for i, serial in zip(members.tolist(), serials.tolist(), strict=True):
        birth = pop.birth_date(i)
        died = _between(rng, date(2019, 1, 1), TODAY - timedelta(days=1)) if i in dead else None
        event_day = died or max(birth, date(2018, 1, 1))
        stamp = datetime.combine(event_day, datetime.min.time()) + timedelta(
            days=int(rng.integers(1, 6)), seconds=int(rng.integers(0, 86400))
        )
        records.append(
            {
                "sfzh": pop.ids[i],
                "xm": pop.names[i],
                "xb": str(pop.sex[i]),
                "csrq": birth.isoformat(),
                "cszmbh": _birth_cert_no(birth.year, serial) if birth.year >= 1996 else None,
                "swbz": "1" if died else "0",
                "swrq": died.isoformat() if died else None,
                "gxsj": min(stamp, day_end).isoformat(sep=" "),
            }
        )
    return _Vital(records, deceased)


@dataclass
class _Renshe:
    table: _Table
    faults: list[Fault]
    edge_cases: list[Fault]


def _renshe(pop: _People, clean: np.ndarray, deceased: np.ndarray, seed: int) -> _Renshe:
    """人社's 参保 drop: about 60% of residents aged 16 and over, 参保状态 per person."""
    rng = _rng(seed, "renshe_canbao")
    n = len(pop)
    k = fault_count(n)
    adult = pop.birth <= np.datetime64(TODAY, "D") - 16 * 365
    pool = np.nonzero(clean & adult)[0]
    pool = pool[~np.isin(pool, pop.rare)]
    target = min(len(pool), round(0.6 * n))
    members = rng.choice(pool, size=target, replace=False)
    members = np.union1d(members, pop.rare[clean[pop.rare]])
    dead = set(deceased.tolist())
    rare = set(pop.rare.tolist())

    insured_dead = rng.choice(deceased, size=k, replace=False)
    members = np.union1d(members, insured_dead)
    alive = np.array([i for i in members.tolist() if i not in dead and i not in rare])
    picks = rng.choice(alive, size=2 * k, replace=False)
    renamed, bad_id = picks[:k], picks[k:]

    status = _pick(rng, {"1": 85, "2": 10, "3": 5}, len(members)).tolist()
    status = ["3" if i in dead else s for i, s in zip(members.tolist(), status, strict=True)]
    scheme = _pick(rng, {"110": 60, "120": 10, "170": 30}, len(members)).tolist()
    rows: list[dict[str, Any]] = []
    for i, st, sc in zip(members.tolist(), status, scheme, strict=True):
        start = max(_add_years(pop.birth_date(i), 18), date(1995, 1, 1))
        rows.append(
            {
                "person": i,
                "sfzh": pop.ids[i],
                "xm": pop.names[i],
                "xzlx": sc,
                "cbzt": st,
                "cbrq": _between(rng, start, TODAY).isoformat() if start < TODAY else TODAY.isoformat(),
            }
        )
    by_person = {r["person"]: r for r in rows}
    kinds: dict[int, str] = {}
    for i in insured_dead.tolist():
        by_person[i]["cbzt"] = INSURANCE_ACTIVE
        kinds[i] = "deceased_insured"
    for i in renamed.tolist():
        name = by_person[i]["xm"]
        pos = len(name) - 1
        by_person[i]["xm"] = name[:pos] + HOMOPHONES[name[pos]]
        kinds[i] = "name_mismatch"
    for i in bad_id.tolist():
        number = by_person[i]["sfzh"]
        by_person[i]["sfzh"] = number[:17] + _wrong(number[17], "0123456789X", rng)
        kinds[i] = "id_checksum"

    # Residents 人社 insures who are not in 公安's register (moved in, or mistyped upstream).
    strangers = _strangers(rng, pop, k)
    for j, (number, name) in enumerate(strangers):
        rows.append(
            {"person": -1 - j, "sfzh": number, "xm": name, "xzlx": "110", "cbzt": "1", "cbrq": "2025-03-01"}
        )
        kinds[-1 - j] = "unknown_subject"

    rows = [rows[i] for i in rng.permutation(len(rows))]
    found, edge = [], []
    for r, row in enumerate(rows, start=1):
        kind = kinds.get(row["person"])
        if kind is not None:
            found.append(Fault("renshe_canbao", r, row["sfzh"], kind, EXPECTED[kind]))
        if row["person"] in rare:
            edge.append(Fault("renshe_canbao", r, row["sfzh"], "rare_character", "loaded"))
    columns = {
        "grbh": [f"3501{r:010d}" for r in range(1, len(rows) + 1)],
        "sfzh": [row["sfzh"] for row in rows],
        "xm": [row["xm"] for row in rows],
        "xzlx": [row["xzlx"] for row in rows],
        "cbzt": [row["cbzt"] for row in rows],
        "cbrq": [row["cbrq"] for row in rows],
        "jbjg": ["榕城市社会保险中心"] * len(rows),
    }
    return _Renshe(_Table(columns), found, edge)


def _strangers(rng: np.random.Generator, pop: _People, count: int) -> list[tuple[str, str]]:
    """Valid 公民身份号码 of people absent from 公安's register, with names."""
    birth = np.datetime64("1970-01-01") + rng.integers(0, 30 * 365, count).astype("m8[D]")
    sex = rng.integers(1, 3, count).astype(np.int8)
    body = _id_bodies(rng, birth, sex, set(pop.body.tolist()))
    return list(zip([_ric(b) for b in body.tolist()], _person_names(rng, sex), strict=True))


_MARITAL = {"21": 55, "20": 10, "22": 8, "23": 2, "40": 15, "30": 8, "10": 1, "90": 1}


def _hunyin(pop: _People, clean: np.ndarray, seed: int) -> _Table:
    """民政's 婚姻登记 sheet: about 30% of residents of marriageable age (GB/T 2261.2 codes)."""
    rng = _rng(seed, "minzheng_hunyin")
    today = np.datetime64(TODAY, "D")
    of_age = np.where(pop.sex == 1, pop.birth <= today - 22 * 365 - 6, pop.birth <= today - 20 * 365 - 5)
    pool = np.nonzero(clean & of_age)[0]
    members = rng.choice(pool, size=min(len(pool), round(0.3 * len(pop))), replace=False)
    status = _pick(rng, _MARITAL, len(members)).tolist()
    rows = []
    for i, st in zip(members.tolist(), status, strict=True):
        birth = pop.birth_date(i)
        if st == "30" and birth.year > 1975:
            st = "21"  # widowhood is rare among the young
        start = max(_add_years(birth, 22 if pop.sex[i] == 1 else 20), date(1980, 1, 1))
        registered = _between(rng, start, TODAY - timedelta(days=1))
        rows.append((registered, i, st))
    rows.sort()
    return _Table(
        {
            "sfzh": [pop.ids[i] for _, i, _ in rows],
            "xm": [pop.names[i] for _, i, _ in rows],
            "hyzk": [st for _, _, st in rows],
            "djrq": [d for d, _, _ in rows],
            "djjg": [f"{_area(pop.region[i])}民政局" for _, i, _ in rows],
        }
    )


# ----------------------------------------------------------------------------- legal persons

_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_GB11714_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def gb11714_check(body: str) -> str:
    """The check character of an 8-character organisation code body, GB 11714-1997 §5."""
    total = sum(int(c, 36) * w for c, w in zip(body, _GB11714_WEIGHTS, strict=True))
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


@dataclass
class _Org:
    code: str
    name: str
    rep: str
    established: date
    region: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Orgs:
    enterprises: list[_Org]
    institutions: list[_Org]
    social_orgs: list[_Org]


class _Codes:
    """Distinct 统一社会信用代码 for one generation run."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def organisation_code(self, established: date) -> str:
        """A GB 11714 code: 8 digits before GB 32100, ``MA`` + 6 characters after it."""
        alphabet = _USCC_ALPHABET if established >= USCC_EFFECTIVE else "0123456789"
        count = 6 if established >= USCC_EFFECTIVE else 8
        chars = "".join(alphabet[int(x)] for x in self.rng.integers(0, len(alphabet), count))
        body = ("MA" + chars) if established >= USCC_EFFECTIVE else chars
        return body + gb11714_check(body)

    def new(self, authority: str, kind: str, region: str, established: date) -> str:
        while True:
            body = f"{authority}{kind}{region}{self.organisation_code(established)}"
            code = body + uscc.calc_check_digit(body)
            if code not in self.used:
                self.used.add(code)
                return code


def _area(region: str) -> str:
    """How names and authorities say where they are: 榕城市, 榕城市鼓楼区, 闽侯县, 福清市."""
    county = COUNTIES.get(region)
    if county is None:
        return "榕城市"
    return f"榕城市{county}" if county.endswith("区") else county


def _trade_name(rng: np.random.Generator) -> str:
    """A two-character 字号 such as 恒通 or 瑞丰."""
    first = _one(rng, _TRADE_NAME_A)
    return first + _one(rng, _TRADE_NAME_B.replace(first, ""))


def _org_region(rng: np.random.Generator) -> str:
    return (
        "350100"
        if rng.random() < 0.3
        else str(_pick(rng, dict(zip(COUNTIES, _COUNTY_WEIGHTS, strict=True)), 1)[0])
    )


def _domicile(rng: np.random.Generator, region: str) -> str:
    county = region if region in COUNTIES else "350102"
    place = _addresses(rng, [county])[0]
    return place.split("号")[0] + f"号{int(rng.integers(1, 25))}层" if "号楼" in place else place


def _orgs(count: int, seed: int) -> _Orgs:
    """Enterprises (80%, 市场监管), public institutions (12%, 编办) and social organisations (民政)."""
    rng = _rng(seed, "orgs")
    codes = _Codes(rng)
    n_ent = round(count * 0.8)
    n_inst = round(count * 0.12)
    n_soc = count - n_ent - n_inst
    reps = _person_names(rng, rng.integers(1, 3, count).astype(np.int8))

    enterprises, names = [], set()
    type_weights = {code: w for code, (_, _, w) in ENTERPRISE_TYPES.items()}
    for j in range(n_ent):
        established = _between(rng, date(1992, 1, 1), TODAY - timedelta(days=1))
        region = _org_region(rng)
        kind = str(_pick(rng, type_weights, 1)[0])
        while True:
            trade = _trade_name(rng)
            prefix = "福建" if rng.random() < 0.3 else "榕城" if region == "350100" else _area(region)
            name = f"{prefix}{trade}{_one(rng, _INDUSTRIES)}{ENTERPRISE_TYPES[kind][1]}"
            if name not in names:
                names.add(name)
                break
        capital = Decimal(int(rng.choice([10, 30, 50, 100, 200, 300, 500, 1000, 2000, 5000, 10000])))
        authority = f"{_area(region)}市场监督管理局"
        enterprises.append(
            _Org(
                codes.new("9", "1", region, established),
                name,
                reps[j],
                established,
                region,
                {
                    "type": kind,
                    "capital": capital.quantize(Decimal("0.01")),
                    "domicile": _domicile(rng, region),
                    "status": str(_pick(rng, REGISTRATION_STATUSES, 1)[0]),
                    "authority": authority,
                },
            )
        )

    institutions, names = [], set()
    for j in range(n_inst):
        established = _between(rng, date(1980, 1, 1), TODAY - timedelta(days=1))
        region = _org_region(rng)
        area = _area(region)
        name = f"{area}{_one(rng, _INSTITUTION_KINDS)}"
        if name in names:
            name = f"{area}第{len(names) + 1}中学"
        names.add(name)
        institutions.append(
            _Org(
                codes.new("1", "2", region, established),
                name,
                reps[n_ent + j],
                established,
                region,
                {
                    "sponsor": _one(rng, _INSTITUTION_SPONSORS),
                    "funds": Decimal(int(rng.choice([5, 10, 30, 50, 100, 500]))).quantize(Decimal("0.01")),
                },
            )
        )

    social, names = [], set()
    for j in range(n_soc):
        established = _between(rng, date(1995, 1, 1), TODAY - timedelta(days=1))
        region = _org_region(rng)
        kind = str(_pick(rng, {"1": 45, "2": 45, "3": 10}, 1)[0])
        area = _area("350100" if kind == "3" else region)
        trade = _trade_name(rng)
        kinds = _SOCIAL_ORG_KINDS[kind]
        name = f"{area}{trade}{_one(rng, kinds)}"
        while name in names:
            name = f"{area}{trade}第{len(names) + 1}{kinds[0]}"
        names.add(name)
        social.append(
            _Org(
                codes.new("5", kind, region, established),
                name,
                reps[n_ent + n_inst + j],
                established,
                region,
                {
                    "kind": kind,
                    "supervisor": _one(rng, _SOCIAL_ORG_SUPERVISORS),
                },
            )
        )
    return _Orgs(enterprises, institutions, social)


@dataclass
class _Sourced:
    table: _Table
    faults: list[Fault]
    tainted: list[bool] = field(default_factory=list)


_QIYE_FAULTS = ("uscc_checksum", "uscc_authority", "uscc_pilot", "duplicate_key")


def _qiye(enterprises: list[_Org], seed: int) -> _Sourced:
    """市场监管's 企业登记 table (``qiye_dengji``), rows in order of registration."""
    rng = _rng(seed, "shichang_qiye")
    k = fault_count(len(enterprises))
    chosen = rng.choice(len(enterprises), size=k * len(_QIYE_FAULTS), replace=False).tolist()
    groups = {kind: chosen[j * k : (j + 1) * k] for j, kind in enumerate(_QIYE_FAULTS)}
    codes = _Codes(rng)
    codes.used = {e.code for e in enterprises}
    kinds: dict[int, str] = {}
    for i in groups["uscc_checksum"]:
        e = enterprises[i]
        e.established = max(e.established, _between(rng, USCC_EFFECTIVE, TODAY - timedelta(days=1)))
        e.code = e.code[:17] + _wrong(e.code[17], _USCC_ALPHABET, rng)
        kinds[i] = "uscc_checksum"
    for i in groups["uscc_authority"]:
        e = enterprises[i]
        e.established = max(e.established, _between(rng, USCC_EFFECTIVE, TODAY - timedelta(days=1)))
        e.code = codes.new("5", "1", e.region, e.established)  # a 民政 code in 市场监管's register
        kinds[i] = "uscc_authority"
    for i in groups["uscc_pilot"]:
        e = enterprises[i]
        e.established = _between(rng, date(2008, 1, 1), USCC_EFFECTIVE - timedelta(days=1))
        region = e.region if e.region in COUNTIES else "350102"
        body = f"91{region}{codes.organisation_code(e.established)}"
        e.code = body + _wrong(uscc.calc_check_digit(body), _USCC_ALPHABET, rng)
        kinds[i] = "uscc_pilot"
    tainted = [i in kinds or i in groups["duplicate_key"] for i in range(len(enterprises))]

    order = sorted(range(len(enterprises)), key=lambda i: (enterprises[i].established, enterprises[i].code))
    repeats = sorted(groups["duplicate_key"], key=order.index)
    for i in repeats:
        at = int(rng.integers(order.index(i) + 1, len(order) + 1))
        order.insert(at, -1 - i)  # a later record repeating enterprise i's code

    columns: dict[str, list[Any]] = {c: [] for c in _QIYE_COLUMNS}
    found = []
    for row, i in enumerate(order, start=1):
        e = enterprises[i if i >= 0 else -1 - i]
        changed = _between(rng, max(e.established, date(2020, 1, 1)), TODAY - timedelta(days=1))
        stamp = datetime.combine(changed, datetime.min.time()) + timedelta(
            seconds=int(rng.integers(28800, 64800))
        )
        domicile = e.extra["domicile"] if i >= 0 else _domicile(rng, e.region) + "之二"
        values = [row, e.code, e.name, e.extra["type"], e.rep, e.extra["capital"], e.established, domicile]
        values += [e.extra["status"], e.extra["authority"], stamp]
        for column, value in zip(_QIYE_COLUMNS, values, strict=True):
            columns[column].append(value)
        kind = kinds.get(i) if i >= 0 else "duplicate_key"
        if kind is not None:
            found.append(Fault("shichang_qiye", row, e.code, kind, EXPECTED[kind]))
    return _Sourced(_Table(columns, QIYE_TABLE), found, tainted)


_QIYE_COLUMNS = (
    "id",
    "tyshxydm",
    "qymc",
    "qylx",
    "fddbr",
    "zczb",
    "clrq",
    "zs",
    "djzt",
    "djjg",
    "updated_at",
)


def _shiye(institutions: list[_Org], seed: int) -> _Sourced:
    """编办's 事业单位 list, some rows without a name."""
    rng = _rng(seed, "bianban_shiye")
    k = fault_count(len(institutions))
    nameless = {institutions[i].code for i in rng.choice(len(institutions), size=k, replace=False).tolist()}
    rows = sorted(institutions, key=lambda o: o.code)
    found = [
        Fault("bianban_shiye", row, org.code, "required_missing", EXPECTED["required_missing"])
        for row, org in enumerate(rows, start=1)
        if org.code in nameless
    ]
    columns = {
        "tyshxydm": [o.code for o in rows],
        "dwmc": ["" if o.code in nameless else o.name for o in rows],
        "fddbr": [o.rep for o in rows],
        "jbdw": [o.extra["sponsor"] for o in rows],
        "kbzj": [str(o.extra["funds"]) for o in rows],
        "clrq": [o.established.isoformat() for o in rows],
    }
    return _Sourced(_Table(columns), found)


def _shehui(social: list[_Org]) -> _Sourced:
    """民政's 社会组织 list; the file is cut off in the middle of its last record."""
    rows = sorted(social, key=lambda o: o.established)
    last = rows[-1]
    fault = Fault("minzheng_shehui", len(rows), last.code, "truncated_file", EXPECTED["truncated_file"])
    columns = {
        "tyshxydm": [o.code for o in rows],
        "zzmc": [o.name for o in rows],
        "zzlx": [o.extra["kind"] for o in rows],
        "fddbr": [o.rep for o in rows],
        "ywzgdw": [o.extra["supervisor"] for o in rows],
        "djrq": [o.established.isoformat() for o in rows],
    }
    return _Sourced(_Table(columns), [fault])


# ----------------------------------------------------------------------------- credit and certificates


@dataclass
class _Subjects:
    """The clean people and enterprises that credit records and certificates may name."""

    pop: _People
    clean: np.ndarray
    firms: list[_Org]

    def people(self, rng: np.random.Generator, count: int, min_age: int = 18) -> list[int]:
        of_age = self.pop.birth <= np.datetime64(TODAY, "D") - int(min_age * 365.25) - 1
        pool = np.nonzero(self.clean & of_age)[0]
        return sorted(rng.choice(pool, size=min(count, len(pool)), replace=False).tolist())

    def enterprises(self, rng: np.random.Generator, count: int) -> list[_Org]:
        picked = rng.choice(len(self.firms), size=min(count, len(self.firms)), replace=False)
        return [self.firms[i] for i in sorted(picked.tolist())]


def _shixin(subjects: _Subjects, seed: int) -> list[dict[str, Any]]:
    """法院's 失信被执行人 list: enterprises and people, one enforcement case each."""
    rng = _rng(seed, "fayuan_shixin")
    pop = subjects.pop
    named: list[tuple[str, str]] = [
        (f.code, f.name) for f in subjects.enterprises(rng, max(3, len(subjects.firms) // 30))
    ]
    named += [(pop.ids[i], pop.names[i]) for i in subjects.people(rng, max(3, len(pop) // 200))]
    serial: dict[tuple[int, str], int] = {}
    records = []
    for code, name in named:
        filed = _between(rng, date(2019, 1, 1), TODAY - timedelta(days=30))
        court = _one(rng, list(_COURTS))
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
                "fbrq": _between(rng, filed + timedelta(days=20), TODAY).isoformat(),
                "sxqx": _one(rng, _DISHONEST_CONDUCT),
                "sxbz": "1",
            }
        )
    records.sort(key=lambda r: (r["fbrq"], r["ah"]))
    return records


def _shuang_gongshi(subjects: _Subjects, seed: int) -> tuple[_Table, _Table]:
    """信用办's 双公示 files: administrative licences and penalties, with their document numbers."""
    rng = _rng(seed, "xinyong_shuang_gongshi")
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
        abbr = _one(rng, list(_PUBLISHERS))
        decided = _between(rng, date(2021, 1, 1), TODAY - timedelta(days=1))
        licence = _one(rng, _LICENSES[abbr])
        licences.append((decided, doc_no(abbr, "许", decided.year), code, name, licence, abbr))
    licences.sort()
    xuke = _Table(
        {
            "xk_wsh": [x[1] for x in licences],
            "xk_xdr_mc": [x[3] for x in licences],
            "xk_xdr_dm": [x[2] for x in licences],
            "xk_nr": [x[4] for x in licences],
            "xk_jdrq": [x[0].isoformat() for x in licences],
            "xk_gsjzq": [_add_years(x[0], 3).isoformat() for x in licences],
            "xk_xkjg": [_PUBLISHERS[x[5]] for x in licences],
        }
    )

    penalties = []
    for code, name in named(max(3, len(subjects.firms) // 5), max(2, len(pop) // 500)):
        abbr = _one(rng, list(_PUBLISHERS))
        decided = _between(rng, date(2022, 1, 1), TODAY - timedelta(days=1))
        reason = _one(rng, _PENALTIES[abbr])
        yuan = int(rng.choice([0, 2000, 5000, 10000, 20000, 50000, 100000, 200000]))
        decision = f"警告，罚款人民币{yuan}元" if yuan else "警告"
        amount = (Decimal(yuan) / 10000).quantize(Decimal("0.0001"))
        penalties.append(
            (decided, doc_no(abbr, "罚", decided.year), code, name, reason, decision, amount, abbr)
        )
    penalties.sort()
    chufa = _Table(
        {
            "cf_wsh": [p[1] for p in penalties],
            "cf_xdr_mc": [p[3] for p in penalties],
            "cf_xdr_dm": [p[2] for p in penalties],
            "cf_sy": [p[4] for p in penalties],
            "cf_nr": [p[5] for p in penalties],
            "cf_fk": [str(p[6]) for p in penalties],
            "cf_jdrq": [p[0].isoformat() for p in penalties],
            # 行政处罚信息公示期: 3 years when a fine was imposed, 1 year for a warning alone.
            "cf_gsjzq": [_add_years(p[0], 3 if p[6] else 1).isoformat() for p in penalties],
            "cf_cfjg": [_PUBLISHERS[p[7]] for p in penalties],
        }
    )
    return xuke, chufa


# 证照状态 (certificate.status): 01 有效, 02 注销, 03 吊销, 04 过期, 05 撤销.
_LICENCE_STATUS = {"存续": "01", "在业": "01", "迁出": "01", "吊销": "03", "注销": "02"}


def _yingye(firms: list[_Org], seed: int) -> _Table:
    """营业执照 collected from 市场监管: one per enterprise, numbered by its credit code."""
    rng = _rng(seed, "zhengzhao_yingye")
    columns: dict[str, list[Any]] = {
        c: [] for c in ("zzbh", "czztdm", "czztmc", "bfjg", "bfrq", "yxqz", "zzzt", "zs")
    }
    for f in firms:
        # Enterprises older than GB 32100 got a new licence when the codes were unified.
        issued = (
            f.established
            if f.established >= USCC_EFFECTIVE
            else _between(rng, USCC_EFFECTIVE, date(2017, 12, 31))
        )
        term = None if rng.random() < 0.6 else _add_years(f.established, int(rng.choice([20, 30, 50])))
        row = {
            "zzbh": f.code,
            "czztdm": f.code,
            "czztmc": f.name,
            "bfjg": f.extra["authority"],
            "bfrq": issued.isoformat(),
            "yxqz": term.isoformat() if term else None,
            "zzzt": _LICENCE_STATUS[f.extra["status"]],
            "zs": f.extra["domicile"],
        }
        for column, value in row.items():
            columns[column].append(value)
    return _Table(columns)


def _jiehun(pop: _People, hunyin: _Table) -> _Table:
    """结婚证 collected from 民政: one per married registrant, dated as the 婚姻登记."""
    married = [
        (number, name, status, registered, office)
        for number, name, status, registered, office in zip(*hunyin.columns.values(), strict=True)
        if status in {"20", "21", "22", "23"}
    ]
    serial: dict[tuple[str, int], int] = {}
    columns: dict[str, list[Any]] = {
        c: [] for c in ("zzbh", "czztdm", "czztmc", "bfjg", "bfrq", "yxqz", "zzzt")
    }
    region_of = dict(zip(pop.ids, pop.region, strict=True))
    for number, name, _, registered, office in married:
        region = region_of[number]
        serial[region, registered.year] = serial.get((region, registered.year), 0) + 1
        columns["zzbh"].append(f"J{region}-{registered.year}-{serial[region, registered.year]:06d}")
        columns["czztdm"].append(number)
        columns["czztmc"].append(name)
        columns["bfjg"].append(office)
        columns["bfrq"].append(registered.isoformat())
        columns["yxqz"].append("")
        columns["zzzt"].append("01")
    return _Table(columns)


def _jiashi(pop: _People, clean: np.ndarray, seed: int) -> _Table:
    """机动车驾驶证 collected from 公安交警: numbered by the holder's 公民身份号码."""
    rng = _rng(seed, "zhengzhao_jiashi")
    subjects = _Subjects(pop, clean, [])
    holders = subjects.people(rng, round(0.35 * len(pop)))
    files = rng.choice(10**8, size=len(holders), replace=False)
    columns: dict[str, list[Any]] = {
        c: [] for c in ("zzbh", "czztdm", "czztmc", "bfjg", "bfrq", "yxqz", "zzzt", "dabh", "zjcx")
    }
    for i, file_no in zip(holders, files.tolist(), strict=True):
        issued = _between(
            rng, max(_add_years(pop.birth_date(i), 18), TODAY - timedelta(days=12 * 365)), TODAY
        )
        years = int(rng.choice([6, 10, 0], p=[0.45, 0.4, 0.15]))
        expiry = _add_years(issued, years) if years else None
        columns["zzbh"].append(pop.ids[i])
        columns["czztdm"].append(pop.ids[i])
        columns["czztmc"].append(pop.names[i])
        columns["bfjg"].append("榕城市公安局交通警察支队")
        columns["bfrq"].append(issued.isoformat())
        columns["yxqz"].append(expiry.isoformat() if expiry else "")
        columns["zzzt"].append("04" if expiry and expiry < TODAY else "01")
        columns["dabh"].append(f"3501{file_no:08d}")
        columns["zjcx"].append(str(_pick(rng, _DRIVING_CLASSES, 1)[0]))
    return _Table(columns)


def _budongchan(pop: _People, clean: np.ndarray, seed: int) -> _Table:
    """不动产权证书 collected from 自然资源和规划: numbered 闽（年）榕城市不动产权第N号."""
    rng = _rng(seed, "zhengzhao_budongchan")
    holders = _Subjects(pop, clean, []).people(rng, round(0.2 * len(pop)), min_age=22)
    issued = [_between(rng, date(2016, 1, 1), TODAY - timedelta(days=1)) for _ in holders]
    order = sorted(range(len(holders)), key=lambda j: (issued[j], holders[j]))
    serial: dict[int, int] = {}
    columns: dict[str, list[Any]] = {
        c: [] for c in ("zzbh", "czztdm", "czztmc", "bfjg", "bfrq", "zzzt", "bdcdyh", "zl")
    }
    for j in order:
        i, day = holders[j], issued[j]
        serial[day.year] = serial.get(day.year, int(rng.integers(1, 500))) + int(rng.integers(1, 30))
        region = pop.region[i]
        parcel = f"{region}{int(rng.integers(1, 20)):03d}{int(rng.integers(1, 999)):03d}"
        columns["zzbh"].append(f"闽（{day.year}）榕城市不动产权第{serial[day.year]:07d}号")
        columns["czztdm"].append(pop.ids[i])
        columns["czztmc"].append(pop.names[i])
        columns["bfjg"].append("榕城市自然资源和规划局")
        columns["bfrq"].append(day)
        columns["zzzt"].append("01" if rng.random() < 0.93 else "02")
        columns["bdcdyh"].append(
            f"{parcel}GB{int(rng.integers(1, 99999)):05d}F{int(rng.integers(1, 10**8)):08d}"
        )
        columns["zl"].append(_addresses(rng, [region])[0])
    return _Table(columns)


# ----------------------------------------------------------------------------- certificate signatures


def issuer_key(seed: int, department: str) -> tuple[str, Ed25519PrivateKey]:
    """A demo issuing department's key id and Ed25519 private key, derived from the seed (never written)."""
    private = Ed25519PrivateKey.from_private_bytes(
        hashlib.sha256(f"govdx-demo-issuer\x1f{seed}\x1f{department}".encode()).digest()
    )
    return f"{department}-demo-{signing.fingerprint(private.public_key())[:8]}", private


def _stored_text(element: str, value: Any) -> str | None:
    """A source value as the loader stores it: text, trimmed, empty as null, codes compacted."""
    return subjects.canonical_part(element, _text(value)) or None


def _sign_certificates(tables: dict[str, _Table], seed: int) -> list[Fault]:
    """Sign every certificate row with its issuer's key, with the verification faults around it.

    A signature covers the values the loader will store (sources.yaml's mapping and constants,
    normalised as the loader does). The faults, ``fault_count`` of each (fewer only if a tiny city
    has too few candidates): 营业执照 吊销 after issue (the status is not signed, so the signature
    still holds: ``revoked``); 驾驶证 past their expiry date whose status the hub never moved off
    01 有效 (``expired``); 驾驶证 whose expiry date was pushed ten years on after signing (``tampered``).
    """
    rng = _rng(seed, "zhengzhao_signatures")
    specs = load_sources(SOURCES_FILE)
    yingye, jiashi = tables["zhengzhao_yingye"].columns, tables["zhengzhao_jiashi"].columns
    today = TODAY.isoformat()

    def current(columns: dict[str, list[Any]], i: int) -> bool:
        return bool(columns["zzzt"][i] == "01" and (not columns["yxqz"][i] or columns["yxqz"][i] >= today))

    revoked = _choose(rng, [i for i in range(len(yingye["zzbh"])) if current(yingye, i)], len(yingye["zzbh"]))
    for i in revoked:
        yingye["zzzt"][i] = "03"  # 吊销 after issue: the status changes, the signed content does not
    lapsed = [i for i, ends in enumerate(jiashi["yxqz"]) if ends and ends < today]
    expired = _choose(rng, lapsed, len(jiashi["zzbh"]))
    for i in expired:
        jiashi["zzzt"][i] = "01"  # the hub missed the lapse; the date still tells
    valid = [
        i for i in range(len(jiashi["zzbh"])) if current(jiashi, i) and jiashi["yxqz"][i] and i not in expired
    ]
    tampered = _choose(rng, valid, len(jiashi["zzbh"]))

    for name, table in tables.items():
        spec = specs.get(name)
        key_id, private = issuer_key(seed, CERTIFICATE_ISSUERS[name])
        mapped = {column: element for column, element in spec.columns.items() if element != signing.SIGNATURE}
        signatures = []
        for row in table.records():
            values = {element: _stored_text(element, row[column]) for column, element in mapped.items()}
            signatures.append(signing.sign(private, key_id, values | dict(spec.constants)))
        table.columns[SIGNATURE_COLUMN] = signatures
    for i in tampered:
        jiashi["yxqz"][i] = _add_years(date.fromisoformat(jiashi["yxqz"][i]), 10).isoformat()

    def faults(name: str, kind: str, rows: list[int]) -> list[Fault]:
        type_code = CERTIFICATE_TYPES[name][0]
        numbers = tables[name].columns["zzbh"]
        return [Fault(name, i + 1, f"{type_code}:{numbers[i]}", kind, EXPECTED[kind]) for i in rows]

    return [
        *faults("zhengzhao_yingye", "certificate_revoked", revoked),
        *faults("zhengzhao_jiashi", "certificate_expired", expired),
        *faults("zhengzhao_jiashi", "certificate_tampered", tampered),
    ]


def _choose(rng: np.random.Generator, candidates: list[int], rows: int) -> list[int]:
    """``fault_count(rows)`` of ``candidates`` (fewer if there are fewer), in row order."""
    count = min(fault_count(rows), len(candidates))
    return sorted(int(i) for i in rng.choice(candidates, size=count, replace=False)) if count else []


def _write_issuer_keys(writer: "_Writer", seed: int) -> None:
    """The issuers' public keys (PEM) and the key manifest ``govdx certificate import-keys`` reads."""
    keys = []
    for department in sorted(set(CERTIFICATE_ISSUERS.values())):
        key_id, private = issuer_key(seed, department)
        public = private.public_key()
        relative = f"{ISSUER_KEYS_DIR}/{department}.pem"
        writer._path(relative).write_text(signing.public_pem(public), encoding="ascii")
        keys.append(
            {
                "department": department,
                "key_id": key_id,
                "algorithm": signing.ALGORITHM,
                "public_key": f"{department}.pem",
                "fingerprint": signing.fingerprint(public),
                "certificate_types": [
                    CERTIFICATE_TYPES[name][0]
                    for name, issuer in CERTIFICATE_ISSUERS.items()
                    if issuer == department
                ],
            }
        )
    writer._path(f"{ISSUER_KEYS_DIR}/{MANIFEST_NAME}").write_text(
        json.dumps({"seed": seed, "keys": keys}, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )


# ----------------------------------------------------------------------------- writing


def _sqlite_url(path: Path, *, fresh: bool = False) -> str:
    if fresh:
        path.unlink(missing_ok=True)
    return f"sqlite:///{path}"


def _engine(url: str) -> Engine:
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _fast_load(dbapi_connection: Any, _record: Any) -> None:
            # A generator's load is all-or-nothing and rerun on failure: durability buys nothing.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=MEMORY")
            cursor.execute("PRAGMA synchronous=OFF")
            cursor.close()

    return engine


# SQLite stores DATETIME as text; without microseconds the stored text equals str(datetime), so a
# high-water mark read as text compares correctly with the column.
_TIMESTAMP = DateTime().with_variant(
    sqlite.DATETIME(
        storage_format="%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d",
        regexp=r"(\d+)-(\d+)-(\d+) (\d+):(\d+):(\d+)",
    ),
    "sqlite",
)


# On SQLite, INTEGER PRIMARY KEY is the rowid itself: no second index to maintain.
_SURROGATE_ID = BigInteger().with_variant(Integer, "sqlite")


def _table_definition(name: str, metadata: MetaData) -> Table:
    """The department's own table: a surrogate ``id``, no unique constraint on the business key."""
    if name == HUJI_TABLE:
        return Table(
            HUJI_TABLE,
            metadata,
            Column("id", _SURROGATE_ID, primary_key=True, autoincrement=False),
            Column("sfzh", String(18), nullable=False, comment="公民身份号码"),
            Column("xm", String(50), comment="姓名"),
            Column("xb", String(1), comment="性别代码 GB/T 2261.1"),
            Column("mz", String(2), comment="民族代码 GB/T 3304"),
            Column("csrq", Date, comment="出生日期"),
            Column("hjdqh", String(6), comment="户籍地行政区划代码 GB/T 2260"),
            Column("zz", String(200), comment="住址"),
            Column("lxdh", String(20), comment="联系电话"),
            Column("updated_at", _TIMESTAMP, nullable=False, comment="更新时间"),
            comment="常住人口户籍登记",
            mysql_charset="utf8mb4",
        )
    return Table(
        QIYE_TABLE,
        metadata,
        Column("id", _SURROGATE_ID, primary_key=True, autoincrement=False),
        Column("tyshxydm", String(18), nullable=False, comment="统一社会信用代码"),
        Column("qymc", String(200), comment="企业名称"),
        Column("qylx", String(4), comment="企业类型代码"),
        Column("fddbr", String(50), comment="法定代表人"),
        Column("zczb", Numeric(18, 2), comment="注册资本（万元）"),
        Column("clrq", Date, comment="成立日期"),
        Column("zs", String(200), comment="住所"),
        Column("djzt", String(4), comment="登记状态"),
        Column("djjg", String(100), comment="登记机关"),
        Column("updated_at", _TIMESTAMP, nullable=False, comment="更新时间"),
        comment="企业登记基本信息",
        mysql_charset="utf8mb4",
    )


def _write_table(url: str, table: _Table) -> None:
    """Replace the table at ``url`` with ``table``'s rows: one transaction, chunked executemany."""
    engine = _engine(url)
    try:
        target = _table_definition(table.name, MetaData())
        names = ", ".join(table.columns)
        marker = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        insert = f"INSERT INTO {table.name} ({names}) VALUES ({', '.join([marker] * len(table.columns))})"
        columns = list(table.columns.values())
        if engine.dialect.name == "sqlite":
            columns = [[_sqlite_text(v) for v in column] for column in columns]
        with engine.begin() as conn:
            target.drop(conn, checkfirst=True)
            target.create(conn)
            # Rows go to the driver's executemany as tuples: SQLAlchemy's per-row parameter
            # processing would cost more than the database does.
            for start in range(0, table.rows, CHUNK_ROWS):
                chunk = [column[start : start + CHUNK_ROWS] for column in columns]
                conn.exec_driver_sql(insert, list(zip(*chunk, strict=True)))
            key = "sfzh" if table.name == HUJI_TABLE else "tyshxydm"
            Index(f"ix_{table.name}_{key}", target.c[key]).create(conn)
            Index(f"ix_{table.name}_updated_at", target.c.updated_at).create(conn)
    finally:
        engine.dispose()


def _sqlite_text(value: Any) -> Any:
    """A value as SQLAlchemy stores it in SQLite: dates and times as ISO text, decimals as text."""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date | Decimal):
        return str(value)
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _csv_text(table: _Table, *, crlf: bool) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n" if crlf else "\n")
    writer.writerow(table.columns)
    for values in zip(*table.columns.values(), strict=True):
        writer.writerow([_text(v) for v in values])
    return buffer.getvalue()


_ZIP_TIME = (2026, 11, 20, 0, 0, 0)


class _Writer:
    """Writes sources under the output directory and records each in the manifest."""

    def __init__(self, root: Path, manifest: Manifest) -> None:
        self.root = root
        self.manifest = manifest

    def _path(self, relative: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def _record(self, name: str, fmt: str, rows: int, relative: str) -> None:
        self.manifest.sources[name] = SourceOutput(format=fmt, rows=rows, path=relative)

    def sql(self, name: str, url: str, table: _Table) -> None:
        _write_table(url, table)
        output = SourceOutput(format="sql", rows=table.rows, table=table.name)
        database = url.removeprefix("sqlite:///")
        if url.startswith("sqlite:///") and Path(database).parent == self.root:
            output.path = Path(database).name
        self.manifest.sources[name] = output

    def csv(
        self,
        name: str,
        relative: str,
        table: _Table,
        *,
        encoding: str = "utf-8",
        crlf: bool = False,
        truncate_last: bool = False,
    ) -> None:
        text = _csv_text(table, crlf=crlf)
        if truncate_last:
            # The transfer stopped part-way through the last record's second field.
            head, _, last = text.rstrip("\n").rpartition("\n")
            first, second, _ = last.split(",", 2)
            text = f"{head}\n{first},{second[: max(1, len(second) // 2)]}"
        self._path(relative).write_bytes(text.encode(encoding))
        self._record(name, "csv", table.rows, relative)

    def json(
        self,
        name: str,
        relative: str,
        records: list[dict[str, Any]],
        *,
        fmt: str = "json",
        indent: int | None,
    ) -> None:
        text = json.dumps(
            records, ensure_ascii=False, indent=indent, separators=None if indent else (",", ":")
        )
        self._path(relative).write_text(text + "\n", encoding="utf-8")
        self._record(name, fmt, len(records), relative)

    def jsonl(self, name: str, relative: str, records: list[dict[str, Any]]) -> None:
        lines = [json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in records]
        self._path(relative).write_text("\n".join(lines) + "\n", encoding="utf-8")
        self._record(name, "jsonl", len(records), relative)

    def xlsx(self, name: str, relative: str, table: _Table, *, sheet: str) -> None:
        workbook = Workbook(write_only=True)
        workbook.properties.creator = "榕城市民政局"
        workbook.properties.created = workbook.properties.modified = datetime(2026, 11, 20, 8, 0)
        worksheet = workbook.create_sheet(sheet)
        worksheet.append(list(table.columns))
        for values in zip(*table.columns.values(), strict=True):
            worksheet.append(list(values))
        path = self._path(relative)
        workbook.save(path)
        _freeze_zip(path)
        self._record(name, "xlsx", table.rows, relative)

    def parquet(self, name: str, relative: str, table: _Table) -> None:
        arrays = {
            column: pa.array(
                values, type=pa.date32() if values and isinstance(values[0], date) else pa.string()
            )
            for column, values in table.columns.items()
        }
        pq.write_table(pa.table(arrays), self._path(relative), compression="snappy")
        self._record(name, "parquet", table.rows, relative)


def _freeze_zip(path: Path) -> None:
    """Rewrite a zip (XLSX) with fixed entry timestamps, so equal content gives equal bytes."""
    with zipfile.ZipFile(path) as source:
        entries = [(info.filename, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for filename, data in entries:
            target.writestr(zipfile.ZipInfo(filename, date_time=_ZIP_TIME), data, zipfile.ZIP_DEFLATED)


def _write_broken(writer: _Writer, canbao: _Table) -> None:
    """Variants of the 参保 drop that a declared spec cannot read: tests declare specs for them."""
    without_name = _Table({c: v for c, v in canbao.columns.items() if c != "xm"})
    writer._path("broken/renshe_missing_column.csv").write_bytes(
        _csv_text(without_name, crlf=True).encode("gb18030")
    )
    shutil.copyfile(
        writer.root / "renshe/canbao_20261120.csv", writer._path("broken/renshe_wrong_encoding.csv")
    )
    writer.manifest.broken = {
        "renshe_missing_column": {
            "path": "broken/renshe_missing_column.csv",
            "based_on": "renshe_canbao",
            "missing_column": "xm",
            "expected": "schema_drift",
        },
        "renshe_wrong_encoding": {
            "path": "broken/renshe_wrong_encoding.csv",
            "based_on": "renshe_canbao",
            "actual_encoding": "gb18030",
            "declare_encoding": "utf-8",
            "expected": "schema_drift",
        },
    }
