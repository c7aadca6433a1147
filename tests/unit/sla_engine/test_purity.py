"""The domain modules stay a functional core: no I/O frameworks, no reading the clock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DOMAIN = [
    ROOT / "shared/pacta/durations.py",
    ROOT / "shared/pacta/calendars.py",
    ROOT / "services/sla-engine/sla_engine/clocks.py",
    ROOT / "services/sla-engine/sla_engine/ticket_log.py",
    ROOT / "services/sla-engine/sla_engine/tickets.py",
    ROOT / "services/sla-engine/sla_engine/availability.py",
    ROOT / "services/sla-engine/sla_engine/policies.py",
]
FORBIDDEN_IMPORTS = {"aiokafka", "sqlalchemy", "fastapi", "starlette", "httpx", "asyncpg", "time"}
FORBIDDEN_CALLS = {"now", "utcnow", "today", "time", "monotonic", "perf_counter"}


@pytest.mark.parametrize("path", DOMAIN, ids=lambda p: p.name)
def test_domain_module_is_pure(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots = {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            roots = {(node.module or "").split(".")[0]}
        else:
            roots = set()
        assert not roots & FORBIDDEN_IMPORTS, f"{path.name} imports {roots & FORBIDDEN_IMPORTS}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            assert node.func.attr not in FORBIDDEN_CALLS, f"{path.name} reads the clock"


@pytest.mark.parametrize("path", DOMAIN, ids=lambda p: p.name)
def test_domain_module_opens_with_a_docstring_and_stays_small(path: Path) -> None:
    tree = ast.parse(path.read_text())
    docstring = ast.get_docstring(tree)
    assert docstring
    assert len(docstring.splitlines()) <= 3
    assert len(path.read_text().splitlines()) < 400
