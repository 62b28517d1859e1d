"""Row-level verdicts for one chunk of a source, computed column-wise (no Python loop per row).

Every check yields a boolean mask over the chunk and a reason code. A row fails when any
*reject* mask holds; it goes to the review queue when only *review* masks hold (a value that
may be legal although a check fails, STYLE §7). Messages are looked up by reason code, so the
quarantine says in both languages what is wrong and where.

Great Expectations runs over the loaded data afterwards (``quality.suites``) for suite-level
results and Data Docs; row verdicts never depend on its COMPLETE result format.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from catalog_schema.types import CREDIT_CODE_ELEMENTS, ID_ELEMENT, SUBJECT_CODE_ELEMENTS, DataType
from quality import credit_kinds, gb2260, gb2261, gb3304, gb11643, gb32100

CREDIT_KIND_ELEMENT = "credit.kind"
# GB 32100-2015 took effect on 2015-10-01; codes assigned before it (the pilot period) may
# not satisfy its check character although they are legally valid.
GB32100_EFFECTIVE = "2015-10-01"

TRUE_VALUES = frozenset({"1", "true", "TRUE", "True", "是", "Y", "y"})
FLAG_VALUES = TRUE_VALUES | {"0", "false", "FALSE", "False", "否", "N", "n"}

MESSAGES: dict[str, tuple[str, str]] = {
    "required_missing": ("必填项为空", "required value is empty"),
    "id_format": (
        "公民身份号码格式错误（应为17位数字加1位数字或X）",
        "ID number is not 17 digits and a digit or X",
    ),
    "id_birth_date": (
        "公民身份号码中的出生日期不存在",
        "the birth date inside the ID number is not a real date",
    ),
    "id_region": (
        "公民身份号码中的地址码不是赋码时有效的行政区划代码（GB/T 2260）",
        "the address code inside the ID number was not a GB/T 2260 region code when assigned",
    ),
    "id_checksum": ("公民身份号码校验码错误（GB 11643）", "ID number check character is wrong (GB 11643)"),
    "id_birth_date_mismatch": ("出生日期与公民身份号码不一致", "birth date contradicts the ID number"),
    "id_sex_mismatch": ("性别代码与公民身份号码不一致", "sex code contradicts the ID number"),
    "sex_unknown_code": ("性别代码不在 GB/T 2261.1 中", "sex code is not in GB/T 2261.1"),
    "ethnicity_unknown_code": ("民族代码不在 GB/T 3304 中", "ethnicity code is not in GB/T 3304"),
    "region_unknown_code": ("行政区划代码不在 GB/T 2260 中", "region code is not in GB/T 2260"),
    "credit_kind_unknown": (
        "信用信息类别代码不在类别表中（01–08）",
        "credit record kind is not a known code (01–08)",
    ),
    "uscc_format": (
        "统一社会信用代码格式错误（GB 32100）",
        "unified social credit code is malformed (GB 32100)",
    ),
    "uscc_checksum": (
        "统一社会信用代码校验码错误（GB 32100）",
        "unified social credit code check character is wrong (GB 32100)",
    ),
    "uscc_pilot_review": (
        "统一社会信用代码校验未通过，但赋码早于 GB 32100-2015 实施日，可能为试点期代码，待人工复核",
        "credit code fails its check character but predates GB 32100-2015 (2015-10-01); "
        "it may be a pilot-era code and waits for review",
    ),
    "uscc_authority": (
        "统一社会信用代码的登记管理部门代码与提供部门不符",
        "the credit code's registering authority is not the providing department",
    ),
    "subject_code_invalid": (
        "主体代码既不是有效的公民身份号码，也不是有效的统一社会信用代码",
        "subject code is neither a valid ID number nor a valid credit code",
    ),
    "date_invalid": ("日期格式错误（应为 YYYY-MM-DD）", "date is not a real YYYY-MM-DD date"),
    "number_invalid": ("数值格式错误", "value is not a number"),
    "flag_invalid": ("逻辑值应为 1/0、是/否", "flag must be 1/0 or 是/否"),
    "key_too_long": ("主键过长（超过 200 个字符）", "key is longer than 200 characters"),
    "duplicate_key": (
        "主键重复：同一批次中已有该主体的记录",
        "duplicate key: this subject already came earlier in the batch",
    ),
    "truncated_record": ("记录不完整，无法解析（文件可能被截断）", "record is incomplete (truncated file?)"),
}


def message(rule: str) -> tuple[str, str]:
    """The Chinese and English message of a reason code."""
    return MESSAGES.get(rule, (rule, rule))


@dataclass(frozen=True)
class Check:
    """One failed check over a chunk: which rows, which rule, which element."""

    rule: str
    element: str
    mask: np.ndarray
    review: bool = False


@dataclass
class Verdicts:
    """The checks that failed somewhere in a chunk, and the masks they combine into."""

    size: int
    checks: list[Check] = field(default_factory=list)

    def add(self, rule: str, element: str, mask: pd.Series | np.ndarray, *, review: bool = False) -> None:
        values = np.asarray(mask, dtype=bool)
        if values.any():
            self.checks.append(Check(rule, element, values, review))

    @property
    def rejected(self) -> np.ndarray:
        """Rows failing at least one rejecting check."""
        return self._any(c.mask for c in self.checks if not c.review)

    @property
    def review(self) -> np.ndarray:
        """Rows only held for review: every failed check of theirs is a review check."""
        return self._any(c.mask for c in self.checks if c.review) & ~self.rejected

    def _any(self, masks: Iterable[np.ndarray]) -> np.ndarray:
        result = np.zeros(self.size, bool)
        for mask in masks:
            result |= mask
        return result

    def reasons(self, position: int) -> list[dict[str, str]]:
        """Every failed check of the row at ``position``, in both languages."""
        found = []
        for c in self.checks:
            if c.mask[position]:
                zh, en = message(c.rule)
                found.append({"rule": c.rule, "element": c.element, "message": zh, "message_en": en})
        return found


def normalise(frame: pd.DataFrame, elements: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Trim whitespace, turn empty strings into nulls and upper-case code-like keys.

    Columns are element codes, or named otherwise with ``elements`` giving the element each carries.
    """
    out = {}
    for column in frame.columns:
        values = frame[column].astype("string").str.strip()
        values = values.mask(values == "")
        code = elements.get(column, column) if elements is not None else column
        if code == ID_ELEMENT or code in CREDIT_CODE_ELEMENTS or code in SUBJECT_CODE_ELEMENTS:
            # One canonical form per code, as the validators compact it: no inner spaces or hyphens.
            values = values.str.replace(r"[\s\-]", "", regex=True).str.upper()
        out[column] = values
    return pd.DataFrame(out, index=frame.index)


def _present(values: pd.Series) -> np.ndarray:
    return values.notna().to_numpy()


def _coded(values: pd.Series, reason: pd.Series) -> np.ndarray:
    return reason.notna().to_numpy() & _present(values)


def evaluate(
    frame: pd.DataFrame,
    *,
    types: dict[str, DataType],
    required: Iterable[str],
    registering_authority: list[str] | None = None,
    registration_date: str | None = None,
) -> Verdicts:
    """Check a normalised chunk whose columns are element codes; ``types`` gives each element's data type."""
    verdicts = Verdicts(len(frame))
    for element in required:
        if element in frame:
            verdicts.add("required_missing", element, frame[element].isna())
    for element in frame.columns:
        _check_type(verdicts, frame[element], element, types.get(element))
    _check_elements(verdicts, frame, registering_authority, registration_date)
    return verdicts


def evaluate_carried(
    frame: pd.DataFrame, *, elements: Mapping[str, str], types: dict[str, DataType], required: Iterable[str]
) -> Verdicts:
    """Check a normalised chunk whose columns are named otherwise (a resource's items).

    Each column gets its data type checked and, when ``elements`` says it carries an element, that
    element's checks (GB 11643 for an ID number, …); reasons name the column. Two columns may
    carry the same element (男方、女方公民身份号码): they are checked in turns, one per element each.
    """
    verdicts = Verdicts(len(frame))
    for column in required:
        if column in frame:
            verdicts.add("required_missing", column, frame[column].isna())
    for column in frame.columns:
        _check_type(verdicts, frame[column], column, types.get(column))
    turns: list[dict[str, str]] = []  # each: element -> the column carrying it in that turn
    for column, element in elements.items():
        turn = next((t for t in turns if element not in t), None)
        if turn is None:
            turns.append(turn := {})
        turn[element] = column
    for turn in turns:
        inner = Verdicts(len(frame))
        _check_elements(inner, pd.DataFrame({e: frame[c] for e, c in turn.items()}, index=frame.index))
        verdicts.checks += [
            Check(c.rule, turn.get(c.element, c.element), c.mask, c.review) for c in inner.checks
        ]
    return verdicts


def _check_elements(
    verdicts: Verdicts,
    frame: pd.DataFrame,
    registering_authority: list[str] | None = None,
    registration_date: str | None = None,
) -> None:
    _check_population(verdicts, frame)
    _check_credit_codes(verdicts, frame, registering_authority, registration_date)
    for element in SUBJECT_CODE_ELEMENTS & set(frame.columns):
        values = frame[element]
        as_id = gb11643.check(values).isna()
        as_code = gb32100.check(values).isna()
        verdicts.add("subject_code_invalid", element, _present(values) & ~(as_id | as_code).to_numpy())
    if CREDIT_KIND_ELEMENT in frame:
        kinds = frame[CREDIT_KIND_ELEMENT]
        verdicts.add("credit_kind_unknown", CREDIT_KIND_ELEMENT, _coded(kinds, credit_kinds.check(kinds)))


def _check_type(verdicts: Verdicts, values: pd.Series, element: str, data_type: DataType | None) -> None:
    present = _present(values)
    if data_type is DataType.D:
        parsed = pd.to_datetime(values, format="%Y-%m-%d", errors="coerce")
        verdicts.add("date_invalid", element, present & parsed.isna().to_numpy())
    elif data_type in (DataType.N, DataType.Y, DataType.B, DataType.F, DataType.I):
        parsed = pd.to_numeric(values, errors="coerce")
        verdicts.add("number_invalid", element, present & pd.isna(parsed).to_numpy())
    elif data_type is DataType.L:
        verdicts.add("flag_invalid", element, present & ~values.isin(FLAG_VALUES).to_numpy())


def _check_population(verdicts: Verdicts, frame: pd.DataFrame) -> None:
    if ID_ELEMENT not in frame:
        return
    ids = frame[ID_ELEMENT]
    id_reason = gb11643.check(ids)
    for rule in ("id_format", "id_birth_date", "id_checksum", "id_region"):
        verdicts.add(rule, ID_ELEMENT, (id_reason == rule).fillna(False).to_numpy())
    id_ok = _present(ids) & id_reason.isna().to_numpy()
    if "population.gender" in frame:
        sex = frame["population.gender"]
        unknown = _coded(sex, gb2261.check(sex))
        verdicts.add("sex_unknown_code", "population.gender", unknown)
        from_id = gb11643.sex_codes(ids)
        binary = sex.isin(["1", "2"]).to_numpy()
        verdicts.add("id_sex_mismatch", "population.gender", id_ok & binary & (sex != from_id).to_numpy())
    if "population.birth_date" in frame:
        born = frame["population.birth_date"]
        from_id = gb11643.birth_dates(ids)
        verdicts.add(
            "id_birth_date_mismatch",
            "population.birth_date",
            id_ok & _present(born) & (born != from_id).fillna(True).to_numpy(),
        )
    if "population.ethnicity" in frame:
        values = frame["population.ethnicity"]
        verdicts.add("ethnicity_unknown_code", "population.ethnicity", _coded(values, gb3304.check(values)))
    if "population.household_region" in frame:
        values = frame["population.household_region"]
        verdicts.add(
            "region_unknown_code", "population.household_region", _coded(values, gb2260.check(values))
        )


def _check_credit_codes(
    verdicts: Verdicts,
    frame: pd.DataFrame,
    registering_authority: list[str] | None,
    registration_date: str | None,
) -> None:
    for element in CREDIT_CODE_ELEMENTS & set(frame.columns):
        codes = frame[element]
        reason = gb32100.check(codes)
        verdicts.add("uscc_format", element, (reason == "uscc_format").fillna(False).to_numpy())
        bad_check = (reason == "uscc_checksum").fillna(False).to_numpy()
        pilot = np.zeros(len(frame), bool)
        if registration_date is not None and registration_date in frame:
            registered = frame[registration_date]
            early = (registered < GB32100_EFFECTIVE).fillna(False).to_numpy()
            pilot = bad_check & early & gb32100.structurally_valid(codes).fillna(False).to_numpy()
        verdicts.add("uscc_checksum", element, bad_check & ~pilot)
        verdicts.add("uscc_pilot_review", element, pilot, review=True)
        if registering_authority:
            authority = gb32100.registering_authority(codes)
            wrong = _present(codes) & ~authority.isin(registering_authority).to_numpy()
            verdicts.add(
                "uscc_authority", element, wrong & ~(reason == "uscc_format").fillna(False).to_numpy()
            )
