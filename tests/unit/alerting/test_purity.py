"""Alerting's domain package stays a functional core: no I/O frameworks, no reading the clock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[3] / "services/alerting/alerting/domain"
MODULES = sorted(DOMAIN.glob("*.py"))
FORBIDDEN_IMPORTS = {"aiokafka", "sqlalchemy", "fastapi", "starlette", "httpx", "asyncpg", "time"}
FORBIDDEN_CALLS = {"now", "utcnow", "today", "time", "monotonic", "perf_counter"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_domain_module_is_pure_small_and_documented(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        roots: set[str] = set()
        if isinstance(node, ast.Import):
            roots = {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            roots = {(node.module or "").split(".")[0]}
        assert not roots & FORBIDDEN_IMPORTS, f"{path.name} imports {roots & FORBIDDEN_IMPORTS}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            assert node.func.attr not in FORBIDDEN_CALLS, f"{path.name} reads the clock"
    docstring = ast.get_docstring(tree)
    assert docstring
    assert len(docstring.splitlines()) <= 3
    assert len(path.read_text().splitlines()) < 400
