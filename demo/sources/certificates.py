"""The 电子证照 (electronic certificate) library's sources, signed by their issuers.

Nine types, each loaded by the department that issues it: 营业执照 (市场监管), 结婚证 and 离婚证
(民政), 机动车驾驶证 and 机动车行驶证 (公安), 不动产权证书 (自然资源和规划), 出生医学证明 (卫健),
社会保障卡 (人社) and 道路运输经营许可证 (交通运输), each naming clean residents or enterprises and
drawn from what the issuer's other sources say (a 离婚证 for each 离婚 in 民政's 婚姻登记, a
出生医学证明 under each number in 卫健's records, a 社会保障卡 for each person 人社 insures).
Every row carries its issuer's Ed25519 signature (column ``qm``) over the canonical content of
the values the loader stores (``catalog_schema.certificate.signing``). Each issuing
department's key derives from the seed (:func:`issuer_key`) and is never written; its public key
is, under ``issuer-keys/`` with a ``manifest.json`` that ``govdx certificate import-keys``
registers.
"""

import hashlib
import json
from datetime import date, timedelta
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from catalog_schema.certificate import signing
from catalog_schema.library import subjects
from connectors.config import SourcesFile
from demo.sources.city import TODAY, add_years, addresses, between, pick, random_stream, wrong
from demo.sources.manifest import EXPECTED, Fault, fault_count
from demo.sources.organisations import USCC_EFFECTIVE, CleanSubjects, Org
from demo.sources.output import SourceTable, Writer, as_text
from demo.sources.people import HOMOPHONES, People
from demo.sources.population import SocialInsurance

# 证照类型代码: the issuing department's 统一社会信用代码 followed by a 3-digit sequence, as the
# national 电子证照 catalogue numbers certificate types (codes of the demo catalog's departments).
CERTIFICATE_TYPES = {
    "zhengzhao_yingye": ("11350100003576486C001", "营业执照"),
    "zhengzhao_jiehun": ("11350100003572207Y001", "结婚证"),
    "zhengzhao_jiashi": ("11350100003571132M001", "机动车驾驶证"),
    "zhengzhao_budongchan": ("113501000035818325001", "不动产权证书"),
    "zhengzhao_lihun": ("11350100003572207Y002", "离婚证"),
    "zhengzhao_xingshi": ("11350100003571132M002", "机动车行驶证"),
    "zhengzhao_chusheng": ("11350100003573277D001", "出生医学证明"),
    "zhengzhao_shebaoka": ("11350100003574341L001", "社会保障卡"),
    "zhengzhao_daoyun": ("11350100003582907E001", "道路运输经营许可证"),
}
# The department that issues, and signs, each certificate type (its credit code begins the type code).
CERTIFICATE_ISSUERS = {
    "zhengzhao_yingye": "shichang",
    "zhengzhao_jiehun": "minzheng",
    "zhengzhao_jiashi": "gongan",
    "zhengzhao_budongchan": "ziran",
    "zhengzhao_lihun": "minzheng",
    "zhengzhao_xingshi": "gongan",
    "zhengzhao_chusheng": "weijian",
    "zhengzhao_shebaoka": "renshe",
    "zhengzhao_daoyun": "jiaotong",
}
SIGNATURE_COLUMN = "qm"
ISSUER_KEYS_DIR = "issuer-keys"
# The key manifest under ISSUER_KEYS_DIR.
KEY_MANIFEST = "manifest.json"
_DRIVING_CLASSES = {"C1": 70, "C2": 15, "B2": 6, "A2": 2, "D": 4, "A1": 1, "B1": 2}

# 机动车类型 (GA 802): 小型轿车, 小型普通客车, 轻型普通货车, 大型普通客车.
_VEHICLE_TYPES = {"K33": 70, "K31": 20, "H31": 8, "K11": 2}
_PLATE_CHARACTERS = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_HOSPITALS = {
    "榕城市妇幼保健院": 35,
    "榕城市第一医院": 20,
    "榕城市第二医院": 15,
    "榕城市中医院": 10,
    "福清市医院": 10,
    "闽侯县医院": 10,
}
_CARD_BANKS = {"中国工商银行": 30, "中国建设银行": 25, "中国农业银行": 20, "中国银行": 15, "福建海峡银行": 10}
_TRANSPORT_SCOPES = {
    "道路普通货物运输": 70,
    "道路旅客运输": 10,
    "货物专用运输（集装箱）": 10,
    "道路危险货物运输": 5,
    "大型物件运输": 5,
}
_ID_CHECK_CHARACTERS = "0123456789X"

# The faults injected into each type (EXPECTED names the outcome of each): ``fault_count`` rows each.
CERTIFICATE_FAULTS = {
    "zhengzhao_yingye": ("certificate_revoked",),
    "zhengzhao_jiashi": ("certificate_expired", "certificate_tampered"),
    "zhengzhao_lihun": ("required_missing", "certificate_tampered"),
    "zhengzhao_xingshi": ("certificate_expired", "subject_code_invalid"),
    "zhengzhao_chusheng": ("required_missing", "certificate_tampered"),
    "zhengzhao_shebaoka": ("certificate_revoked", "certificate_tampered"),
    "zhengzhao_daoyun": ("certificate_revoked", "certificate_expired"),
}
# The status a revocation sets, the column a missing value leaves blank, the column altered after signing.
_REVOKED_AS = {"zhengzhao_yingye": "03", "zhengzhao_shebaoka": "02", "zhengzhao_daoyun": "03"}
_BLANKED = {"zhengzhao_lihun": "czztmc", "zhengzhao_chusheng": "czztdm"}
_TAMPERED = {
    "zhengzhao_jiashi": "yxqz",
    "zhengzhao_lihun": "czztmc",
    "zhengzhao_chusheng": "bfrq",
    "zhengzhao_shebaoka": "yxqz",
}

# 证照状态 (certificate.status): 01 有效, 02 注销, 03 吊销, 04 过期, 05 撤销.
_LICENCE_STATUS = {"存续": "01", "在业": "01", "迁出": "01", "吊销": "03", "注销": "02"}


def business_licences(firms: list[Org], seed: int) -> SourceTable:
    """营业执照 collected from 市场监管: one per enterprise, numbered by its credit code."""
    rng = random_stream(seed, "zhengzhao_yingye")
    columns: dict[str, list[Any]] = {
        c: [] for c in ("zzbh", "czztdm", "czztmc", "bfjg", "bfrq", "yxqz", "zzzt", "zs")
    }
    for f in firms:
        # Enterprises older than GB 32100 got a new licence when the codes were unified.
        issued = (
            f.established
            if f.established >= USCC_EFFECTIVE
            else between(rng, USCC_EFFECTIVE, date(2017, 12, 31))
        )
        term = None if rng.random() < 0.6 else add_years(f.established, int(rng.choice([20, 30, 50])))
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
    return SourceTable(columns)


def marriage_certificates(pop: People, marriages: SourceTable) -> SourceTable:
    """结婚证 collected from 民政: one per married registrant, dated as the 婚姻登记."""
    married = [
        (number, name, status, registered, office)
        for number, name, status, registered, office in zip(*marriages.columns.values(), strict=True)
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
    return SourceTable(columns)


def driving_licences(pop: People, clean: np.ndarray, seed: int) -> SourceTable:
    """机动车驾驶证 collected from 公安交警: numbered by the holder's 公民身份号码."""
    rng = random_stream(seed, "zhengzhao_jiashi")
    holders = CleanSubjects(pop, clean, []).people(rng, round(0.35 * len(pop)))
    files = rng.choice(10**8, size=len(holders), replace=False)
    columns: dict[str, list[Any]] = {
        c: [] for c in ("zzbh", "czztdm", "czztmc", "bfjg", "bfrq", "yxqz", "zzzt", "dabh", "zjcx")
    }
    for i, file_no in zip(holders, files.tolist(), strict=True):
        issued = between(rng, max(add_years(pop.birth_date(i), 18), TODAY - timedelta(days=12 * 365)), TODAY)
        years = int(rng.choice([6, 10, 0], p=[0.45, 0.4, 0.15]))
        expiry = add_years(issued, years) if years else None
        columns["zzbh"].append(pop.ids[i])
        columns["czztdm"].append(pop.ids[i])
        columns["czztmc"].append(pop.names[i])
        columns["bfjg"].append("榕城市公安局交通警察支队")
        columns["bfrq"].append(issued.isoformat())
        columns["yxqz"].append(expiry.isoformat() if expiry else "")
        columns["zzzt"].append("04" if expiry and expiry < TODAY else "01")
        columns["dabh"].append(f"3501{file_no:08d}")
        columns["zjcx"].append(str(pick(rng, _DRIVING_CLASSES, 1)[0]))
    return SourceTable(columns)


def real_estate_certificates(pop: People, clean: np.ndarray, seed: int) -> SourceTable:
    """不动产权证书 collected from 自然资源和规划: numbered 闽（年）榕城市不动产权第N号."""
    rng = random_stream(seed, "zhengzhao_budongchan")
    holders = CleanSubjects(pop, clean, []).people(rng, round(0.2 * len(pop)), min_age=22)
    issued = [between(rng, date(2016, 1, 1), TODAY - timedelta(days=1)) for _ in holders]
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
        columns["zl"].append(addresses(rng, [region])[0])
    return SourceTable(columns)


def divorce_certificates(pop: People, marriages: SourceTable, seed: int) -> SourceTable:
    """离婚证 collected from 民政: one per registrant it lists as 离婚 (40), and a 注销 one per 复婚 (23)."""
    rng = random_stream(seed, "zhengzhao_lihun")
    index = {number: i for i, number in enumerate(pop.ids)}
    issued = []
    for number, name, status, registered, office in zip(*marriages.columns.values(), strict=True):
        if status == "40":
            issued.append((registered, number, name, office, "01"))
        elif status == "23":
            # 复婚: the certificate of the earlier divorce was taken back (注销) at the new registration.
            i = index[number]
            married = add_years(pop.birth_date(i), 23 if pop.sex[i] == 1 else 21)
            divorced = between(
                rng, max(married, registered - timedelta(days=3650)), registered - timedelta(days=30)
            )
            if divorced <= registered - timedelta(days=30):
                issued.append((divorced, number, name, office, "02"))
    issued.sort()
    serial: dict[tuple[str, int], int] = {}
    columns: dict[str, list[Any]] = {c: [] for c in ("zzbh", "czztdm", "czztmc", "bfjg", "bfrq", "zzzt")}
    for day, number, name, office, status in issued:
        region = pop.region[index[number]]
        serial[region, day.year] = serial.get((region, day.year), 0) + 1
        columns["zzbh"].append(f"L{region}-{day.year}-{serial[region, day.year]:06d}")
        columns["czztdm"].append(number)
        columns["czztmc"].append(name)
        columns["bfjg"].append(office)
        columns["bfrq"].append(day)
        columns["zzzt"].append(status)
    return SourceTable(columns)


def vehicle_licences(named: CleanSubjects, seed: int) -> SourceTable:
    """机动车行驶证 collected from 公安交警: one per registered vehicle, numbered by its plate (闽A…)."""
    rng = random_stream(seed, "zhengzhao_xingshi")
    pop = named.pop
    owners = [
        (pop.ids[i], pop.names[i], add_years(pop.birth_date(i), 18))
        for i in named.people(rng, round(0.25 * len(pop)))
    ]
    owners += [(f.code, f.name, f.established) for f in named.enterprises(rng, round(0.2 * len(named.firms)))]
    registered = [
        between(rng, max(since, date(2008, 1, 1)), TODAY - timedelta(days=1)) for _, _, since in owners
    ]
    order = sorted(range(len(owners)), key=lambda j: (registered[j], owners[j][0]))
    files = rng.choice(10**8, size=len(owners), replace=False)
    plates: set[str] = set()
    columns: dict[str, list[Any]] = {
        c: [] for c in ("zzbh", "czztdm", "czztmc", "bfjg", "bfrq", "yxqz", "zzzt", "hpzl", "cllx", "dabh")
    }
    for j, file_no in zip(order, files.tolist(), strict=True):
        plate = ""
        while not plate or plate in plates:
            plate = "闽A" + "".join(_PLATE_CHARACTERS[k] for k in rng.integers(0, len(_PLATE_CHARACTERS), 5))
        plates.add(plate)
        # 检验有效期: six years from registration, then renewed every two years by each inspection.
        due = add_years(registered[j], 6)
        while due < TODAY:
            due = add_years(due, 2)
        if add_years(due, -2) > add_years(registered[j], 6) and rng.random() < 0.1:
            due = add_years(due, -2)  # the last inspection was missed
        status = "02" if rng.random() < 0.03 else "04" if due < TODAY else "01"
        columns["zzbh"].append(plate)
        columns["czztdm"].append(owners[j][0])
        columns["czztmc"].append(owners[j][1])
        columns["bfjg"].append("榕城市公安局交通警察支队")
        columns["bfrq"].append(registered[j].isoformat())
        columns["yxqz"].append(due.isoformat())
        columns["zzzt"].append(status)
        columns["hpzl"].append("01" if owners[j][0].startswith("9") and rng.random() < 0.2 else "02")
        columns["cllx"].append(str(pick(rng, _VEHICLE_TYPES, 1)[0]))
        columns["dabh"].append(f"3501{file_no:08d}")
    return SourceTable(columns)


def birth_certificates(records: list[dict[str, Any]], seed: int) -> SourceTable:
    """出生医学证明 collected from 卫健: one under each number of its vital records, issued by a 助产机构."""
    rng = random_stream(seed, "zhengzhao_chusheng")
    born = sorted((r for r in records if r["cszmbh"]), key=lambda r: (r["csrq"], r["cszmbh"]))
    hospitals = pick(rng, _HOSPITALS, len(born)).tolist()
    columns: dict[str, list[Any]] = {
        c: [] for c in ("zzbh", "czztdm", "czztmc", "xb", "csrq", "bfjg", "bfrq", "zzzt")
    }
    for record, hospital in zip(born, hospitals, strict=True):
        birth = date.fromisoformat(record["csrq"])
        day = max(birth, min(birth + timedelta(days=int(rng.integers(0, 8))), TODAY - timedelta(days=1)))
        columns["zzbh"].append(record["cszmbh"])
        columns["czztdm"].append(record["sfzh"])
        columns["czztmc"].append(record["xm"])
        columns["xb"].append(record["xb"])
        columns["csrq"].append(record["csrq"])
        columns["bfjg"].append(hospital)
        columns["bfrq"].append(day.isoformat())
        columns["zzzt"].append("01")
    return SourceTable(columns)


def social_security_cards(
    pop: People, insurance: SocialInsurance, deceased: np.ndarray, seed: int
) -> SourceTable:
    """社会保障卡 collected from 人社: one per person in its 参保 drop (faulty rows aside), 注销 at death."""
    rng = random_stream(seed, "zhengzhao_shebaoka")
    faulty = {f.row for f in insurance.faults}
    listed = insurance.table.columns
    rows = [r for r in range(insurance.table.rows) if r + 1 not in faulty]
    dead = {pop.ids[i] for i in deceased.tolist()}
    serials = rng.choice(10**8, size=len(rows), replace=False)
    banks = pick(rng, _CARD_BANKS, len(rows)).tolist()
    columns: dict[str, list[Any]] = {
        c: [] for c in ("zzbh", "czztdm", "czztmc", "bfjg", "bfrq", "yxqz", "zzzt", "shbzhm", "yhmc")
    }
    for r, serial, bank in zip(rows, serials.tolist(), banks, strict=True):
        enrolled = date.fromisoformat(listed["cbrq"][r])
        issued = between(rng, max(enrolled, date(2012, 1, 1)), TODAY - timedelta(days=1))
        expiry = add_years(issued, 10)
        # 卡号: a letter per issuing period (two years each from 2012) and eight digits.
        columns["zzbh"].append(f"{'ABCDEFGH'[min((issued.year - 2012) // 2, 7)]}{serial:08d}")
        columns["czztdm"].append(listed["sfzh"][r])
        columns["czztmc"].append(listed["xm"][r])
        columns["bfjg"].append("榕城市人力资源和社会保障局")
        columns["bfrq"].append(issued)
        columns["yxqz"].append(expiry)
        columns["zzzt"].append("02" if listed["sfzh"][r] in dead else "04" if expiry < TODAY else "01")
        columns["shbzhm"].append(listed["sfzh"][r])
        columns["yhmc"].append(bank)
    return SourceTable(columns)


def road_transport_permits(named: CleanSubjects, seed: int) -> SourceTable:
    """道路运输经营许可证 collected from 交通运输: a quarter of the enterprises, valid four years."""
    rng = random_stream(seed, "zhengzhao_daoyun")
    holders = named.enterprises(rng, round(0.25 * len(named.firms)))
    # The latest issue: a permit is renewed (换证) when it runs out, so most are current.
    since = TODAY - timedelta(days=5 * 365)
    issued = [between(rng, max(f.established, since), TODAY - timedelta(days=1)) for f in holders]
    scopes = pick(rng, _TRANSPORT_SCOPES, len(holders)).tolist()
    columns: dict[str, list[Any]] = {
        c: [] for c in ("zzbh", "czztdm", "czztmc", "bfjg", "bfrq", "yxqz", "zzzt", "jyfw")
    }
    order = sorted(range(len(holders)), key=lambda j: (issued[j], holders[j].code))
    for serial, j in enumerate(order, start=1):
        firm, day = holders[j], issued[j]
        expiry = add_years(day, 4)
        status = _LICENCE_STATUS[firm.extra["status"]]
        columns["zzbh"].append(f"闽交运管许可榕字{firm.region}{serial:06d}")
        columns["czztdm"].append(firm.code)
        columns["czztmc"].append(firm.name)
        columns["bfjg"].append("榕城市交通运输局")
        columns["bfrq"].append(day.isoformat())
        columns["yxqz"].append(expiry.isoformat())
        columns["zzzt"].append("04" if status == "01" and expiry < TODAY else status)
        columns["jyfw"].append(scopes[j])
    return SourceTable(columns)


def issuer_key(seed: int, department: str) -> tuple[str, Ed25519PrivateKey]:
    """A demo issuing department's key id and Ed25519 private key, derived from the seed (never written)."""
    private = Ed25519PrivateKey.from_private_bytes(
        hashlib.sha256(f"govdx-demo-issuer\x1f{seed}\x1f{department}".encode()).digest()
    )
    return f"{department}-demo-{signing.fingerprint(private.public_key())[:8]}", private


def _stored_text(element: str, value: Any) -> str | None:
    """A source value as the loader stores it: text, trimmed, empty as null, codes compacted."""
    return subjects.canonical_part(element, as_text(value)) or None


def sign_certificates(tables: dict[str, SourceTable], seed: int, specs: SourcesFile) -> list[Fault]:
    """Sign every certificate row with its issuer's key, with the faults of ``CERTIFICATE_FAULTS`` around it.

    A signature covers the values the loader will store (``specs``' mapping and constants,
    normalised as the loader does). ``fault_count`` rows get each fault (fewer only if a tiny city
    has too few candidates), drawn from one stream, type by type in ``CERTIFICATE_TYPES`` order,
    each on rows of its own. The issuer signs what it holds, so a row it holds wrongly (a value
    missing, a mistyped check character) still verifies, and is quarantined; only tampering
    comes after signing.
    """
    rng = random_stream(seed, "zhengzhao_signatures")
    chosen: dict[tuple[str, str], list[int]] = {}
    for name in CERTIFICATE_TYPES:
        taken: set[int] = set()
        for kind in CERTIFICATE_FAULTS.get(name, ()):
            rows = _inject(rng, name, kind, tables[name].columns, taken)
            chosen[name, kind] = rows
            taken.update(rows)

    for name, table in tables.items():
        spec = specs.get(name)
        key_id, private = issuer_key(seed, CERTIFICATE_ISSUERS[name])
        mapped = {column: element for column, element in spec.columns.items() if element != signing.SIGNATURE}
        signatures = []
        for row in table.records():
            values = {element: _stored_text(element, row[column]) for column, element in mapped.items()}
            signatures.append(signing.sign(private, key_id, values | dict(spec.constants)))
        table.columns[SIGNATURE_COLUMN] = signatures
    for (name, kind), rows in chosen.items():
        if kind == "certificate_tampered":
            column = _TAMPERED[name]
            for i in rows:
                tables[name].columns[column][i] = _altered(column, tables[name].columns[column][i])

    faults = []
    for (name, kind), rows in chosen.items():
        numbers = tables[name].columns["zzbh"]
        type_code = CERTIFICATE_TYPES[name][0]
        faults += [Fault(name, i + 1, f"{type_code}:{numbers[i]}", kind, EXPECTED[kind]) for i in rows]
    return faults


def _ends(columns: dict[str, list[Any]], i: int) -> str:
    """Row ``i``'s expiry date as ISO text, empty when it has none (长期有效)."""
    return as_text(columns["yxqz"][i]) if "yxqz" in columns else ""


def _current(columns: dict[str, list[Any]], i: int) -> bool:
    ends = _ends(columns, i)
    return bool(columns["zzzt"][i] == "01" and (not ends or ends >= TODAY.isoformat()))


def _inject(
    rng: np.random.Generator, name: str, kind: str, columns: dict[str, list[Any]], taken: set[int]
) -> list[int]:
    """Choose one fault's rows among those not ``taken``, and make the changes that precede signing."""
    rows = len(columns["zzbh"])
    free = [i for i in range(rows) if i not in taken]
    today = TODAY.isoformat()
    match kind:
        case "certificate_revoked":  # after issue: the status changes, the signed content does not
            chosen = _choose(rng, [i for i in free if _current(columns, i)], rows)
            for i in chosen:
                columns["zzzt"][i] = _REVOKED_AS[name]
        case "certificate_expired":  # past its expiry date, and the hub never moved it off 01 有效
            lapsed = [i for i in free if columns["zzzt"][i] == "04" and "" < _ends(columns, i) < today]
            chosen = _choose(rng, lapsed, rows)
            for i in chosen:
                columns["zzzt"][i] = "01"
        case "required_missing":
            chosen = _choose(rng, free, rows)
            for i in chosen:
                columns[_BLANKED[name]][i] = None
        case "subject_code_invalid":  # a holder's 公民身份号码 with a mistyped check character
            people = [i for i in free if not columns["czztdm"][i].startswith("9")]
            chosen = _choose(rng, people, rows)
            for i in chosen:
                code = columns["czztdm"][i]
                columns["czztdm"][i] = code[:17] + wrong(code[17], _ID_CHECK_CHARACTERS, rng)
        case "certificate_tampered":  # chosen now, altered after signing
            column = _TAMPERED[name]
            chosen = _choose(
                rng,
                [i for i in free if _current(columns, i) and _alterable(column, columns[column][i])],
                rows,
            )
        case _:
            raise ValueError(f"no certificate fault {kind!r}")
    return chosen


def _alterable(column: str, value: Any) -> bool:
    if column == "czztmc":
        return bool(value) and value[-1] in HOMOPHONES
    return bool(value)


def _altered(column: str, value: Any) -> Any:
    """A signed value changed after signing: a name's last character, or a date moved."""
    if column == "czztmc":
        return value[:-1] + HOMOPHONES[value[-1]]
    day = value if isinstance(value, date) else date.fromisoformat(value)
    moved = add_years(day, 10 if column == "yxqz" else -1)  # validity extended; issue backdated
    return moved if isinstance(value, date) else moved.isoformat()


def _choose(rng: np.random.Generator, candidates: list[int], rows: int) -> list[int]:
    """``fault_count(rows)`` of ``candidates`` (fewer if there are fewer), in row order."""
    count = min(fault_count(rows), len(candidates))
    return sorted(int(i) for i in rng.choice(candidates, size=count, replace=False)) if count else []


def write_issuer_keys(writer: Writer, seed: int) -> None:
    """The issuers' public keys (PEM) and the key manifest ``govdx certificate import-keys`` reads."""
    keys = []
    for department in sorted(set(CERTIFICATE_ISSUERS.values())):
        key_id, private = issuer_key(seed, department)
        public = private.public_key()
        relative = f"{ISSUER_KEYS_DIR}/{department}.pem"
        writer.path(relative).write_text(signing.public_pem(public), encoding="ascii")
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
    writer.path(f"{ISSUER_KEYS_DIR}/{KEY_MANIFEST}").write_text(
        json.dumps({"seed": seed, "keys": keys}, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
