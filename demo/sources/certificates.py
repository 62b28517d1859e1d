"""The 电子证照 (electronic certificate) library's sources, signed by their issuers.

营业执照 (市场监管), 结婚证 (民政), 机动车驾驶证 (公安交警) and 不动产权证书 (自然资源和规划), each
naming clean residents or enterprises. Every row carries its issuer's Ed25519 signature (column
``qm``) over the canonical content of the values the loader stores
(``catalog_schema.certificate.signing``). Each issuing department's key derives from the seed
(:func:`issuer_key`) and is never written; its public key is, under ``issuer-keys/`` with a
``manifest.json`` that ``govdx certificate import-keys`` registers.
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
from demo.sources.city import TODAY, add_years, addresses, between, pick, random_stream
from demo.sources.manifest import EXPECTED, Fault, fault_count
from demo.sources.organisations import USCC_EFFECTIVE, CleanSubjects, Org
from demo.sources.output import SourceTable, Writer, as_text
from demo.sources.people import People

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
# The key manifest under ISSUER_KEYS_DIR.
KEY_MANIFEST = "manifest.json"
_DRIVING_CLASSES = {"C1": 70, "C2": 15, "B2": 6, "A2": 2, "D": 4, "A1": 1, "B1": 2}

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
    """Sign every certificate row with its issuer's key, with the verification faults around it.

    A signature covers the values the loader will store (``specs``' mapping and constants,
    normalised as the loader does). The faults, ``fault_count`` of each (fewer only if a tiny city
    has too few candidates): 营业执照 吊销 after issue (the status is not signed, so the signature
    still holds: ``revoked``); 驾驶证 past their expiry date whose status the hub never moved off
    01 有效 (``expired``); 驾驶证 whose expiry date was pushed ten years on after signing (``tampered``).
    """
    rng = random_stream(seed, "zhengzhao_signatures")
    business, driving = tables["zhengzhao_yingye"].columns, tables["zhengzhao_jiashi"].columns
    today = TODAY.isoformat()

    def current(columns: dict[str, list[Any]], i: int) -> bool:
        return bool(columns["zzzt"][i] == "01" and (not columns["yxqz"][i] or columns["yxqz"][i] >= today))

    revoked = _choose(
        rng, [i for i in range(len(business["zzbh"])) if current(business, i)], len(business["zzbh"])
    )
    for i in revoked:
        business["zzzt"][i] = "03"  # 吊销 after issue: the status changes, the signed content does not
    lapsed = [i for i, ends in enumerate(driving["yxqz"]) if ends and ends < today]
    expired = _choose(rng, lapsed, len(driving["zzbh"]))
    for i in expired:
        driving["zzzt"][i] = "01"  # the hub missed the lapse; the date still tells
    valid = [
        i
        for i in range(len(driving["zzbh"]))
        if current(driving, i) and driving["yxqz"][i] and i not in expired
    ]
    tampered = _choose(rng, valid, len(driving["zzbh"]))

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
        driving["yxqz"][i] = add_years(date.fromisoformat(driving["yxqz"][i]), 10).isoformat()

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
