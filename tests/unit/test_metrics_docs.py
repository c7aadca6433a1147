"""docs/metrics.md lists every metric the code exports (name, type, labels, service, the panels
that show it), and every dashboard query and alert rule names only metrics the code defines."""

from __future__ import annotations

import importlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "metrics.md"
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
RULES = ROOT / "deploy" / "prometheus" / "pacta.rules.yml"
DEFINITION = re.compile(r"\b(Counter|Gauge|Histogram|Summary)\(\s*[\"'](pacta_[a-z0-9_]+)[\"']")
METRIC_IN_EXPR = re.compile(r"\b(pacta_[a-z0-9_]+|up)\b(?!\s*\()")
BUILTIN = {"up"}  # Prometheus's own, per target
#: package -> the service whose /metrics shows it (`pacta` is the shared library: all four)
SERVICES = {
    "pacta": "all",
    "ingest": "ingest",
    "sla_engine": "sla-engine",
    "alerting": "alerting",
    "reporting": "reporting",
}
HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")
SEP = " \N{SINGLE RIGHT-POINTING ANGLE QUOTATION MARK} "  # between dashboard and panel, as on the page


@dataclass(frozen=True)
class Metric:
    name: str  # as Prometheus sees it (a counter with `_total`)
    type: str
    labels: tuple[str, ...]
    service: str


def module_of(path: Path) -> str:
    """shared/pacta/web.py -> pacta.web; services/ingest/ingest/native.py -> ingest.native."""
    rel = path.relative_to(ROOT)
    parts = rel.parts[1:] if rel.parts[0] == "shared" else rel.parts[2:]
    return ".".join(parts).removesuffix(".py")


def code_metrics() -> dict[str, Metric]:
    """Every metric constructed in shared/ and services/, read from the imported objects."""
    found: dict[str, Metric] = {}
    written: set[str] = set()
    for folder in ("shared", "services"):
        for path in (ROOT / folder).rglob("*.py"):
            if "tests" in path.parts or not DEFINITION.search(text := path.read_text()):
                continue
            written |= {name for _, name in DEFINITION.findall(text)}
            module = importlib.import_module(module_of(path))
            for value in vars(module).values():
                if isinstance(value, MetricWrapperBase):
                    name = value._name + ("_total" if value._type == "counter" else "")
                    service = SERVICES[module.__name__.split(".")[0]]
                    found[name] = Metric(name, str(value._type), tuple(value._labelnames), service)
    # a metric built inside a function would escape the module scan: name it here
    missed = {n for n in written if n not in found and n + "_total" not in found}
    assert not missed, f"metrics not defined at module level: {sorted(missed)}"
    return found


def series_to_metric(series: str, metrics: dict[str, Metric]) -> str | None:
    if series in metrics:
        return series
    for suffix in HISTOGRAM_SUFFIXES:
        base = series.removesuffix(suffix)
        if base != series and metrics.get(base, Metric("", "", (), "")).type == "histogram":
            return base
    return None


def names_in(expr: str) -> set[str]:
    return set(METRIC_IN_EXPR.findall(re.sub(r'"[^"]*"', '""', expr)))


def panels() -> list[tuple[str, str, str]]:
    """(dashboard title, panel title, query) for every query of every shipped dashboard."""
    out = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            out += [(board["title"], panel["title"], t["expr"]) for t in panel.get("targets", [])]
    return out


def documented() -> dict[str, list[str]]:
    """metric -> the cells of its row in the page's table."""
    rows = {}
    for line in PAGE.read_text().splitlines():
        if line.startswith("| `pacta_"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            rows[cells[0].strip("`")] = cells
    return rows


@pytest.fixture(scope="module")
def metrics() -> dict[str, Metric]:
    return code_metrics()


def test_the_page_lists_exactly_the_metrics_the_code_exports(metrics: dict[str, Metric]) -> None:
    rows = documented()
    assert sorted(set(metrics) - set(rows)) == [], "exported but not in docs/metrics.md"
    assert sorted(set(rows) - set(metrics)) == [], "in docs/metrics.md but not in the code"


def test_type_labels_and_service_on_the_page_match_the_code(metrics: dict[str, Metric]) -> None:
    for name, (_, kind, labels, service, meaning, _shown) in documented().items():
        m = metrics[name]
        assert kind == m.type, f"{name}: the page says {kind}, the code {m.type}"
        page_labels = tuple(re.findall(r"`([a-z_]+)`", labels))
        assert page_labels == m.labels, f"{name}: labels {page_labels} on the page, {m.labels}"
        assert service == m.service, f"{name}: service {service} on the page, {m.service}"
        assert meaning, f"{name}: say what it means"


def test_the_page_names_the_panels_that_show_each_metric(metrics: dict[str, Metric]) -> None:
    shown: dict[str, set[str]] = {n: set() for n in metrics}
    for board, title, expr in panels():
        for series in names_in(expr) - BUILTIN:
            metric = series_to_metric(series, metrics)
            if metric:
                shown[metric].add(f"{board}{SEP}{title}")
    for name, cells in documented().items():
        page = {p.strip() for p in cells[5].split(";") if p.strip() and p.strip() != "—"}
        assert page == shown[name], (
            f"{name}: panels on the page {page}, in the dashboards {shown[name]}"
        )


def test_every_dashboard_query_names_defined_metrics(metrics: dict[str, Metric]) -> None:
    for board, title, expr in panels():
        names = names_in(expr)
        assert names, f"{board}{SEP}{title}: no metric in {expr!r}"
        unknown = {n for n in names - BUILTIN if series_to_metric(n, metrics) is None}
        assert not unknown, f"{board}{SEP}{title}: {sorted(unknown)} are not defined in the code"


def test_every_alert_rule_names_defined_metrics(metrics: dict[str, Metric]) -> None:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    rules = [r for g in groups for r in g["rules"]]
    assert rules
    for rule in rules:
        names = names_in(rule["expr"])
        assert names, f"{rule['alert']}: no metric in {rule['expr']!r}"
        unknown = {n for n in names - BUILTIN if series_to_metric(n, metrics) is None}
        assert not unknown, f"{rule['alert']}: {sorted(unknown)} are not defined in the code"
