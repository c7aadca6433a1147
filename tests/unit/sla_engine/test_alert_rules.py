"""The alert rules on Pacta itself are what docs/operations.md promises: every metric the page
says is worth alerting on has a rule, and every rule's metrics exist in the code."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tests.unit.test_deploy_config import BUILTIN_METRICS, defined_metrics, exposed_names

ROOT = Path(__file__).resolve().parents[3]
RULES = ROOT / "deploy/prometheus/pacta.rules.yml"
OPERATIONS = ROOT / "docs/operations.md"
METRIC = re.compile(r"\b(pacta_[a-z0-9_]+|up)\b(?!\s*\()")


def rule_exprs() -> list[str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def test_every_metric_operations_names_for_alerting_has_a_rule() -> None:
    text = OPERATIONS.read_text()
    section = text[text.index("Metrics worth alerting on") :]
    section = section[: section.index("\n\n")]
    promised = {m.split("{")[0] for m in re.findall(r"`((?:pacta_|up)[^`]*)`", section)}
    assert len(promised) >= 6
    in_rules = {name for expr in rule_exprs() for name in METRIC.findall(expr)}
    in_rules |= {n.removesuffix("_bucket") for n in in_rules}
    assert {p.split()[0] for p in promised} <= in_rules


def test_rules_query_only_metrics_the_code_defines() -> None:
    known = exposed_names(defined_metrics()) | BUILTIN_METRICS
    for expr in rule_exprs():
        names = set(METRIC.findall(expr))
        assert names, expr
        assert names <= known, f"{sorted(names - known)} in {expr!r}"
