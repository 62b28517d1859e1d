"""The resource form: posted fields to ``ResourceCreate``/``ResourceUpdate`` input, a resource to
the fields of its edit form, and problems to the fields they are about.

The item and control-parameter tables are posted as ``items[2].element``; blank rows are dropped
and the rest renumbered, so an error's path meets the row it is shown beside.
"""

import re
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData

from api.portal import web
from catalog_schema.errors import GovdxError, Problem
from catalog_schema.resource.schemas import ResourceRead
from catalog_schema.validation import problems_from

ITEM_FIELDS = ("name", "data_type", "length", "element", "description")
PARAM_FIELDS = ("kind", "value")
BLANK_ITEM_ROWS = 3
BLANK_PARAM_ROWS = 1
_ROW = re.compile(r"^(items|control_params)\[(\d{1,3})\]\.([a-z_]+)$")
# Errors about a whole part of the form, shown at the top of that part.
_SECTIONS = ("category", "share", "open", "items", "control_params", "related", "delivery")
DELIVERY_FIELDS = (
    "kind",
    "library",
    "where",
    "query_key",
    "record_key",
    "conn_id",
    "path",
    "timeout_s",
    "retries",
)
_KEY_SEPARATOR = re.compile(r"\s*[+＋]\s*")


def _flat(form: FormData) -> dict[str, str]:
    return {
        key: value.strip()
        for key in form
        if key != web.CSRF_FIELD and isinstance(value := form.get(key), str)
    }


def _rows(
    flat: dict[str, str], name: str, fields: tuple[str, ...], filled: tuple[str, ...]
) -> list[dict[str, str]]:
    """The rows of a table field in their order, leaving out rows whose ``filled`` cells are blank."""
    found: dict[int, dict[str, str]] = {}
    for key, value in flat.items():
        match = _ROW.match(key)
        if match and match[1] == name and match[3] in fields:
            found.setdefault(int(match[2]), {})[match[3]] = value
    return [row for _, row in sorted(found.items()) if any(row.get(f) for f in filled)]


def _compact(flat: dict[str, str]) -> tuple[dict[str, str], list[dict[str, str]], list[dict[str, str]]]:
    """The form with its table rows renumbered without the blank ones, so errors meet their rows."""
    items = _rows(flat, "items", ITEM_FIELDS, ("name", "length", "element", "description"))
    params = _rows(flat, "control_params", PARAM_FIELDS, ("value",))
    shown = {k: v for k, v in flat.items() if not _ROW.match(k)}
    for name, rows in (("items", items), ("control_params", params)):
        for i, row in enumerate(rows):
            shown.update({f"{name}[{i}].{field}": value for field, value in row.items()})
    return shown, items, params


def _drop_blank(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v not in (None, "")}


def _names(value: str) -> list[str]:
    return [n for n in _KEY_SEPARATOR.split(value) if n]


def _where(value: str) -> dict[str, list[str]]:
    """``element: a、b`` lines as a view's record filter (a line without a colon is its own element)."""
    found: dict[str, list[str]] = {}
    for line in value.splitlines():
        element, _, values = line.partition(":") if ":" in line else line.partition("：")
        if element.strip():
            found[element.strip()] = [v for v in re.split(r"[\s,，、;；]+", values) if v]
    return found


def _delivery(shown: dict[str, str]) -> dict[str, Any] | None:
    """The delivery section as a binding; None when no kind is chosen (a new resource's default)."""
    field = {f: shown.get(f"delivery.{f}", "") for f in DELIVERY_FIELDS}
    if not field["kind"]:
        return None
    if field["kind"] == "library":
        return _drop_blank({"kind": "library", "library": field["library"], "where": _where(field["where"])})
    if field["kind"] == "dataset":
        keys = {"query_key": _names(field["query_key"]), "record_key": _names(field["record_key"])}
        return {"kind": "dataset", **keys}
    binding = {"kind": field["kind"], "conn_id": field["conn_id"], "path": field["path"]}
    limits = {"timeout_s": field["timeout_s"], "retries": field["retries"]}
    return _drop_blank({**binding, "query_key": field["query_key"], **limits})


def posted(form: FormData, *, create: bool) -> tuple[dict[str, Any], dict[str, str], int, int]:
    """The posted form as ``ResourceCreate``/``ResourceUpdate`` input, and the form to show again.

    A blank optional field is left out of a new resource and clears it on an edit; a blank required
    text is sent as "" on an edit, so the schema says it cannot be empty.
    """
    shown, items, params = _compact(_flat(form))

    def text(name: str, *, required: bool = False) -> str | None:
        value = shown.get(name) or None
        return "" if value is None and required and not create else value

    related = [c for c in re.split(r"[\s,，、;；]+", shown.get("related", "")) if c]
    values: dict[str, Any] = {
        "name": text("name", required=True),
        "abstract": text("abstract", required=True),
        "format": text("format"),
        "format_detail": text("format_detail"),
        "share": {
            "type": text("share.type"),
            "condition": text("share.condition"),
            "legal_basis": text("share.legal_basis"),
            "method": text("share.method"),
        },
        "open": {"open": bool(shown.get("open.open")), "condition": text("open.condition")},
        "update_cycle": text("update_cycle"),
        "published_on": text("published_on"),
        "related": related,
        "control_params": [_drop_blank(p) for p in params],
        "items": [_drop_blank(i) for i in items],
        "delivery": _delivery(shown),
    }
    values["share"] = _drop_blank(values["share"])
    values["open"] = _drop_blank(values["open"])
    if create:
        values["category"] = _drop_blank(
            {
                "class": text("category.class"),
                "item": text("category.item"),
                "catalog": text("category.catalog"),
                "detail": text("category.detail") or "",
            }
        )
        values["provider"] = text("provider")
        values = _drop_blank(values)
    else:
        if values["delivery"] is None:
            del values["delivery"]
        if note := text("change_note"):
            values["change_note"] = note
    return values, shown, len(items), len(params)


def _place(path: str, known: set[str]) -> str:
    """The form field a problem's path points at: itself, or the nearest enclosing field shown."""
    while path:
        if path in known:
            return path
        cut = max(path.rfind("."), path.rfind("["))
        if cut <= 0:
            break
        path = path[:cut]
    return ""


def _errors_at(problems: Iterable[Problem], known: set[str], summary: str) -> dict[str, str]:
    """Errors by the full path of their field (``items[2].element``, ``share.condition``)."""
    errors: dict[str, str] = {}
    for p in problems:
        field = _place(p.path, known)
        errors[field] = f"{errors[field]}；{p.message}" if field in errors else p.message
    errors[""] = f"{summary}；{errors['']}" if "" in errors else summary
    return errors


def errors(exc: ValidationError | GovdxError, known: set[str]) -> dict[str, str]:
    """The schema's or the service's problems by the form field they are about, under a summary."""
    if isinstance(exc, ValidationError):
        return _errors_at(problems_from(exc), known, "提交的内容有误，请按提示更正标出的字段")
    return _errors_at(exc.problems, known, exc.message)


def known_fields(shown: dict[str, str], item_rows: int, param_rows: int) -> set[str]:
    """The fields a problem may be shown beside: the form's fields, its sections and table cells."""
    known = set(shown) | set(_SECTIONS)
    known |= {f"items[{i}].{f}" for i in range(item_rows) for f in ITEM_FIELDS}
    known |= {f"control_params[{i}].{f}" for i in range(param_rows) for f in PARAM_FIELDS}
    known |= {f"delivery.{f}" for f in DELIVERY_FIELDS}
    return known | {"name", "abstract", "format", "format_detail", "update_cycle", "published_on", "provider"}


def prefill(r: ResourceRead) -> dict[str, str]:
    """The edit form's fields, filled from the resource as it is."""
    form: dict[str, str] = {
        "name": r.name,
        "abstract": r.abstract,
        "format": r.format.value,
        "format_detail": r.format_detail or "",
        "share.type": r.share.type.value,
        "share.condition": r.share.condition or "",
        "share.legal_basis": r.share.legal_basis or "",
        "share.method": r.share.method.value,
        "open.condition": r.open.condition or "",
        "update_cycle": r.update_cycle.value,
        "published_on": r.published_on.isoformat() if r.published_on else "",
        "related": "\n".join(r.related),
    }
    if r.open.open:
        form["open.open"] = "1"
    form |= _delivery_fields(r.delivery.model_dump(mode="json"))
    for i, p in enumerate(r.control_params):
        form |= {f"control_params[{i}].kind": p.kind.value, f"control_params[{i}].value": p.value}
    for i, item in enumerate(r.items):
        form |= {
            f"items[{i}].name": item.name,
            f"items[{i}].data_type": item.data_type.value,
            f"items[{i}].length": str(item.length) if item.length else "",
            f"items[{i}].element": item.element.code if item.element else "",
            f"items[{i}].description": item.description or "",
        }
    return form


def _delivery_fields(binding: dict[str, Any]) -> dict[str, str]:
    """A binding as the form's delivery fields."""
    form = {"delivery.kind": binding["kind"]}
    for name, value in binding.items():
        if name == "where":
            form["delivery.where"] = "\n".join(f"{e}: {'、'.join(v)}" for e, v in value.items())
        elif isinstance(value, list):
            form[f"delivery.{name}"] = "+".join(value)
        elif value is not None and name in DELIVERY_FIELDS:
            form[f"delivery.{name}"] = str(value)
    return form


def rows_of(shown: dict[str, str]) -> tuple[int, int]:
    """How many item and control-parameter rows the shown form has."""
    item_rows = max([int(m[2]) + 1 for k in shown if (m := _ROW.match(k)) and m[1] == "items"], default=0)
    param_rows = max(
        [int(m[2]) + 1 for k in shown if (m := _ROW.match(k)) and m[1] == "control_params"], default=0
    )
    return item_rows, param_rows
