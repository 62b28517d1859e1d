"""The layout README describes: which package may import which, and modules small enough to read.

Every import counts, including those inside functions: a deferred import is still a dependency.
"""

import ast
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("api", "authz", "ingest", "catalog_schema", "connectors", "quality", "dags", "demo")
MAX_LINES = 600

# What each package must not import (README "Layout"; DESIGN.md "Imports run downward only").
FORBIDDEN: dict[str, frozenset[str]] = {
    "api": frozenset({"connectors", "quality", "demo", "dags"}),
    "authz": frozenset({"api", "ingest", "connectors", "demo", "dags"}),
    "ingest": frozenset({"api", "authz", "demo", "dags"}),
    "catalog_schema": frozenset({"api", "authz", "ingest", "connectors", "quality", "demo", "dags"}),
    "connectors": frozenset({"api", "authz", "ingest", "quality", "demo", "dags"}),
    "quality": frozenset({"api", "authz", "ingest", "connectors", "demo", "dags"}),
    "dags": frozenset({"api", "demo"}),
    "demo": frozenset(),
}
# The table registry lists every model for Alembic, authz's tables included.
REGISTRY = ROOT / "catalog_schema" / "models.py"
# What connectors and quality may use of catalog_schema: its types and errors.
KERNEL_FOR_LEAVES = frozenset({"catalog_schema.types", "catalog_schema.errors"})


def _kernel_for_leaves(name: str) -> bool:
    return any(name == k or name.startswith(k + ".") for k in KERNEL_FOR_LEAVES)


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@cache
def _imports(path: Path) -> list[str]:
    """Every absolute module name ``path`` imports (``from a.b import c`` gives a.b and a.b.c)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def _violations(package: str) -> list[str]:
    found = []
    for path in _modules(package):
        for name in _imports(path):
            top = name.split(".")[0]
            if top not in FORBIDDEN[package]:
                continue
            if path == REGISTRY and top == "authz" and name.split(".")[2:3] == ["models"]:
                continue
            found.append(f"{path.relative_to(ROOT)} imports {name}")
        if package in ("connectors", "quality"):
            found += [
                f"{path.relative_to(ROOT)} imports {name}"
                for name in _imports(path)
                if name.startswith("catalog_schema.") and not _kernel_for_leaves(name)
            ]
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_package_imports_only_downward(package: str) -> None:
    assert _violations(package) == []


def test_nothing_imports_the_demo() -> None:
    importers = [
        f"{path.relative_to(ROOT)} imports {name}"
        for package in PACKAGES
        if package != "demo"
        for path in _modules(package)
        for name in _imports(path)
        if name.split(".")[0] == "demo"
    ]
    assert importers == []


def test_no_module_is_over_600_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for package in PACKAGES
        for path in _modules(package)
        if "migrations" not in path.parts
        and (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def test_the_checks_see_a_forbidden_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from authz.clock import scheduled\n", encoding="utf-8")
    assert "authz.clock.scheduled" in _imports(module)
