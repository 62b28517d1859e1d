"""Turn pydantic validation errors into bilingual, path-located problems.

Input schemas raise :class:`BilingualValueError` from their own validators; every other
pydantic error type gets its Chinese text from ``_MESSAGES`` here, so an error anywhere in
an API body or an import file reads the same way.
"""

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from catalog_schema.errors import Problem


class BilingualValueError(ValueError):
    """A validator's complaint, in Chinese and in English."""

    def __init__(self, message: str, message_en: str, *, field: str | None = None) -> None:
        super().__init__(message_en)
        self.message = message
        self.message_en = message_en
        self.field = field  # for a model-level check: the field it is about


_MESSAGES: dict[str, str] = {
    "missing": "缺少必填字段",
    "extra_forbidden": "不允许的字段，请检查拼写",
    "string_type": "应为文本",
    "string_too_short": "不能为空或过短",
    "string_too_long": "超出最大长度",
    "string_pattern_mismatch": "格式不正确",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "int_from_float": "应为整数",
    "bool_type": "应为是/否(true/false)",
    "bool_parsing": "应为是/否(true/false)",
    "date_type": "应为日期(YYYY-MM-DD)",
    "date_parsing": "应为日期(YYYY-MM-DD)",
    "date_from_datetime_parsing": "应为日期(YYYY-MM-DD)",
    "date_from_datetime_inexact": "应为日期(YYYY-MM-DD)",
    "enum": "取值不在允许范围内",
    "literal_error": "取值不在允许范围内",
    "list_type": "应为列表",
    "dict_type": "应为对象(键值对)",
    "model_type": "应为对象(键值对)",
    "model_attributes_type": "应为对象(键值对)",
    "greater_than": "数值过小",
    "greater_than_equal": "数值过小",
    "less_than": "数值过大",
    "less_than_equal": "数值过大",
    "too_long": "条目过多",
    "too_short": "条目过少",
    "json_invalid": "JSON 格式错误",
    "value_error": "取值无效",
}


def format_path(loc: Sequence[Any], prefix: str = "") -> str:
    """``("resources", 3, "items", 1, "element")`` as ``resources[3].items[1].element``."""
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(root)"


def problem_from_error(error: Any, prefix: str = "", loc: Sequence[Any] | None = None) -> Problem:
    """One pydantic error dict as a :class:`Problem`."""
    location = tuple(error["loc"] if loc is None else loc)
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, BilingualValueError):
        if cause.field:
            location += (cause.field,)
        return Problem(format_path(location, prefix), cause.message, cause.message_en)
    path = format_path(location, prefix)
    zh = _MESSAGES.get(error["type"], "取值无效")
    en = error["msg"]
    ctx = error.get("ctx") or {}
    if error["type"] == "enum" and "expected" in ctx:
        zh += f"，可选值：{ctx['expected']}"
    elif error["type"] == "string_pattern_mismatch" and "pattern" in ctx:
        zh += f"，应匹配 {ctx['pattern']}"
    elif "max_length" in ctx:
        zh += f"(最多 {ctx['max_length']})"
    return Problem(path, zh, en)


def problems_from(exc: ValidationError, prefix: str = "") -> list[Problem]:
    """Every error of ``exc`` as a :class:`Problem`, paths prefixed with ``prefix``."""
    return [problem_from_error(e, prefix) for e in exc.errors()]


def refuse_explicit_null(model: BaseModel, required: tuple[str, ...]) -> None:
    """In a partial update, ``null`` clears a field; for a field that must have a value, refuse it."""
    nulls = [f for f in required if f in model.model_fields_set and getattr(model, f) is None]
    if nulls:
        raise BilingualValueError(
            f"{'、'.join(nulls)} 不能为空(null)；如不修改，请省略该字段",
            f"{', '.join(nulls)} cannot be null; omit a field to leave it unchanged",
            field=nulls[0],
        )
