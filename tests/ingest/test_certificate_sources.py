"""谁发证、谁负责: each certificate type is loaded by its issuer, who writes its certificates whole."""

import json

import pytest
from sqlalchemy import select

from catalog_schema.department import service as department_service
from catalog_schema.library.models import LibraryRecord
from ingest import flows
from ingest.registry import SourceConfigError
from tests import sources

COLUMNS = {"zzbh": "certificate.number", "czztmc": "certificate.holder_name", "zzzt": "certificate.status"}


def _spec(tmp_path, *, department, type_code):
    row = {"zzbh": "N-0001", "czztmc": "榕城测试有限公司", "zzzt": "01"}
    constants = {"certificate.type_code": type_code} if type_code else {}
    return sources.spec(
        f"test_zhengzhao_{department}",
        sources.write_csv(tmp_path / "zz.csv", [row]),
        department=department,
        library="certificate",
        columns=COLUMNS,
        key=["certificate.type_code", "certificate.number"] if type_code else ["certificate.number"],
        constants=constants,
    )


def _ingest(spec, session_factory, tmp_path):
    return flows.ingest(spec, session_factory=session_factory, sources_dir=tmp_path, run_id="test")


def test_the_issuer_loads_its_certificates_whole(db, session_factory, tmp_path):
    shichang = department_service.get_by_ref(db=db, ref="shichang")

    summary = _ingest(
        _spec(tmp_path, department="shichang", type_code=shichang.credit_code + "001"),
        session_factory,
        tmp_path,
    )

    record = db.scalar(select(LibraryRecord).where(LibraryRecord.batch_id == summary.batch_id))
    assert summary.inserted == 1 and record.department_id == shichang.id
    assert {"certificate.status", "~sealed"} <= set(json.loads(record.values))  # the holder's name sealed


def test_a_department_loading_another_issuers_type_is_refused(db, session_factory, tmp_path):
    gongan = department_service.get_by_ref(db=db, ref="gongan")

    with pytest.raises(SourceConfigError) as refused:
        _ingest(
            _spec(tmp_path, department="shichang", type_code=gongan.credit_code + "001"),
            session_factory,
            tmp_path,
        )

    assert "谁发证、谁负责" in refused.value.message


def test_a_certificate_source_must_name_its_type(session_factory, tmp_path):
    with pytest.raises(SourceConfigError) as refused:
        _ingest(_spec(tmp_path, department="shichang", type_code=None), session_factory, tmp_path)

    assert "certificate.type_code" in refused.value.message
