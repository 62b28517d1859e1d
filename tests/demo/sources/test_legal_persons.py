"""The legal-person library's sources: 市场监管 企业登记, 编办 事业单位, 民政 社会组织."""

import pytest
from stdnum.cn import uscc

from demo.sources.organisations import USCC_EFFECTIVE
from quality import gb11714
from tests.demo.generated import Demo, faulty_rows, injected, is_county, read


def test_enterprise_register_checksum_faults_were_registered_under_gb32100(demo: Demo) -> None:
    out, manifest = demo
    rows = read(out, manifest, "shichang_qiye")

    for fault in injected(manifest, "shichang_qiye", "uscc_checksum"):
        row = rows[fault.row - 1]
        assert row["tyshxydm"] == fault.key and not uscc.is_valid(fault.key)
        assert uscc.calc_check_digit(fault.key) != fault.key[17]
        assert row["clrq"] >= USCC_EFFECTIVE.isoformat()


def test_enterprise_register_authority_faults_are_valid_codes_of_another_registering_authority(
    demo: Demo,
) -> None:
    out, manifest = demo
    rows = read(out, manifest, "shichang_qiye")

    for fault in injected(manifest, "shichang_qiye", "uscc_authority"):
        code = rows[fault.row - 1]["tyshxydm"]
        assert uscc.is_valid(code) and code[0] != "9"


def test_enterprise_register_pilot_faults_fail_the_checksum_but_have_a_valid_shape(demo: Demo) -> None:
    out, manifest = demo
    rows = read(out, manifest, "shichang_qiye")

    for fault in injected(manifest, "shichang_qiye", "uscc_pilot"):
        row = rows[fault.row - 1]
        code = row["tyshxydm"]
        assert not uscc.is_valid(code)
        assert code[0] == "9" and code[1] in "123" and is_county(code[2:8])
        assert all(c in "0123456789ABCDEFGHJKLMNPQRTUWXY" for c in code)
        assert gb11714.calc_check_digit(code[8:16]) == code[16]
        assert row["clrq"] < USCC_EFFECTIVE.isoformat()


def test_enterprise_register_duplicate_repeats_an_earlier_clean_enterprise(demo: Demo) -> None:
    out, manifest = demo
    rows = read(out, manifest, "shichang_qiye")
    faulty = faulty_rows(manifest, "shichang_qiye")

    for fault in injected(manifest, "shichang_qiye", "duplicate_key"):
        first = next(i for i, r in enumerate(rows, start=1) if r["tyshxydm"] == fault.key)
        assert first < fault.row and first not in faulty
        assert uscc.is_valid(fault.key)


@pytest.mark.parametrize(
    ("name", "column", "prefixes"),
    [
        ("shichang_qiye", "tyshxydm", ("91",)),
        ("bianban_shiye", "tyshxydm", ("12",)),
        ("minzheng_shehui", "tyshxydm", ("51", "52", "53")),
    ],
)
def test_clean_credit_codes_are_valid_with_a_valid_organisation_code(
    demo: Demo, name: str, column: str, prefixes: tuple[str, ...]
) -> None:
    out, manifest = demo
    faulty = faulty_rows(manifest, name)

    codes = [r[column] for i, r in enumerate(read(out, manifest, name), start=1) if i not in faulty]

    assert all(uscc.is_valid(c) and c.startswith(prefixes) for c in codes)
    assert all(gb11714.calc_check_digit(c[8:16]) == c[16] for c in codes)


def test_public_institutions_required_faults_have_an_empty_name(demo: Demo) -> None:
    out, manifest = demo
    rows = read(out, manifest, "bianban_shiye")

    for fault in injected(manifest, "bianban_shiye", "required_missing"):
        assert rows[fault.row - 1]["tyshxydm"] == fault.key and rows[fault.row - 1]["dwmc"] == ""


def test_social_organisations_file_ends_in_the_middle_of_its_last_record(demo: Demo) -> None:
    out, manifest = demo
    text = (out / "minzheng/shehui_zuzhi.csv").read_text(encoding="utf-8")
    (fault,) = manifest.faults_of("minzheng_shehui")

    last = text.split("\n")[-1]

    assert not text.endswith("\n")
    assert fault.row == manifest.sources["minzheng_shehui"].rows == len(text.split("\n")) - 1
    assert last.split(",")[0] == fault.key and len(last.split(",")) < len(text.split("\n")[0].split(","))
