"""Great Expectations suites, run for real in a file-backed project under tmp_path."""

import logging
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from quality import suites

ROOT = Path(__file__).resolve().parents[2]


def population(rows: int = 3) -> pd.DataFrame:
    """A clean population frame."""
    ids = ["11010519491231002X", "110101199003074514", "350102198001010038", "350102200002290019"]
    return pd.DataFrame(
        {
            "population.id_number": ids[:rows],
            "population.name": ["张三", "李四", "王五", "赵六"][:rows],
            "population.gender": ["2", "1", "1", "1"][:rows],
            "population.ethnicity": ["01", "03", "97", "56"][:rows],
            "population.birth_date": ["1949-12-31", "1990-03-07", None, "2000-02-29"][:rows],
        }
    )


def test_clean_frame_succeeds(tmp_path):
    result = suites.run_suite("population", population(), run_name="clean", project_dir=tmp_path)

    assert (result.success, result.unsuccessful, result.evaluated) == (True, 0, 6)


def test_duplicate_key_and_unknown_gender_fail(tmp_path):
    frame = population()
    frame.loc[2, "population.id_number"] = frame.loc[0, "population.id_number"]
    frame.loc[1, "population.gender"] = "男"

    result = suites.run_suite("population", frame, run_name="faulty", project_dir=tmp_path)

    assert (result.success, result.unsuccessful >= 2) == (False, True)


def test_running_a_suite_logs_nothing_below_warning_from_great_expectations(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)

    suites.run_suite("population", population(), run_name="quiet", project_dir=tmp_path)

    assert [r.getMessage() for r in caplog.records if r.name.startswith("great_expectations")] == []


def test_a_fresh_process_importing_and_running_a_suite_logs_nothing_from_great_expectations(tmp_path):
    # A report task imports GX in its own process; most of GX's INFO lines come from the import.
    script = (
        "import logging, sys\n"
        "logging.basicConfig(level=logging.DEBUG, stream=sys.stdout, format='%(name)s %(message)s')\n"
        "import pandas as pd\n"
        "from pathlib import Path\n"
        "from quality import suites\n"
        "frame = pd.DataFrame({'population.id_number': ['11010519491231002X']})\n"
        f"suites.run_suite('population', frame, run_name='fresh', project_dir=Path({str(tmp_path)!r}))\n"
    )

    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )

    assert [line for line in done.stdout.splitlines() if line.startswith("great_expectations")] == []


def test_data_docs_index_is_written(tmp_path):
    result = suites.run_suite("population", population(), run_name="docs", project_dir=tmp_path)

    assert result.docs_index is not None
    assert (result.docs_index.is_file(), result.docs_index.is_relative_to(tmp_path)) == (True, True)


def test_running_twice_with_other_columns_reuses_the_project(tmp_path):
    suites.run_suite("population", population(), run_name="first", project_dir=tmp_path)

    again = suites.run_suite(
        "population", population()[["population.id_number"]], run_name="second", project_dir=tmp_path
    )

    assert (again.success, again.evaluated) == (True, 3)


def test_libraries_share_one_project(tmp_path):
    legal_person = pd.DataFrame({"legal_person.credit_code": ["91110000600037341L", "11350100003571132M"]})

    results = [
        suites.run_suite("population", population(), run_name="a", project_dir=tmp_path),
        suites.run_suite("legal_person", legal_person, run_name="a", project_dir=tmp_path),
        suites.run_suite("population", population(), run_name="b", project_dir=tmp_path),
    ]

    assert [r.success for r in results] == [True, True, True]


def test_unknown_library_is_refused(tmp_path):
    with pytest.raises(ValueError, match="weather"):
        suites.run_suite("weather", population(), run_name="x", project_dir=tmp_path)


def expectation_types(library, columns):
    return [
        (type(e).__name__, getattr(e, "column", None))
        for e in suites.build_suite(library, columns).expectations
    ]


def test_suite_covers_only_the_columns_present():
    assert expectation_types("population", ["population.id_number", "population.gender"]) == [
        ("ExpectColumnValuesToNotBeNull", "population.id_number"),
        ("ExpectColumnValuesToBeUnique", "population.id_number"),
        ("ExpectColumnValuesToMatchRegex", "population.id_number"),
        ("ExpectColumnValuesToBeInSet", "population.gender"),
    ]


def test_legal_person_key_is_the_credit_code_whatever_the_type():
    assert suites.key_columns("legal_person", ["legal_person.name", "legal_person.credit_code"]) == (
        "legal_person.credit_code",
    )


@pytest.mark.parametrize(
    ("library", "columns", "key"),
    [
        (
            "certificate",
            ["certificate.type_code", "certificate.number"],
            ("certificate.type_code", "certificate.number"),
        ),
        ("certificate", ["certificate.number"], ("certificate.number",)),
        (
            "credit",
            ["credit.subject_code", "credit.decision_doc_no"],
            ("credit.subject_code", "credit.decision_doc_no"),
        ),
        ("credit", ["credit.enforcement_case_no"], ("credit.enforcement_case_no",)),
        ("credit", ["credit.subject_name"], ()),
    ],
)
def test_key_columns_prefer_the_compound_key_of_the_catalog(library, columns, key):
    assert suites.key_columns(library, columns) == key


def test_compound_key_is_checked_for_uniqueness_as_a_whole(tmp_path):
    frame = pd.DataFrame(
        {
            "certificate.type_code": ["11100000000013338W001", "11100000000013338W002"],
            "certificate.number": ["0012345", "0012345"],
            "certificate.status": ["01", "02"],
        }
    )

    result = suites.run_suite("certificate", frame, run_name="compound", project_dir=tmp_path)

    assert (result.success, result.evaluated) == (True, 4)


@pytest.mark.parametrize("library", ["population", "legal_person", "certificate", "credit"])
def test_every_library_has_a_full_suite(library):
    count = len(suites.build_suite(library).expectations)

    assert 4 <= count <= 10
