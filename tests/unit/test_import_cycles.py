"""No module of a package (every service, `pacta`, `bench`) imports, through any chain, one that
imports it back; type-only and function-level imports count too (a cycle there is still two
modules that cannot be read one at a time). The packages are found, not listed."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = sorted(
    [p.parent for p in ROOT.glob("services/*/*/__init__.py")]
    + [ROOT / "shared/pacta", ROOT / "bench"]
)


def _module_name(package: Path, path: Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def graph(package: Path) -> dict[str, set[str]]:
    """Each module of `package` -> the modules of the same package it imports."""
    modules = {
        _module_name(package, p): p for p in package.rglob("*.py") if "migrations" not in p.parts
    }
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    found.add(full if full in modules else node.module)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
        edges[name] = {e for e in found if e in modules and e != name}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(edges[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_every_package_is_found() -> None:
    names = {p.name for p in PACKAGES}
    assert {"ingest", "sla_engine", "alerting", "reporting", "pacta", "bench"} <= names


def test_the_graph_sees_imports_of_every_kind() -> None:
    edges = graph(ROOT / "services/ingest/ingest")
    assert "ingest.admission" in edges["ingest.api"]  # from ingest.admission import admit
    assert "ingest.native" in edges["ingest.app"]  # from ingest import native
    engine = graph(ROOT / "services/sla-engine/sla_engine")
    assert "sla_engine.clocks.keeper" in engine["sla_engine.app"]
    assert "sla_engine.clocks.policy_changes" in engine["sla_engine.clocks.keeper"]


def test_a_cycle_is_found() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_no_import_cycles(package: Path) -> None:
    assert cycles(graph(package)) == []
