"""Every service's `domain/` package stays a functional core: no I/O frameworks, no shell modules
of its own service, no reading the clock; and each module opens with a short docstring and stays
small. The folders are found, not listed, so a new domain module is held to it at once."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED_PURE = [
    ROOT / "shared/pacta/durations.py",
    ROOT / "shared/pacta/calendars.py",
    ROOT / "shared/pacta/intervals.py",
    ROOT / "shared/pacta/versions.py",
    ROOT / "shared/pacta/agreed_time.py",
]
DOMAIN = sorted(ROOT.glob("services/*/*/domain/*.py")) + SHARED_PURE
FORBIDDEN_IMPORTS = {
    "aiokafka",
    "sqlalchemy",
    "fastapi",
    "starlette",
    "httpx",
    "asyncpg",
    "aiosmtplib",
    "time",
    "asyncio",
    "socket",
    "subprocess",
}
FORBIDDEN_SHARED = {"pacta.db", "pacta.kafka", "pacta.web", "pacta.auth", "pacta.runtime"}
FORBIDDEN_CALLS = {"now", "utcnow", "today", "time", "monotonic", "perf_counter"}


def _package(path: Path) -> str | None:
    """The service package a domain module belongs to (`sla_engine`), None for shared."""
    return path.parent.parent.name if path.parent.name == "domain" else None


def test_the_sla_engine_has_a_domain_package() -> None:
    found = {p.stem for p in DOMAIN if _package(p) == "sla_engine"}
    assert {"clocks", "ticket_log", "tickets", "availability", "downtime", "policies"} <= found


@pytest.mark.parametrize("path", DOMAIN, ids=lambda p: str(p.relative_to(ROOT)))
def test_domain_module_is_pure(path: Path) -> None:
    tree = ast.parse(path.read_text())
    package = _package(path)
    for node in ast.walk(tree):
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            modules = [node.module or ""]
        for module in modules:
            root = module.split(".")[0]
            assert root not in FORBIDDEN_IMPORTS, f"{path.name} imports {module}"
            assert module not in FORBIDDEN_SHARED, f"{path.name} imports {module}"
            if package is not None and root == package:
                assert module.startswith(f"{package}.domain"), f"{path.name} imports {module}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            assert node.func.attr not in FORBIDDEN_CALLS, f"{path.name} reads the clock"


@pytest.mark.parametrize("path", DOMAIN, ids=lambda p: str(p.relative_to(ROOT)))
def test_domain_module_opens_with_a_docstring_and_stays_small(path: Path) -> None:
    tree = ast.parse(path.read_text())
    docstring = ast.get_docstring(tree)
    assert docstring
    assert len(docstring.splitlines()) <= 3
    assert len(path.read_text().splitlines()) < 400
