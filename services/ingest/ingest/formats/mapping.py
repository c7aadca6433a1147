"""Per-source mappings of the native formats, with the defaults of docs/integrations.md; loadable
from a YAML file at start-up (PACTA_INGEST_MAPPINGS_FILE, see docs/integrations.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, StringConstraints, ValidationError

from pacta.events import Priority, Severity, TicketType

Format = Literal["alertmanager", "grafana", "pagerduty", "cloudevents", "jira", "servicenow"]
FORMATS: tuple[Format, ...] = (
    "alertmanager",
    "grafana",
    "pagerduty",
    "cloudevents",
    "jira",
    "servicenow",
)
SourceName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
Category = Literal["new", "indeterminate", "done"]
_STRICT = ConfigDict(extra="forbid", frozen=True)

_ALERT_SEVERITIES: dict[str, Severity] = {
    "critical": "critical", "page": "critical", "error": "major", "major": "major",
    "high": "major", "minor": "minor", "warning": "warning", "warn": "warning",
    "info": "info", "informational": "info", "none": "info",
}  # fmt: skip


class AlertMapping(BaseModel):
    """Alertmanager and Grafana: labels to service, check and severity."""

    model_config = _STRICT
    format: Literal["alertmanager", "grafana"] = "alertmanager"
    service_label: str = "service"
    default_service: str | None = Field(
        None, description="service of an alert without the label (else the request is refused)"
    )
    check_label: str = "alertname"
    severity_label: str = "severity"
    severities: dict[str, Severity] = Field(default_factory=lambda: dict(_ALERT_SEVERITIES))
    default_severity: Severity = "critical"


_PD_SEVERITIES: dict[str, Severity] = {
    "critical": "critical", "error": "major", "warning": "warning", "info": "info"
}  # fmt: skip


class PagerDutyMapping(BaseModel):
    model_config = _STRICT
    format: Literal["pagerduty"] = "pagerduty"
    severities: dict[str, Severity] = Field(default_factory=lambda: dict(_PD_SEVERITIES))


class CloudEventsMapping(BaseModel):
    model_config = _STRICT
    format: Literal["cloudevents"] = "cloudevents"


_JIRA_PRIORITIES: dict[str, Priority] = {
    "highest": "P1", "high": "P2", "medium": "P3", "low": "P4", "lowest": "P4",
    "p1": "P1", "p2": "P2", "p3": "P3", "p4": "P4",
}  # fmt: skip
_JIRA_CATEGORIES: dict[str, Category] = {
    "open": "new", "to do": "new", "new": "new", "backlog": "new", "waiting for support": "new",
    "done": "done", "resolved": "done", "closed": "done", "canceled": "done",
    "cancelled": "done", "declined": "done", "won't do": "done",
}  # fmt: skip

_JIRA_TYPES: dict[str, TicketType] = {
    "incident": "incident", "[system] incident": "incident",
    "service request": "service_request", "[system] service request": "service_request",
    "problem": "problem", "[system] problem": "problem",
    "change": "change", "[system] change": "change",
}  # fmt: skip
_SN_PRIORITIES: dict[str, Priority] = {"1": "P1", "2": "P2", "3": "P3", "4": "P4", "5": "P4"}


class JiraMapping(BaseModel):
    """Jira (Service Management) issue webhooks. Names are compared case-insensitively."""

    model_config = _STRICT
    format: Literal["jira"] = "jira"
    service_field: str | None = Field(
        None, description="issue field holding the service (e.g. customfield_10057); else "
        "the first component, else the project key"
    )  # fmt: skip
    customer_field: str | None = None
    priorities: dict[str, Priority] = Field(default_factory=lambda: dict(_JIRA_PRIORITIES))
    status_categories: dict[str, Category] = Field(
        default_factory=lambda: dict(_JIRA_CATEGORIES),
        description="category of a status name when the payload does not say (a changelog's "
        "`from` status); other names count as `indeterminate`",
    )  # fmt: skip
    statuses: dict[str, str] = Field(
        default_factory=dict,
        description="Jira status name -> Pacta status; others become lower_case_underscored",
    )
    issue_types: dict[str, TicketType] = Field(default_factory=lambda: dict(_JIRA_TYPES))
    default_type: TicketType = "incident"
    webhook_secret: SecretStr | None = Field(
        None,
        description="the secret of a Jira admin webhook: a delivery whose X-Hub-Signature "
        "(sha256=HMAC of the body) matches is authenticated without an API key",
    )


class ServiceNowMapping(BaseModel):
    """ServiceNow incident records (Table API shape); codes are the choice values."""

    model_config = _STRICT
    format: Literal["servicenow"] = "servicenow"
    service_fields: list[str] = Field(default_factory=lambda: ["business_service", "cmdb_ci"])
    default_service: str | None = None
    customer_field: str | None = None
    priorities: dict[str, Priority] = Field(default_factory=lambda: dict(_SN_PRIORITIES))
    states: dict[str, str] = Field(
        default_factory=lambda: {
            "1": "new", "2": "in_progress", "3": "on_hold", "6": "resolved", "7": "closed",
            "8": "canceled",
        }
    )  # fmt: skip
    hold_reasons: dict[str, str] = Field(
        default_factory=lambda: {
            "1": "waiting_for_customer", "3": "awaiting_problem", "4": "awaiting_vendor",
            "5": "awaiting_change",
        }
    )  # fmt: skip
    on_hold_states: list[str] = Field(default_factory=lambda: ["3"])
    responded_states: list[str] = Field(default_factory=lambda: ["2"])
    resolved_states: list[str] = Field(default_factory=lambda: ["6"])
    closed_states: list[str] = Field(default_factory=lambda: ["7", "8"])
    default_type: TicketType = "incident"


Mapping = AlertMapping | PagerDutyMapping | CloudEventsMapping | JiraMapping | ServiceNowMapping
_TYPES: dict[str, type[BaseModel]] = {
    "alertmanager": AlertMapping,
    "grafana": AlertMapping,
    "pagerduty": PagerDutyMapping,
    "cloudevents": CloudEventsMapping,
    "jira": JiraMapping,
    "servicenow": ServiceNowMapping,
}


class Mappings:
    """Named sources, each a format and its mapping; every format's own name is a source."""

    def __init__(self, sources: dict[str, BaseModel] | None = None) -> None:
        self.sources: dict[str, BaseModel] = {f: default_mapping(f) for f in FORMATS}
        self.sources.update(sources or {})

    def get(self, fmt: str, source: str) -> BaseModel | None:
        """The mapping of `source` if it is of format `fmt`."""
        mapping = self.sources.get(source)
        if mapping is None or getattr(mapping, "format", None) != fmt:
            return None
        return mapping


def default_mapping(fmt: str) -> BaseModel:
    if fmt == "grafana":
        return AlertMapping(format="grafana")
    return _TYPES[fmt]()


def load_mappings(path: str | Path | None) -> Mappings:
    """Read `sources: {name: {format: ..., ...}}`; a name equal to a format needs no `format`.
    Raises ValueError naming the entry at fault, so a bad file stops the start-up."""
    if not path:
        return Mappings()
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"mappings file {path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("sources", {}), dict):
        raise ValueError(f"mappings file {path}: expected `sources:` holding named mappings")
    extra = set(data) - {"sources"}
    if extra:
        raise ValueError(f"mappings file {path}: unknown top-level keys {sorted(extra)}")
    sources: dict[str, BaseModel] = {}
    for name, body in (data.get("sources") or {}).items():
        body = dict(body or {})
        fmt = body.setdefault("format", name if name in _TYPES else None)
        if fmt not in _TYPES:
            raise ValueError(f"mappings file {path}: sources.{name}.format must be one of "
                             f"{', '.join(FORMATS)}")  # fmt: skip
        try:
            SourceNameCheck.model_validate({"name": name})
            sources[name] = _TYPES[fmt].model_validate(body)
        except ValidationError as exc:
            raise ValueError(f"mappings file {path}: sources.{name}: {exc}") from None
    return Mappings(sources)


class SourceNameCheck(BaseModel):
    name: SourceName
