"""信息资源代码 (resource code) of 政务信息资源目录编制指南(试行) (发改高技〔2017〕1272号).

A resource code is the classification code (前段码), a "/", and the sequence code (后段码).
The classification code is 类 (one digit: 1 基础, 2 主题, 3 部门), 项 (two digits), 目 (three
digits) and 细目 (digits of any length, possibly none). The guide leaves the sequence code's
length open; govdx uses six digits, numbered within each classification code.

Checked: the shape of each segment, and on request that the classification code matches the
category the resource declares. Modelled on python-stdnum: ``compact``, ``validate``,
``is_valid``, ``format``.
"""

import re

SEQUENCE_DIGITS = 6
_CODE = re.compile(
    r"^(?P<klass>[123])(?P<item>[0-9]{2})(?P<catalog>[0-9]{3})(?P<detail>[0-9]{0,12})/(?P<seq>[0-9]{6})$"
)


class InvalidResourceCode(ValueError):
    """The value is not a well-formed resource code."""

    def __init__(self, value: str, reason_zh: str, reason_en: str) -> None:
        super().__init__(f"{value!r}: {reason_en}")
        self.value = value
        self.reason_zh = reason_zh
        self.reason_en = reason_en


def classification_code(class_digit: str, item: str, catalog: str, detail: str = "") -> str:
    """The classification code (前段码) of 类/项/目/细目."""
    return f"{class_digit}{item}{catalog}{detail}"


def compact(value: str) -> str:
    """Strip surrounding and inner spaces."""
    return "".join(value.split())


def format(classification: str, sequence: int) -> str:
    """The resource code for a classification code and a sequence number."""
    if not 0 < sequence < 10**SEQUENCE_DIGITS:
        raise InvalidResourceCode(
            str(sequence), "顺序码超出范围(1–999999)", "sequence code out of range 1-999999"
        )
    return f"{classification}/{sequence:0{SEQUENCE_DIGITS}d}"


def validate(value: str, *, expected_classification: str | None = None) -> str:
    """Return the compact code, or raise :class:`InvalidResourceCode` saying what is wrong."""
    code = compact(value)
    match = _CODE.match(code)
    if match is None:
        raise InvalidResourceCode(
            value,
            "资源代码格式应为“分类码/顺序码”，如 101001/000001(类1位、项2位、目3位、细目可选，顺序码6位)",
            "a resource code is 'classification/sequence', e.g. 101001/000001 "
            "(class 1 digit, item 2, catalog 3, optional detail digits, sequence 6)",
        )
    if int(match["seq"]) == 0:
        raise InvalidResourceCode(value, "顺序码不能为 000000", "the sequence code cannot be 000000")
    if expected_classification is not None and code.split("/")[0] != expected_classification:
        raise InvalidResourceCode(
            value,
            f"资源代码的分类码应为 {expected_classification}，与资源分类一致",
            f"the classification part must be {expected_classification}, matching the category",
        )
    return code


def is_valid(value: str) -> bool:
    """Whether ``value`` is a well-formed resource code."""
    try:
        validate(value)
    except InvalidResourceCode:
        return False
    return True


def split(value: str) -> tuple[str, int]:
    """The classification code and sequence number of a valid code."""
    classification, seq = validate(value).split("/")
    return classification, int(seq)
