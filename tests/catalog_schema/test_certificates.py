"""电子证照 verification: issuer keys, the canonical content, each verdict, the demo's signed certificates.

Certificates are written the way the storage contract says the loader writes them (blind-index
subject key, sensitive elements sealed under that key), signed with real Ed25519 keys.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from api.cli import app
from catalog_schema import migrate
from catalog_schema.certificate import service as certificate_service
from catalog_schema.certificate import signing
from catalog_schema.certificate.models import IssuerKey
from catalog_schema.certificate.schemas import Verdict
from catalog_schema.database import get_engine, get_sessionmaker, utcnow
from catalog_schema.department import service as department_service
from catalog_schema.errors import Conflict, GovdxError, InvalidInput, NotFound
from catalog_schema.keys.service import Keyring
from catalog_schema.library import subjects
from catalog_schema.library.models import IngestBatch, LibraryRecord
from connectors import open_connector
from connectors.base import ROW_COLUMN, Window
from connectors.config import load_sources
from demo import catalog as demo_catalog
from demo import sources as demo_sources
from demo.sources import certificates as demo_certificates
from demo.sources.manifest import Manifest
from ingest import flows
from quality import rules
from tests import factories

runner = CliRunner()

TODAY = date(2026, 11, 20)
SHICHANG_TYPE = "11350100003576486C001"  # 营业执照, issued by 市场监管 (11350100003576486C)
TYPE, NUMBER = "certificate.type_code", "certificate.number"
STATUS, SIGNATURE = "certificate.status", "certificate.signature"
HOLDER_CODE, HOLDER_NAME = "certificate.holder_code", "certificate.holder_name"


@dataclass
class Issuer:
    key_id: str
    private: Ed25519PrivateKey

    def sign(self, values: dict[str, str | None]) -> dict[str, str | None]:
        return {**values, SIGNATURE: signing.sign(self.private, self.key_id, values)}


def register_issuer(db: Session, department: str, key_id: str) -> Issuer:
    private = Ed25519PrivateKey.generate()
    pem = signing.public_pem(private.public_key())
    certificate_service.register_key(
        db=db, department=department, key_id=key_id, public_key_pem=pem, user=None
    )
    return Issuer(key_id, private)


@pytest.fixture
def shichang(db: Session) -> Issuer:
    return register_issuer(db, "shichang", "shichang-2026")


def licence(**overrides: str | None) -> dict[str, str | None]:
    """A 营业执照 as the library holds it, unsigned."""
    values: dict[str, str | None] = {
        TYPE: SHICHANG_TYPE,
        NUMBER: "91350100MA2XK7Q35U",
        HOLDER_CODE: "91350100MA2XK7Q35U",
        HOLDER_NAME: "榕城兴锦水产有限责任公司",
        "certificate.issuer": "榕城市市场监督管理局",
        "certificate.issue_date": "2020-05-20",
        "certificate.expiry_date": "2040-05-19",
        STATUS: "01",
    }
    values.update(overrides)
    return values


def store(
    db: Session, keyring: Keyring, values: dict[str, str | None], *, department: str = "shujuju"
) -> LibraryRecord:
    """Write one department's current row of a certificate as the storage contract says."""
    parts = subjects.canonical((TYPE, NUMBER), (values[TYPE] or "", values[NUMBER] or ""))
    record: LibraryRecord = factories.library_record(
        db, "certificate", list(parts), values, department=department, keyring=keyring
    )
    return record


def verify(db: Session, keyring: Keyring, values: dict[str, Any], today: date = TODAY) -> Any:
    return certificate_service.verify(
        db=db, keyring=keyring, type_code=values[TYPE], number=values[NUMBER], today=today
    )


# ----------------------------------------------------------------------------- canonical content


def test_canonical_content_is_sorted_compact_utf8_json_without_status_signature_or_nulls() -> None:
    content = signing.canonical_content(
        {"b": "榕城", "a": "1", STATUS: "01", SIGNATURE: "k:sig", "certificate.expiry_date": None}
    )

    assert content == '{"a":"1","b":"榕城"}'.encode()


def test_signature_is_key_id_colon_base64_of_64_bytes() -> None:
    value = signing.sign(Ed25519PrivateKey.generate(), "k1", {"a": "1"})

    key_id, signature = signing.parse(value) or ("", b"")

    assert key_id == "k1" and len(signature) == 64 and value.startswith("k1:")


# ----------------------------------------------------------------------------- verdicts


def test_signed_current_certificate_is_valid(db: Session, keyring: Keyring, shichang: Issuer) -> None:
    values = shichang.sign(licence())
    store(db, keyring, values)

    verdict = verify(db, keyring, values)

    assert (verdict.verdict, verdict.reason, verdict.key_id) == (Verdict.valid, None, "shichang-2026")
    assert verdict.issuer is not None and verdict.issuer.department == "shichang"


def test_certificate_expiring_today_is_still_valid(db: Session, keyring: Keyring, shichang: Issuer) -> None:
    values = shichang.sign(licence(**{"certificate.expiry_date": TODAY.isoformat()}))
    store(db, keyring, values)

    assert verify(db, keyring, values).verdict is Verdict.valid


def test_certificate_without_expiry_date_does_not_expire(
    db: Session, keyring: Keyring, shichang: Issuer
) -> None:
    values = shichang.sign(licence(**{"certificate.expiry_date": None}))
    store(db, keyring, values)

    assert verify(db, keyring, values, today=date(2099, 1, 1)).verdict is Verdict.valid


@pytest.mark.parametrize("status", ["02", "03", "05", "吊销"])
def test_revoked_status_gives_revoked_and_the_signature_still_holds(
    db: Session, keyring: Keyring, shichang: Issuer, status: str
) -> None:
    values = shichang.sign(licence())
    store(db, keyring, {**values, STATUS: status})  # revoked after signing: the status is not signed

    verdict = verify(db, keyring, values)

    assert (verdict.verdict, verdict.reason, verdict.status) == (Verdict.revoked, "status_revoked", status)


def test_unrecognised_status_is_not_called_valid(db: Session, keyring: Keyring, shichang: Issuer) -> None:
    values = shichang.sign(licence(**{STATUS: "99"}))
    store(db, keyring, values)

    verdict = verify(db, keyring, values)

    assert (verdict.verdict, verdict.reason) == (Verdict.revoked, "status_unrecognised")


def test_expiry_before_today_gives_expired(db: Session, keyring: Keyring, shichang: Issuer) -> None:
    values = shichang.sign(licence(**{"certificate.expiry_date": "2026-11-19"}))
    store(db, keyring, values)

    verdict = verify(db, keyring, values)

    assert (verdict.verdict, verdict.reason, verdict.expiry_date) == (
        Verdict.expired,
        "expiry_passed",
        "2026-11-19",
    )


def test_expired_status_gives_expired_whatever_the_date(
    db: Session, keyring: Keyring, shichang: Issuer
) -> None:
    values = shichang.sign(licence(**{STATUS: "04"}))
    store(db, keyring, values)

    verdict = verify(db, keyring, values)

    assert (verdict.verdict, verdict.reason) == (Verdict.expired, "status_expired")


def test_revoked_wins_over_expired(db: Session, keyring: Keyring, shichang: Issuer) -> None:
    values = shichang.sign(licence(**{"certificate.expiry_date": "2020-06-01", STATUS: "02"}))
    store(db, keyring, values)

    assert verify(db, keyring, values).verdict is Verdict.revoked


def test_value_changed_after_signing_is_tampered(db: Session, keyring: Keyring, shichang: Issuer) -> None:
    values = shichang.sign(licence())
    store(db, keyring, {**values, HOLDER_NAME: "榕城兴锦海产有限责任公司"})

    verdict = verify(db, keyring, values)

    assert (verdict.verdict, verdict.reason) == (Verdict.tampered, "signature_invalid")
    assert verdict.status is None and verdict.expiry_date is None  # a forged record says nothing reliable


def test_expiry_pushed_later_after_signing_is_tampered(
    db: Session, keyring: Keyring, shichang: Issuer
) -> None:
    values = shichang.sign(licence(**{"certificate.expiry_date": "2025-01-01"}))
    store(db, keyring, {**values, "certificate.expiry_date": "2035-01-01"})

    assert verify(db, keyring, values).reason == "signature_invalid"


def test_tampered_wins_over_revoked(db: Session, keyring: Keyring, shichang: Issuer) -> None:
    values = shichang.sign(licence())
    store(db, keyring, {**values, HOLDER_NAME: "别的公司", STATUS: "03"})

    assert verify(db, keyring, values).verdict is Verdict.tampered


def test_signature_by_another_departments_key_is_tampered(db: Session, keyring: Keyring) -> None:
    minzheng = register_issuer(db, "minzheng", "minzheng-2026")
    values = minzheng.sign(licence())  # a 民政 key signing a 市场监管 licence type
    store(db, keyring, values)

    verdict = verify(db, keyring, values)

    assert (verdict.verdict, verdict.reason, verdict.key_id) == (
        Verdict.tampered,
        "wrong_issuer",
        "minzheng-2026",
    )
    assert verdict.issuer is not None and verdict.issuer.department == "shichang"


def test_certificate_without_signature_is_tampered(db: Session, keyring: Keyring) -> None:
    values = licence()
    store(db, keyring, values)

    verdict = verify(db, keyring, values)

    assert (verdict.verdict, verdict.reason, verdict.key_id) == (Verdict.tampered, "signature_missing", None)


@pytest.mark.parametrize(
    "signature", ["no-colon-at-all", "shichang-2026:not base64!", "shichang-2026:" + "QUJD" * 4, ":QUJD"]
)
def test_malformed_signature_is_tampered(db: Session, keyring: Keyring, signature: str) -> None:
    values = {**licence(), SIGNATURE: signature}
    store(db, keyring, values)

    assert verify(db, keyring, values).reason == "signature_malformed"


def test_signature_by_an_unregistered_key_is_tampered(db: Session, keyring: Keyring) -> None:
    values = Issuer("shichang-unregistered", Ed25519PrivateKey.generate()).sign(licence())
    store(db, keyring, values)

    verdict = verify(db, keyring, values)

    assert (verdict.verdict, verdict.reason) == (Verdict.tampered, "unknown_key")


def test_signature_by_a_key_revoked_before_issue_is_tampered(
    db: Session, keyring: Keyring, shichang: Issuer
) -> None:
    certificate_service.revoke_key(db=db, key_id=shichang.key_id, at=datetime(2020, 1, 1, tzinfo=UTC))
    values = shichang.sign(licence(**{"certificate.issue_date": "2020-05-20"}))
    store(db, keyring, values)

    assert verify(db, keyring, values).reason == "key_revoked"


def test_certificate_issued_before_its_key_was_revoked_still_verifies(
    db: Session, keyring: Keyring, shichang: Issuer
) -> None:
    certificate_service.revoke_key(db=db, key_id=shichang.key_id, at=datetime(2024, 1, 1, tzinfo=UTC))
    values = shichang.sign(licence(**{"certificate.issue_date": "2020-05-20"}))
    store(db, keyring, values)

    assert verify(db, keyring, values).verdict is Verdict.valid


def test_ciphertext_altered_at_rest_is_tampered(db: Session, keyring: Keyring, shichang: Issuer) -> None:
    values = shichang.sign(licence())
    record = store(db, keyring, values)
    stored = json.loads(record.values)
    token = stored["~sealed"]
    stored["~sealed"] = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    db.execute(update(LibraryRecord).where(LibraryRecord.id == record.id).values(values=json.dumps(stored)))

    verdict = verify(db, keyring, values)

    assert (verdict.verdict, verdict.reason) == (Verdict.tampered, "record_unreadable")


def test_unknown_certificate_is_not_found(db: Session, keyring: Keyring, shichang: Issuer) -> None:
    store(db, keyring, shichang.sign(licence()))

    verdict = verify(db, keyring, licence(**{NUMBER: "91350100MA00000000"}))

    assert (verdict.verdict, verdict.reason, verdict.key_id) == (Verdict.not_found, None, None)


def test_a_closed_version_is_not_the_certificate(db: Session, keyring: Keyring, shichang: Issuer) -> None:
    values = shichang.sign(licence())
    record = store(db, keyring, values)
    db.execute(update(LibraryRecord).where(LibraryRecord.id == record.id).values(valid_to=utcnow()))

    assert verify(db, keyring, values).verdict is Verdict.not_found


def test_values_of_several_departments_are_merged_before_checking(
    db: Session, keyring: Keyring, shichang: Issuer
) -> None:
    values = shichang.sign(licence(**{"certificate.road_transport_permit_no": "闽交运管许可榕字350100001"}))
    common = {k: v for k, v in values.items() if k != "certificate.road_transport_permit_no"}
    store(db, keyring, common, department="shujuju")
    store(
        db,
        keyring,
        {
            TYPE: values[TYPE],
            NUMBER: values[NUMBER],
            "certificate.road_transport_permit_no": "闽交运管许可榕字350100001",
        },
        department="jiaotong",
    )

    assert verify(db, keyring, values).verdict is Verdict.valid


def test_verdict_carries_no_holder_data(db: Session, keyring: Keyring, shichang: Issuer) -> None:
    values = shichang.sign(licence(**{NUMBER: "ZZ-0001", HOLDER_CODE: "350102199001011234"}))
    store(db, keyring, values)

    answer = verify(db, keyring, values).model_dump_json()

    assert all(str(values[k]) not in answer for k in (NUMBER, HOLDER_CODE, HOLDER_NAME))


# ----------------------------------------------------------------------------- issuer keys


def test_register_key_stores_the_public_key_under_its_department(db: Session) -> None:
    private = Ed25519PrivateKey.generate()

    key = certificate_service.register_key(
        db=db,
        department="11350100003576486C",  # by credit code
        key_id="shichang-a",
        public_key_pem=signing.public_pem(private.public_key()),
        user=None,
    )

    assert (key.department.slug, key.algorithm, key.revoked_at) == ("shichang", "Ed25519", None)
    assert key.public_key == signing.public_pem(private.public_key())


def _refusal(db: Session, pem: str, key_id: str = "shichang-b") -> GovdxError:
    with pytest.raises(GovdxError) as caught:
        certificate_service.register_key(
            db=db, department="shichang", key_id=key_id, public_key_pem=pem, user=None
        )
    assert db.scalar(select(func.count()).select_from(IssuerKey).where(IssuerKey.key_id == key_id)) == 0
    return caught.value


def test_register_key_refuses_text_that_is_not_pem(db: Session) -> None:
    error = _refusal(db, "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n")

    assert (type(error), error.status, error.code) == (InvalidInput, 422, "public_key_invalid")


def test_register_key_refuses_a_private_key(db: Session) -> None:
    pem = (
        Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )

    error = _refusal(db, pem)

    assert (error.status, error.code) == (422, "public_key_invalid") and "私钥" in error.message


@pytest.mark.parametrize(
    "private",
    [rsa.generate_private_key(65537, 2048), ec.generate_private_key(ec.SECP256R1())],
    ids=["rsa", "ec"],
)
def test_register_key_refuses_a_key_that_is_not_ed25519(db: Session, private: Any) -> None:
    pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )

    error = _refusal(db, pem)

    assert (error.status, error.code) == (422, "public_key_not_ed25519")


def test_register_key_refuses_a_key_id_with_a_colon(db: Session) -> None:
    error = _refusal(db, signing.public_pem(Ed25519PrivateKey.generate().public_key()), key_id="shichang:1")

    assert (error.status, error.code) == (422, "key_id_invalid")


def test_register_key_refuses_an_unknown_department(db: Session) -> None:
    with pytest.raises(NotFound) as caught:
        certificate_service.register_key(
            db=db,
            department="nosuchdept",
            key_id="x-1",
            public_key_pem=signing.public_pem(Ed25519PrivateKey.generate().public_key()),
            user=None,
        )

    assert caught.value.code == "department_not_found"


def test_register_key_refuses_a_duplicate_key_id_and_keeps_the_first_key(
    db: Session, shichang: Issuer
) -> None:
    first = certificate_service.get_key(db=db, key_id=shichang.key_id).public_key
    other = signing.public_pem(Ed25519PrivateKey.generate().public_key())

    with pytest.raises(Conflict) as caught:
        certificate_service.register_key(
            db=db, department="shichang", key_id=shichang.key_id, public_key_pem=other, user=None
        )

    assert (caught.value.status, caught.value.code) == (409, "issuer_key_exists")
    assert certificate_service.get_key(db=db, key_id=shichang.key_id).public_key == first


def test_register_key_refuses_a_public_key_already_registered_for_another_department(
    db: Session, shichang: Issuer
) -> None:
    pem = signing.public_pem(shichang.private.public_key())

    with pytest.raises(Conflict) as caught:
        certificate_service.register_key(
            db=db, department="gongan", key_id="gongan-x", public_key_pem=pem, user=None
        )

    assert (caught.value.status, caught.value.code) == (409, "public_key_exists")
    assert db.scalar(select(func.count()).select_from(IssuerKey).where(IssuerKey.key_id == "gongan-x")) == 0


def test_revoking_a_key_twice_is_refused(db: Session, shichang: Issuer) -> None:
    certificate_service.revoke_key(db=db, key_id=shichang.key_id)

    with pytest.raises(Conflict) as caught:
        certificate_service.revoke_key(db=db, key_id=shichang.key_id)

    assert caught.value.code == "issuer_key_revoked"


# ----------------------------------------------------------------------------- the demo's certificates

SEED = 11


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    out = tmp_path_factory.mktemp("demo-certificates")
    return out, demo_sources.generate(out, people=300, orgs=90, seed=SEED)


def test_import_keys_registers_the_demo_issuers_once(db: Session, demo: tuple[Path, Manifest]) -> None:
    out, _ = demo
    manifest = out / demo_certificates.ISSUER_KEYS_DIR / "manifest.json"

    first = certificate_service.import_keys(db=db, manifest=manifest, user=None)
    again = certificate_service.import_keys(db=db, manifest=manifest, user=None)

    issuers = sorted(set(demo_certificates.CERTIFICATE_ISSUERS.values()))
    assert issuers == ["gongan", "jiaotong", "minzheng", "renshe", "shichang", "weijian", "ziran"]
    assert sorted(k.department.slug for k, new in first if new) == issuers
    assert [new for _, new in again] == [False] * len(issuers)
    assert db.scalar(select(func.count()).select_from(IssuerKey)) == len(issuers)


def test_demo_issuer_keys_derive_from_the_seed(demo: tuple[Path, Manifest]) -> None:
    out, _ = demo
    listed = json.loads(
        (out / demo_certificates.ISSUER_KEYS_DIR / "manifest.json").read_text(encoding="utf-8")
    )

    for entry in listed["keys"]:
        key_id, private = demo_certificates.issuer_key(SEED, entry["department"])
        pem = (out / demo_certificates.ISSUER_KEYS_DIR / entry["public_key"]).read_text(encoding="ascii")
        assert (entry["key_id"], pem) == (key_id, signing.public_pem(private.public_key()))


def test_demo_certificate_types_begin_with_their_issuers_credit_codes(db: Session) -> None:
    for name, department in demo_certificates.CERTIFICATE_ISSUERS.items():
        dept = department_service.get_by_ref(db=db, ref=department)
        assert demo_certificates.CERTIFICATE_TYPES[name][0][:18] == dept.credit_code


def _as_loaded(out: Path, name: str) -> Iterator[tuple[int, dict[str, str | None]]]:
    """Each row of a demo certificate source as the loader holds it: read, normalised, constants added."""
    spec = load_sources(demo_sources.SOURCES_FILE).get(name)
    for chunk in open_connector(spec, sources_dir=out).read(Window(None)):
        raw = chunk.to_pandas(types_mapper=pd.ArrowDtype).astype("string")
        frame = rules.normalise(raw[list(spec.columns)].rename(columns=spec.columns))
        records = frame.astype(object).where(frame.notna(), None).to_dict("records")
        for row, values in zip(chunk.column(ROW_COLUMN).to_pylist(), records, strict=True):
            yield int(row), {**values, **spec.constants}


def _checks(out: Path, name: str) -> dict[int, tuple[bool, dict[str, str | None]]]:
    keys = {
        e["key_id"]: (out / demo_certificates.ISSUER_KEYS_DIR / e["public_key"]).read_text(encoding="ascii")
        for e in json.loads(
            (out / demo_certificates.ISSUER_KEYS_DIR / "manifest.json").read_text(encoding="utf-8")
        )["keys"]
    }
    checked = {}
    for row, values in _as_loaded(out, name):
        key_id, signature = signing.parse(values[SIGNATURE] or "") or ("", b"")
        checked[row] = (signing.check(keys[key_id], signature, values), values)
    return checked


@pytest.mark.parametrize("name", list(demo_certificates.CERTIFICATE_TYPES))
def test_demo_signatures_hold_over_what_the_loader_reads_except_the_tampered(
    demo: tuple[Path, Manifest], name: str
) -> None:
    out, manifest = demo
    tampered = {f.row for f in manifest.faults_of(name, "certificate_tampered")}

    checked = _checks(out, name)

    assert {row for row, (ok, _) in checked.items() if not ok} == tampered


def test_demo_injects_each_certificate_fault_with_its_outcome(
    demo: tuple[Path, Manifest],
) -> None:
    _, manifest = demo

    injected = {(f.source, f.fault, f.expected) for f in manifest.faults if f.source.startswith("zhengzhao_")}

    assert injected == {
        ("zhengzhao_yingye", "certificate_revoked", "verdict:revoked"),
        ("zhengzhao_jiashi", "certificate_expired", "verdict:expired"),
        ("zhengzhao_jiashi", "certificate_tampered", "verdict:tampered"),
        ("zhengzhao_lihun", "required_missing", "quarantined:required_missing"),
        ("zhengzhao_lihun", "certificate_tampered", "verdict:tampered"),
        ("zhengzhao_xingshi", "certificate_expired", "verdict:expired"),
        ("zhengzhao_xingshi", "subject_code_invalid", "quarantined:subject_code_invalid"),
        ("zhengzhao_chusheng", "required_missing", "quarantined:required_missing"),
        ("zhengzhao_chusheng", "certificate_tampered", "verdict:tampered"),
        ("zhengzhao_shebaoka", "certificate_revoked", "verdict:revoked"),
        ("zhengzhao_shebaoka", "certificate_tampered", "verdict:tampered"),
        ("zhengzhao_daoyun", "certificate_revoked", "verdict:revoked"),
        ("zhengzhao_daoyun", "certificate_expired", "verdict:expired"),
    }


def test_demo_revoked_and_expired_faults_verify_and_say_so(demo: tuple[Path, Manifest]) -> None:
    out, manifest = demo
    checks = {name: _checks(out, name) for name in demo_certificates.CERTIFICATE_TYPES}

    revoked = [checks[f.source][f.row] for f in manifest.faults if f.fault == "certificate_revoked"]
    expired = [checks[f.source][f.row] for f in manifest.faults if f.fault == "certificate_expired"]

    assert revoked and all(ok and v[STATUS] in {"02", "03"} for ok, v in revoked)
    assert expired and all(
        ok and v[STATUS] == "01" and (v["certificate.expiry_date"] or "") < TODAY.isoformat()
        for ok, v in expired
    )


@pytest.fixture
def loaded_demo(session_factory: sessionmaker[Session], demo: tuple[Path, Manifest]) -> Manifest:
    """The demo's certificate sources loaded by the pipelines' loader, and the issuers' keys registered."""
    out, manifest = demo
    specs = load_sources(demo_sources.SOURCES_FILE)
    for name in demo_certificates.CERTIFICATE_TYPES:
        flows.ingest(specs.get(name), session_factory=session_factory, sources_dir=out, run_id="test")
    with session_factory() as db:
        certificate_service.import_keys(
            db=db, manifest=out / demo_certificates.ISSUER_KEYS_DIR / "manifest.json", user=None
        )
        db.commit()
    return manifest


def test_demo_certificate_faults_get_their_verdicts_once_loaded(
    db: Session, keyring: Keyring, loaded_demo: Manifest
) -> None:
    faults = [f for f in loaded_demo.faults if f.expected.startswith("verdict:")]

    verdicts = {
        f.key: certificate_service.verify(
            db=db, keyring=keyring, type_code=f.key.split(":")[0], number=f.key.split(":", 1)[1], today=TODAY
        ).verdict.value
        for f in faults
    }

    assert verdicts == {f.key: f.expected.removeprefix("verdict:") for f in faults}


def test_demo_certificates_loaded_untouched_and_current_are_valid(
    db: Session,
    keyring: Keyring,
    loaded_demo: Manifest,
    demo: tuple[Path, Manifest],
) -> None:
    out, _ = demo
    faulty = {(f.source, f.row) for f in loaded_demo.faults}
    current = [
        (values[TYPE], values[NUMBER])
        for name in demo_certificates.CERTIFICATE_TYPES
        for row, values in _as_loaded(out, name)
        if (name, row) not in faulty
        and values[STATUS] == "01"
        and (values.get("certificate.expiry_date") or "9999") >= TODAY.isoformat()
    ]

    verdicts = {
        certificate_service.verify(
            db=db, keyring=keyring, type_code=str(t), number=str(n), today=TODAY
        ).verdict
        for t, n in current
    }

    assert current and verdicts == {Verdict.valid}


def _verdict_of(values: dict[str, str | None], fault: str | None) -> str:
    """The verdict a loaded demo certificate must get: its fault's, else what its status and expiry say."""
    if fault is not None:
        return fault.removeprefix("verdict:")
    if values[STATUS] in {"02", "03", "05"}:
        return "revoked"
    if values[STATUS] == "04" or (values.get("certificate.expiry_date") or "9999") < TODAY.isoformat():
        return "expired"
    return "valid"


@pytest.mark.parametrize("name", list(demo_certificates.CERTIFICATE_TYPES))
def test_each_demo_type_loads_from_its_issuer_and_verifies_with_the_issuers_key(
    db: Session,
    keyring: Keyring,
    session_factory: sessionmaker[Session],
    demo: tuple[Path, Manifest],
    name: str,
) -> None:
    out, manifest = demo
    issuer = demo_certificates.CERTIFICATE_ISSUERS[name]
    faults = {f.row: f.expected for f in manifest.faults_of(name)}
    summary = flows.ingest(
        load_sources(demo_sources.SOURCES_FILE).get(name),
        session_factory=session_factory,
        sources_dir=out,
        run_id="test",
    )
    with session_factory() as session:
        certificate_service.import_keys(
            db=session, manifest=out / demo_certificates.ISSUER_KEYS_DIR / "manifest.json", user=None
        )
        session.commit()
    loaded = {
        row: values
        for row, values in _as_loaded(out, name)
        if not faults.get(row, "").startswith("quarantined:")
    }

    verdicts = {
        row: certificate_service.verify(
            db=db, keyring=keyring, type_code=str(values[TYPE]), number=str(values[NUMBER]), today=TODAY
        )
        for row, values in loaded.items()
    }

    batch = db.get(IngestBatch, summary.batch_id)
    assert batch is not None and batch.department.slug == issuer
    assert (summary.rows_read, summary.inserted, summary.quarantined) == (
        manifest.sources[name].rows,
        len(loaded),
        manifest.sources[name].rows - len(loaded),
    )
    assert {v.issuer.department if v.issuer else None for v in verdicts.values()} == {issuer}
    assert {str(v.key_id).split("-demo-")[0] for v in verdicts.values()} == {issuer}
    assert {row: v.verdict.value for row, v in verdicts.items()} == {
        row: _verdict_of(values, faults.get(row)) for row, values in loaded.items()
    }


# ----------------------------------------------------------------------------- command line


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """A migrated SQLite database with the demo catalog, named by GOVDX_DATABASE_URL for the CLI."""
    monkeypatch.setenv("GOVDX_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite'}")
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()
    engine = get_engine()
    migrate.upgrade(engine)
    with Session(engine) as session:
        demo_catalog.seed(session)
        session.commit()
    yield engine
    engine.dispose()
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()


def _pem_file(tmp_path: Path, private: Ed25519PrivateKey) -> Path:
    path = tmp_path / "issuer.pem"
    path.write_text(signing.public_pem(private.public_key()), encoding="ascii")
    return path


def test_add_key_command_registers_and_keys_lists_it(cli_db: Engine, tmp_path: Path) -> None:
    pem = _pem_file(tmp_path, Ed25519PrivateKey.generate())
    args = ["certificate", "add-key", "--department", "shichang", "--key-id", "shichang-cli"]

    added = runner.invoke(app, [*args, "--public-key", str(pem)])
    listed = runner.invoke(app, ["certificate", "keys"])

    assert added.exit_code == 0, added.output
    assert listed.exit_code == 0 and "shichang-cli" in listed.output


def test_add_key_command_refuses_a_duplicate_key_id_with_exit_2(cli_db: Engine, tmp_path: Path) -> None:
    pem = _pem_file(tmp_path, Ed25519PrivateKey.generate())
    args = [
        "certificate",
        "add-key",
        "--department",
        "shichang",
        "--key-id",
        "shichang-cli",
        "--public-key",
        str(pem),
    ]
    runner.invoke(app, args)

    again = runner.invoke(app, args)

    assert again.exit_code == 2 and "issuer_key_exists" in again.output


def test_verify_command_exits_0_for_a_valid_certificate(
    cli_db: Engine, keyring: Keyring, tmp_path: Path
) -> None:
    with Session(cli_db) as session:
        issuer = register_issuer(session, "shichang", "shichang-cli")
        values = issuer.sign(licence(**{"certificate.expiry_date": None}))
        store(session, keyring, values)
        session.commit()

    result = runner.invoke(
        app, ["certificate", "verify", "--type", SHICHANG_TYPE, "--number", str(values[NUMBER])]
    )

    assert result.exit_code == 0, result.output
    assert "valid" in result.output and "shichang-cli" in result.output


def test_verify_command_exits_1_for_an_unknown_certificate(cli_db: Engine) -> None:
    result = runner.invoke(app, ["certificate", "verify", "--type", SHICHANG_TYPE, "--number", "NOPE-1"])

    assert result.exit_code == 1 and "not_found" in result.output


def test_verify_command_refuses_a_malformed_type_code_with_exit_2(cli_db: Engine) -> None:
    result = runner.invoke(app, ["certificate", "verify", "--type", "C001", "--number", "NOPE-1"])

    assert result.exit_code == 2 and "invalid_input" in result.output
