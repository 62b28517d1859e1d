"""The 榕城市 demo departments' sources: reproducible data carrying the faults real sources have.

``generate`` writes every source declared in ``demo/sources.yaml`` — two SQL tables (公安 户籍,
市场监管 企业登记), CSV/XLSX/JSON/Parquet drops, and the JSON behind 卫健's paged API
(``demo/health_api.py``) — plus ``manifest.json``, which lists each injected fault with the
outcome the pipeline must reach for it (:mod:`demo.sources.manifest`).

One module per library writes that library's sources: :mod:`~demo.sources.population`,
:mod:`~demo.sources.legal_persons`, :mod:`~demo.sources.credit` and
:mod:`~demo.sources.certificates` (signed by their issuers); :mod:`~demo.sources.assistance` writes
民政's 低保 table, a resource dataset (库表交换). They draw on the city's residents
(:mod:`~demo.sources.people`) and organisations (:mod:`~demo.sources.organisations`), and
:mod:`~demo.sources.output` writes the files and tables.

Every value derives from the seed (one numpy stream per source) and "today" is 2026-11-20, so
a seed always gives the same bytes. Identifiers are well-formed unless a fault breaks them:
公民身份号码 per GB 11643-1999 (region code, birth date, sequence whose parity is the sex,
ISO 7064 MOD 11-2 check character) and 统一社会信用代码 per GB 32100-2015 (registering
authority, entity type, region, GB 11714 organisation code with its own check digit, MOD 31
check character), their check characters computed by ``quality``.
"""

import json
from pathlib import Path

from catalog_schema.errors import InvalidInput, Problem
from connectors.config import load_sources
from demo.sources import assistance, certificates, credit, legal_persons, population
from demo.sources.manifest import Manifest
from demo.sources.organisations import CleanSubjects, organisations
from demo.sources.output import Writer, write_table
from demo.sources.people import residents

SOURCES_FILE = Path(__file__).parents[1] / "sources.yaml"
MANIFEST_NAME = "manifest.json"
MIN_PEOPLE = 100
MIN_ORGS = 50

HOUSEHOLD_REGISTER_DB = "gongan_huji.sqlite"
ENTERPRISE_REGISTER_DB = "shichang_qiye.sqlite"
HEALTH_RECORDS = "weijian/vital_records.json"


def generate(
    out_dir: Path,
    *,
    people: int = 5000,
    orgs: int = 600,
    seed: int = 2026,
    household_register_url: str | None = None,
    enterprise_register_url: str | None = None,
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
    writer = Writer(out_dir, manifest)

    pop = residents(people, seed)
    register = population.household_register(pop, seed, faults=True)
    household_url = household_register_url or _sqlite_url(out_dir / HOUSEHOLD_REGISTER_DB, fresh=True)
    writer.sql("gongan_huji", household_url, register.table, population.household_register_schema())
    manifest.faults += register.faults
    manifest.edge_cases += register.edge_cases
    clean = ~register.tainted

    vital = population.vital_records(pop, clean, seed)
    insurance = population.social_insurance(pop, clean, vital.deceased, seed)
    writer.csv("renshe_canbao", "renshe/canbao_20261120.csv", insurance.table, encoding="gb18030", crlf=True)
    manifest.faults += insurance.faults
    manifest.edge_cases += insurance.edge_cases
    population.write_broken_variants(writer, insurance.table)
    marriages = population.marriages(pop, clean, seed)
    writer.xlsx("minzheng_hunyin", "minzheng/hunyin.xlsx", marriages, sheet="婚姻登记信息")
    writer.json("weijian_birth_death", HEALTH_RECORDS, vital.records, fmt="http", indent=None)

    city_orgs = organisations(orgs, seed)
    enterprises = legal_persons.enterprise_register(city_orgs.enterprises, seed)
    enterprise_url = enterprise_register_url or _sqlite_url(out_dir / ENTERPRISE_REGISTER_DB, fresh=True)
    writer.sql("shichang_qiye", enterprise_url, enterprises.table, legal_persons.enterprise_register_schema())
    manifest.faults += enterprises.faults
    institutions = legal_persons.public_institutions(city_orgs.institutions, seed)
    writer.csv("bianban_shiye", "bianban/shiye_danwei.csv", institutions.table)
    manifest.faults += institutions.faults
    social = legal_persons.social_organisations(city_orgs.social_orgs)
    writer.csv("minzheng_shehui", "minzheng/shehui_zuzhi.csv", social.table, truncate_last=True)
    manifest.faults += social.faults
    organs = legal_persons.state_organs(city_orgs.state_organs)
    writer.csv("bianban_jiguan", "bianban/jiguan.csv", organs.table)
    shops = legal_persons.individual_businesses(city_orgs.individual_businesses, seed)
    writer.csv("shichang_getihu", "shichang/getihu.csv", shops.table)
    manifest.faults += shops.faults

    firms = [e for e, bad in zip(city_orgs.enterprises, enterprises.tainted, strict=True) if not bad]
    named = CleanSubjects(pop, clean, firms)
    writer.json("fayuan_shixin", "fayuan/shixin.json", credit.dishonest_debtors(named, seed), indent=2)
    # The same court list, read whole into the dataset of 失信被执行人信息 (库表交换).
    manifest.sources["fayuan_shixin_mingdan"] = manifest.sources["fayuan_shixin"]
    dibao = assistance.subsistence(named, seed)
    writer.csv(assistance.SOURCE, "minzheng/dibao.csv", dibao.table)
    manifest.faults += dibao.faults
    licences, penalties = credit.licences_and_penalties(named, seed)
    writer.csv("xinyong_xuke", "xinyong/xingzheng_xuke.csv", licences)
    writer.csv("xinyong_chufa", "xinyong/xingzheng_chufa.csv", penalties)
    writer.csv(
        "shichang_jingying_yichang", "shichang/jingying_yichang.csv", credit.abnormal_operations(named, seed)
    )
    writer.csv(
        "shichang_yanzhong_shixin", "shichang/yanzhong_shixin.csv", credit.serious_dishonesty(named, seed)
    )
    writer.xlsx(
        "weijian_jiandu_jiancha", "weijian/jiandu_jiancha.xlsx", credit.health_inspections(named, seed),
        sheet="监督检查结果",
    )  # fmt: skip
    writer.csv(
        "shichang_zhiliang_choujian", "shichang/zhiliang_choujian.csv", credit.quality_sampling(named, seed)
    )
    writer.json("fagai_hongmingdan", "fagai/hongmingdan.json", credit.commendations(named, seed), indent=2)

    issued = {
        "zhengzhao_yingye": certificates.business_licences(firms, seed),
        "zhengzhao_jiehun": certificates.marriage_certificates(pop, marriages),
        "zhengzhao_jiashi": certificates.driving_licences(pop, clean, seed),
        "zhengzhao_budongchan": certificates.real_estate_certificates(pop, clean, seed),
        "zhengzhao_lihun": certificates.divorce_certificates(pop, marriages, seed),
        "zhengzhao_xingshi": certificates.vehicle_licences(named, seed),
        "zhengzhao_chusheng": certificates.birth_certificates(vital.records, seed),
        "zhengzhao_shebaoka": certificates.social_security_cards(pop, insurance, vital.deceased, seed),
        "zhengzhao_daoyun": certificates.road_transport_permits(named, seed),
    }
    manifest.faults += certificates.sign_certificates(issued, seed, load_sources(SOURCES_FILE))
    writer.jsonl("zhengzhao_yingye", "zhengzhao/yingye_zhizhao.jsonl", issued["zhengzhao_yingye"].records())
    writer.csv("zhengzhao_jiehun", "zhengzhao/jiehunzheng.csv", issued["zhengzhao_jiehun"])
    writer.csv("zhengzhao_jiashi", "zhengzhao/jiashizheng.csv", issued["zhengzhao_jiashi"])
    writer.parquet("zhengzhao_budongchan", "zhengzhao/budongchan.parquet", issued["zhengzhao_budongchan"])
    writer.xlsx("zhengzhao_lihun", "zhengzhao/lihunzheng.xlsx", issued["zhengzhao_lihun"], sheet="离婚证")
    writer.csv("zhengzhao_xingshi", "zhengzhao/xingshizheng.csv", issued["zhengzhao_xingshi"])
    writer.json(
        "zhengzhao_chusheng",
        "zhengzhao/chusheng_yixue.json",
        issued["zhengzhao_chusheng"].records(),
        indent=None,
    )
    writer.parquet("zhengzhao_shebaoka", "zhengzhao/shebaoka.parquet", issued["zhengzhao_shebaoka"])
    writer.jsonl("zhengzhao_daoyun", "zhengzhao/daoyun_xuke.jsonl", issued["zhengzhao_daoyun"].records())
    certificates.write_issuer_keys(writer, seed)

    order = {name: i for i, name in enumerate(manifest.sources)}
    manifest.faults.sort(key=lambda f: (order[f.source], f.row))
    (out_dir / MANIFEST_NAME).write_text(
        json.dumps(manifest.as_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return manifest


def write_police_household_register(url: str, *, people: int, seed: int, faults: bool = True) -> int:
    """Write 公安's 户籍 table ``huji`` (replacing it) for ``people`` people; returns the rows written."""
    _check_sizes(people=people, seed=seed)
    register = population.household_register(residents(people, seed), seed, faults=faults)
    write_table(url, register.table, population.household_register_schema())
    return register.table.rows


def demo_connection_env(out_dir: Path, health_api_url: str) -> dict[str, str]:
    """The environment the connectors need to reach the demo sources written to ``out_dir``."""
    root = out_dir.resolve()
    return {
        "GOVDX_SOURCES_DIR": str(root),
        "GOVDX_CONN_GONGAN_HUJI": _sqlite_url(root / HOUSEHOLD_REGISTER_DB),
        "GOVDX_CONN_SHICHANG_QIYE": _sqlite_url(root / ENTERPRISE_REGISTER_DB),
        "GOVDX_CONN_WEIJIAN_API": health_api_url.rstrip("/"),
    }


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


def _sqlite_url(path: Path, *, fresh: bool = False) -> str:
    if fresh:
        path.unlink(missing_ok=True)
    return f"sqlite:///{path}"
