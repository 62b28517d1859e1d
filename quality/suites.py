"""Great Expectations suites for the four base libraries (人口库, 法人库, 电子证照库, 公共信用库),
and for resource datasets (库表交换).

A frame has one column per data element code ("population.id_number", ...), values
strings or None. A suite only covers the columns a frame carries: the library key (not
null, unique), code lists (GB/T 2261.1, GB/T 2261.2, GB/T 3304), the shape of identity
numbers and credit codes (GB 11643, GB 32100) and of dates. Check characters, birth dates
and region codes are left to the vectorised validators in ``quality.gb*``, which say why a
value fails; the suite is the summary a data steward reads in Data Docs.

Dates are expected as ISO "YYYY-MM-DD", the form the pipeline writes.

A dataset's frame has one column per item; an item carrying an element is named by the element's
code, so it gets that element's expectations. Its key is the binding's query and record keys.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import great_expectations as gx
import great_expectations.expectations as gxe
import pandas as pd
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context.types.base import ProgressBarsConfig
from great_expectations.datasource.fluent import PandasDatasource

from catalog_schema.types import Library
from quality import gb2261, gb3304

# The one GX logger that sets its own level (INFO, when GX is imported) does not follow the
# package's WARNING set in quality/__init__.py.
logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)

ISO_DATE = r"^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$"
ID_NUMBER = r"^[0-9]{17}[0-9X]$"
# First character a digit or a letter registering-authority code (see quality.gb32100).
CREDIT_CODE = r"^[0-9ANY][0-9]{7}[0-9A-HJ-NP-RTUW-Y]{10}$"
# 持证主体代码 / 主体代码: a 公民身份号码 for a person, a 统一社会信用代码 otherwise.
SUBJECT_CODE = r"^(?:[0-9]{17}[0-9X]|[0-9ANY][0-9]{7}[0-9A-HJ-NP-RTUW-Y]{10})$"
# GB/T 2261.2-2003 婚姻状况代码.
MARITAL_STATUSES = ["10", "20", "21", "22", "23", "30", "40", "90"]
# 证照状态: 01 有效, 02 注销, 03 吊销, 04 过期, 05 撤销 (demo catalog, certificate.status).
CERTIFICATE_STATUSES = ["01", "02", "03", "04", "05"]

# The key of each library, most specific first; the first whose columns a frame carries is
# used. Certificates and credit records are keyed with their subject or type where the
# catalog says so: the same 证照编号 or 案号 can appear under two types or two debtors.
KEYS: dict[Library, tuple[tuple[str, ...], ...]] = {
    Library.population: (("population.id_number",),),
    Library.legal_person: (("legal_person.credit_code",),),
    Library.certificate: (("certificate.type_code", "certificate.number"), ("certificate.number",)),
    Library.credit: (
        ("credit.subject_code", "credit.decision_doc_no"),
        ("credit.decision_doc_no",),
        ("credit.subject_code", "credit.enforcement_case_no"),
        ("credit.enforcement_case_no",),
    ),
}

_SITE = "local_site"
_DATA_DOCS_ACTION = "update_data_docs"


def _value_expectations(library: Library) -> dict[str, gxe.Expectation]:
    """The per-column expectations of a library, by column."""
    regex = gxe.ExpectColumnValuesToMatchRegex
    in_set = gxe.ExpectColumnValuesToBeInSet
    expectations: dict[Library, dict[str, gxe.Expectation]] = {
        Library.population: {
            "population.id_number": regex(column="population.id_number", regex=ID_NUMBER),
            "population.gender": in_set(column="population.gender", value_set=list(gb2261.SEXES)),
            "population.ethnicity": in_set(column="population.ethnicity", value_set=list(gb3304.NAMES)),
            "population.birth_date": regex(column="population.birth_date", regex=ISO_DATE),
            "population.household_region": regex(column="population.household_region", regex=r"^[0-9]{6}$"),
            "population.marital_status": in_set(
                column="population.marital_status", value_set=MARITAL_STATUSES
            ),
        },
        Library.legal_person: {
            "legal_person.credit_code": regex(column="legal_person.credit_code", regex=CREDIT_CODE),
            "legal_person.established_date": regex(column="legal_person.established_date", regex=ISO_DATE),
        },
        Library.certificate: {
            "certificate.holder_code": regex(column="certificate.holder_code", regex=SUBJECT_CODE),
            "certificate.issue_date": regex(column="certificate.issue_date", regex=ISO_DATE),
            "certificate.expiry_date": regex(column="certificate.expiry_date", regex=ISO_DATE),
            "certificate.status": in_set(column="certificate.status", value_set=CERTIFICATE_STATUSES),
        },
        Library.credit: {
            "credit.subject_code": regex(column="credit.subject_code", regex=SUBJECT_CODE),
            "credit.decision_date": regex(column="credit.decision_date", regex=ISO_DATE),
            "credit.publicity_end_date": regex(column="credit.publicity_end_date", regex=ISO_DATE),
        },
    }
    return expectations[library]


def _library(name: str) -> Library:
    """Return the library of that name; raise ValueError naming the four if there is none."""
    for library in Library:
        if library.value == name:
            return library
    raise ValueError(f"未知的基础库 unknown library {name!r}; expected one of {Library.choices()}")


def key_columns(library: str, columns: Iterable[str]) -> tuple[str, ...]:
    """Return the key columns of the library that the given columns carry, () if none."""
    present = set(columns)
    for key in KEYS[_library(library)]:
        if present.issuperset(key):
            return key
    return ()


def build_suite(library: str, columns: Iterable[str] | None = None) -> gx.ExpectationSuite:
    """Return the library's suite over the given columns (all the suite knows if None)."""
    by_column = _value_expectations(_library(library))
    if columns is None:
        columns = [*by_column, *(c for key in KEYS[_library(library)] for c in key)]
    present = set(columns)
    key = key_columns(library, present)
    expectations: list[gxe.Expectation] = [gxe.ExpectColumnValuesToNotBeNull(column=c) for c in key]
    if len(key) == 1:
        expectations.append(gxe.ExpectColumnValuesToBeUnique(column=key[0]))
    elif key:
        expectations.append(gxe.ExpectCompoundColumnsToBeUnique(column_list=list(key)))
    expectations += [e for column, e in by_column.items() if column in present]
    return gx.ExpectationSuite(name=library, expectations=expectations)


@dataclass(frozen=True)
class SuiteResult:
    """The outcome of one suite run, and where its Data Docs are."""

    success: bool
    evaluated: int
    successful: int
    unsuccessful: int
    success_percent: float | None
    docs_index: Path | None


@contextmanager
def _locked(project_dir: Path) -> Iterator[None]:
    # Tasks for different libraries share the project: its great_expectations.yml and the
    # Data Docs index are rewritten by every run, so runs take turns.
    project_dir.mkdir(parents=True, exist_ok=True)
    with (project_dir / ".govdx.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _context(project_dir: Path) -> gx.data_context.FileDataContext:
    # There is no network: no usage statistics, and no progress bars in task logs.
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    context = gx.get_context(mode="file", project_root_dir=project_dir)
    if context.variables.analytics_enabled is not False or context.variables.progress_bars is None:
        context.variables.analytics_enabled = False
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        context.variables.save()
    return context


def _batch_definition(
    context: gx.data_context.FileDataContext, name: str
) -> gx.core.batch_definition.BatchDefinition:
    """Return the whole-dataframe batch definition of the library or dataset, creating what is missing."""
    try:
        source = context.data_sources.get(name)
    except LookupError:
        source = context.data_sources.add_pandas(name)
    if not isinstance(source, PandasDatasource):
        raise TypeError(f"GX datasource {name!r} in the project is not a pandas datasource")
    try:
        asset = source.get_asset("frame")
    except LookupError:
        asset = source.add_dataframe_asset("frame")
    try:
        return asset.get_batch_definition("whole")
    except LookupError:
        return asset.add_batch_definition_whole_dataframe("whole")


def build_dataset_suite(name: str, columns: Iterable[str], key: Sequence[str]) -> gx.ExpectationSuite:
    """A dataset's suite: its key not null and unique, each element-named column its element's checks."""
    present = set(columns)
    expectations: list[gxe.Expectation] = [gxe.ExpectColumnValuesToNotBeNull(column=c) for c in key]
    if len(key) == 1:
        expectations.append(gxe.ExpectColumnValuesToBeUnique(column=key[0]))
    elif key:
        expectations.append(gxe.ExpectCompoundColumnsToBeUnique(column_list=list(key)))
    for library in Library:
        expectations += [e for column, e in _value_expectations(library).items() if column in present]
    return gx.ExpectationSuite(name=name, expectations=expectations)


def run_suite(library: str, frame: pd.DataFrame, *, run_name: str, project_dir: Path) -> SuiteResult:
    """Validate the frame with the library's suite in the GX project under project_dir; update Data Docs."""
    library = _library(library).value
    return _run(
        library, build_suite(library, frame.columns), frame, run_name=run_name, project_dir=project_dir
    )


def run_dataset_suite(
    name: str, frame: pd.DataFrame, *, key: Sequence[str], run_name: str, project_dir: Path
) -> SuiteResult:
    """Validate a dataset's frame with its suite (``build_dataset_suite``); update Data Docs."""
    suite = build_dataset_suite(name, frame.columns, key)
    return _run(name, suite, frame, run_name=run_name, project_dir=project_dir)


def _run(
    name: str, built: gx.ExpectationSuite, frame: pd.DataFrame, *, run_name: str, project_dir: Path
) -> SuiteResult:
    with _locked(project_dir):
        context = _context(project_dir)
        suite = context.suites.add_or_update(built)
        validation = context.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=name, data=_batch_definition(context, name), suite=suite)
        )
        checkpoint = context.checkpoints.add_or_update(
            gx.Checkpoint(
                name=name,
                validation_definitions=[validation],
                actions=[gx.checkpoint.UpdateDataDocsAction(name=_DATA_DOCS_ACTION, site_names=[_SITE])],
                # SUMMARY, never COMPLETE: listing every unexpected row is very slow when many fail.
                result_format="SUMMARY",
            )
        )
        result = checkpoint.run(
            batch_parameters={"dataframe": frame}, run_id=RunIdentifier(run_name=run_name)
        )
        docs = context.get_docs_sites_urls(site_name=_SITE)
    statistics = next(iter(result.run_results.values())).statistics
    url = docs[0]["site_url"] if docs else None
    return SuiteResult(
        success=bool(result.success),
        evaluated=int(statistics["evaluated_expectations"]),
        successful=int(statistics["successful_expectations"]),
        unsuccessful=int(statistics["unsuccessful_expectations"]),
        success_percent=statistics["success_percent"],
        docs_index=Path(url2pathname(urlparse(url).path)) if url else None,
    )
