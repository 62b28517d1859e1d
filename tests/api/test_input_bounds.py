"""Every number a caller can send is bounded where it is declared: none reaches a database driver that
cannot hold it (SQLite refuses integers beyond 64 bits as it binds them: a 500 otherwise)."""

from typing import Any

from api.main import create_app
from api.settings import ApiSettings
from tests.conftest import TEST_SECRET


def _unbounded(schema: dict[str, Any], where: str, components: dict[str, Any], seen: set[str]) -> list[str]:
    found = []
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return []
        seen.add(name)
        return _unbounded(components[name], where, components, seen)
    if schema.get("type") == "integer" and "maximum" not in schema and "exclusiveMaximum" not in schema:
        found.append(where)
    for name, sub in schema.get("properties", {}).items():
        found += _unbounded(sub, f"{where}.{name}", components, seen)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            found += _unbounded(schema[key], f"{where}[]", components, seen)
    for key in ("anyOf", "allOf", "oneOf"):
        for sub in schema.get(key, []):
            found += _unbounded(sub, where, components, seen)
    return found


def test_every_integer_in_a_query_path_or_body_has_a_maximum() -> None:
    spec = create_app(ApiSettings(profile="demo", secret_key=TEST_SECRET, bench_baseline=True)).openapi()
    components = spec["components"]["schemas"]
    unbounded = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                where = f"{method.upper()} {path} {parameter['in']}:{parameter['name']}"
                unbounded += _unbounded(parameter.get("schema", {}), where, components, set())
            for content in operation.get("requestBody", {}).get("content", {}).values():
                unbounded += _unbounded(
                    content.get("schema", {}), f"{method.upper()} {path} body", components, set()
                )

    assert unbounded == []
