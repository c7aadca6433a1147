"""The mappings file: named sources per format, the default mappings, start-up errors naming the entry."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ingest.formats.mapping import (
    AlertMapping,
    JiraMapping,
    ServiceNowMapping,
    default_mapping,
    load_mappings,
)


def test_no_file_gives_every_format_its_defaults() -> None:
    mappings = load_mappings(None)
    jira = mappings.get("jira", "jira")
    assert isinstance(jira, JiraMapping)
    assert jira.priorities["highest"] == "P1"
    assert jira.service_field is None
    grafana = mappings.get("grafana", "grafana")
    assert isinstance(grafana, AlertMapping)
    assert grafana.service_label == "service"
    assert mappings.get("jira", "servicenow") is None  # a source belongs to one format
    assert mappings.get("jira", "jira-eu") is None


def test_named_sources_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "mappings.yml"
    path.write_text(
        """
sources:
  alertmanager:
    service_label: app
  jira-eu:
    format: jira
    service_field: customfield_10057
    priorities: {Blocker: P1, Major: P2}
  servicenow:
    hold_reasons: {"1": awaiting_caller}
"""
    )
    mappings = load_mappings(path)
    am = mappings.get("alertmanager", "alertmanager")
    assert isinstance(am, AlertMapping)
    assert am.service_label == "app"
    eu = mappings.get("jira", "jira-eu")
    assert isinstance(eu, JiraMapping)
    assert eu.priorities == {"Blocker": "P1", "Major": "P2"}
    assert mappings.get("jira", "jira") == default_mapping("jira")
    sn = mappings.get("servicenow", "servicenow")
    assert isinstance(sn, ServiceNowMapping)
    assert sn.hold_reasons == {"1": "awaiting_caller"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sources:\n  jira-eu: {service_field: x}\n", "sources.jira-eu.format"),
        ("sources:\n  jira: {priorities: {High: P9}}\n", "sources.jira"),
        ("sources:\n  jira: {unknown_option: 1}\n", "sources.jira"),
        ("jira: {}\n", "unknown top-level keys"),
        ("sources:\n  'bad name': {format: jira}\n", "sources.bad name"),
        ("sources: [1]\n", "expected `sources:`"),
        ("sources: {jira: {priorities: [}\n", "mappings file"),
    ],
)
def test_a_bad_file_stops_the_start_up_naming_the_entry(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "mappings.yml"
    path.write_text(text)
    with pytest.raises(ValueError, match="mappings file") as info:
        load_mappings(path)
    assert message in str(info.value)


def test_a_missing_file_stops_the_start_up(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="mappings file"):
        load_mappings(tmp_path / "absent.yml")


def test_the_defaults_shown_in_the_docs_are_the_codes() -> None:
    text = (Path(__file__).resolve().parents[4] / "docs" / "integrations.md").read_text()
    blocks = [b.split("```", 1)[0] for b in text.split("```yaml\n")[1:]]
    (shown,) = [b for b in blocks if "default_severity" in b and "hold_reasons" in b]
    data = yaml.safe_load(shown)
    for name, body in data["sources"].items():
        assert default_mapping(name).model_dump() == body, name


def test_the_example_in_the_docs_loads(tmp_path: Path) -> None:
    text = (Path(__file__).resolve().parents[4] / "docs" / "integrations.md").read_text()
    blocks = [b.split("```", 1)[0] for b in text.split("```yaml\n")[1:]]
    (example,) = [b for b in blocks if "jira-eu" in b]
    path = tmp_path / "mappings.yml"
    path.write_text(example)
    eu = load_mappings(path).get("jira", "jira-eu")
    assert isinstance(eu, JiraMapping)
    assert eu.priorities["Blocker"] == "P1"
