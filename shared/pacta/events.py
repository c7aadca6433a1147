"""The wire contracts: events and signals as they travel on Kafka, topic names and keys.

Every record is a CloudEvents 1.0 event in the Kafka binary binding: the value is the JSON of
one model below, the CloudEvents attributes ride in `ce_*` headers, the key keeps related events
in order.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

SPEC_VERSION = "1.0"
MAX_PAST = timedelta(days=400)
MAX_FUTURE = timedelta(minutes=5)

# Topic suffixes; the full name is f"{prefix}.{suffix}" so a test run can use its own prefix.
MONITORING_TOPIC = "events.monitoring"
TICKETS_TOPIC = "events.tickets"
SIGNALS_TOPIC = "signals"
FACTS_TOPIC = "sla.facts"
CALENDARS_TOPIC = "sla.calendars"
"""Compacted: key = calendar name, value = `CalendarRecord` JSON, a null value deletes it."""
POLICIES_TOPIC = "sla.policies"
"""Compacted: key = policy name, value = `PolicyRecord` JSON with every version (a deletion is
a version too, so a policy's history is never lost to compaction)."""
REPORTS_TOPIC = "reports.issued"
"""Key = subscription name, value = `ReportIssued` JSON: a revision of a monthly report for one
subscription, which alerting delivers to the subscription's receiver."""
ALL_TOPICS = (
    MONITORING_TOPIC,
    TICKETS_TOPIC,
    SIGNALS_TOPIC,
    FACTS_TOPIC,
    CALENDARS_TOPIC,
    POLICIES_TOPIC,
    REPORTS_TOPIC,
)
COMPACTED_TOPICS = frozenset({CALENDARS_TOPIC, POLICIES_TOPIC})

MONITORING_TYPE = "io.pacta.monitoring"
TICKET_TYPE = "io.pacta.ticket"
SIGNAL_TYPE = "io.pacta.signal"
FACT_TYPE = "io.pacta.sla_fact"
CALENDAR_TYPE = "io.pacta.calendar"
POLICY_TYPE = "io.pacta.policy"


def topic_name(prefix: str, suffix: str) -> str:
    return f"{prefix}.{suffix}" if prefix else suffix


def _to_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+14:00 has no UTC instant in Python's range
        raise ValueError("lies outside the representable range of years 1-9999") from None


# RFC 3339 section 5.6 (seconds required, an offset required; a space may stand for the T).
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:(\d{2})(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})", re.ASCII
)
_NO_OFFSET = re.compile(r"\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?", re.ASCII)


def _rfc3339(value: Any) -> Any:
    """Hold inbound timestamps to RFC 3339 with an offset; pydantic alone would also take epoch
    numbers, numeric strings, `+0000` and times without seconds. Datetime objects (built by the
    format adapters, which parse what their tools really send) pass through."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError("must be an RFC 3339 timestamp string such as 2025-01-31T09:00:00Z")
    match = _RFC3339.fullmatch(value)
    if match is None:
        if _NO_OFFSET.fullmatch(value):
            raise ValueError("needs an offset (Z or +hh:mm)")
        raise ValueError("is not an RFC 3339 timestamp such as 2025-01-31T09:00:00Z")
    if match.group(1) == "60":
        raise ValueError("leap seconds (:60) are not supported")
    return value


# Control and invisible formatting characters (NUL, newlines, bidi overrides, zero-width
# spaces) make names that PostgreSQL refuses or that look like another service's name.
_NAME_FORBIDDEN = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]"
)


def _clean_name(value: str) -> str:
    if _NAME_FORBIDDEN.search(value):
        raise ValueError("must not contain control or invisible formatting characters")
    return value


def _no_nul(value: str) -> str:
    # PostgreSQL text and jsonb cannot hold NUL: let through, it would jam every consumer.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


NAME_MAX = 200
TEXT_MAX = 4096
SHORT_MAX = 200
STATUS_MAX = 100
LABEL_VALUE_MAX = 1024
LABELS_MAX = 64
"""The longest a name, a summary, a short text, a ticket status, a label's value may be, and
the most labels an event may carry (a lean decoder checks the same limits)."""

Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX),
    AfterValidator(_clean_name),
]
Text = Annotated[str, StringConstraints(max_length=TEXT_MAX), AfterValidator(_no_nul)]
Short = Annotated[str, StringConstraints(max_length=SHORT_MAX), AfterValidator(_no_nul)]
TicketStatus = Annotated[str, StringConstraints(max_length=STATUS_MAX), AfterValidator(_no_nul)]
UtcTime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
EventTime = Annotated[AwareDatetime, BeforeValidator(_rfc3339), AfterValidator(_to_utc)]
Labels = Annotated[
    dict[
        Name,
        Annotated[str, StringConstraints(max_length=LABEL_VALUE_MAX), AfterValidator(_no_nul)],
    ],
    Field(max_length=LABELS_MAX),
]
Severity = Literal["critical", "major", "minor", "warning", "info"]
Priority = Literal["P1", "P2", "P3", "P4"]
TicketType = Literal["incident", "service_request", "problem", "change"]
TicketAction = Literal["created", "updated", "responded", "resolved", "closed", "reopened"]
ChangeOutcome = Literal["successful", "failed"]


class _Event(BaseModel):
    """Fields and checks common to both inbound event kinds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Name | None = None
    occurred_at: EventTime
    source: Name = "api"
    summary: Text | None = None
    labels: Labels = Field(default_factory=dict)
    received_at: UtcTime | None = None

    @field_validator("source", "labels", mode="before")
    @classmethod
    def _null_is_absent(cls, value: Any, info: ValidationInfo) -> Any:
        # one rule for every optional field: null means "not given" (as for id and summary),
        # so the default applies and the content id is the same as without the field
        if value is None:
            return {} if info.field_name == "labels" else "api"
        return value

    @field_validator("occurred_at")
    @classmethod
    def _within_window(cls, value: datetime, info: ValidationInfo) -> datetime:
        # Backfills up to 400 days are normal; a future beyond clock skew is a sender bug.
        now = (info.context or {}).get("now")
        if isinstance(now, datetime):
            if value > now + MAX_FUTURE:
                raise ValueError("lies more than 5 minutes in the future")
            if value < now - MAX_PAST:
                raise ValueError("lies more than 400 days in the past")
        return value

    def content_id(self) -> str:
        """A deterministic id from the content, so a sender's retry without an id counts once."""
        body = self.model_dump(mode="json", exclude={"id", "received_at"})
        digest = hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()
        return "sha256-" + digest[:40]

    def with_identity(self, received_at: datetime) -> _Event:
        return self.model_copy(
            update={"id": self.id or self.content_id(), "received_at": received_at}
        )


class MonitoringEvent(_Event):
    """A generic monitoring event: one monitored condition of a service firing or resolving."""

    service: Name
    check: Name
    status: Literal["firing", "resolved"]
    severity: Severity = "critical"

    @property
    def key(self) -> str:
        return self.service


class TicketEvent(_Event):
    """A generic ticket event: one step in a ticket's life."""

    ticket_id: Name
    service: Name
    type: TicketType = "incident"
    priority: Priority | None = None
    action: TicketAction
    status: TicketStatus | None = None
    customer: Name | None = None
    outcome: ChangeOutcome | None = None
    assignee: Short | None = None

    @property
    def key(self) -> str:
        return self.ticket_id


SignalKind = Literal[
    "warning",
    "breach",
    "met",
    "stopped",
    "retracted",
    "availability_warning",
    "availability_breach",
    "burn_rate",
    "recovered",
]


class Signal(BaseModel):
    """What the sla-engine concludes about a clock or an availability; keyed by service on Kafka."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    signal_id: str
    kind: SignalKind
    service: str
    policy: str | None = None
    metric: Literal["response", "resolution", "availability"]
    ticket_id: str | None = None
    priority: str | None = None
    threshold: float | None = None
    deadline: UtcTime | None = None
    occurred_at: UtcTime
    detected_at: UtcTime
    customer: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    late: bool = False
    retracts: str | None = None
    elapsed_seconds: float | None = None
    target_seconds: float | None = None
    summary: str | None = None
    policy_version: int | None = None
    """The version of `policy` the condition was computed under (docs/design.md)."""
    calendar_version: int | None = None
    """The version of the policy's calendar in effect at `occurred_at`."""

    @property
    def key(self) -> str:
        return self.service


class ResourceVersion(BaseModel):
    """One version of a policy or calendar: in effect from `effective_from` (None: since always,
    the first version) until the next version's `effective_from`."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    version: int
    effective_from: UtcTime | None = None
    recorded_at: UtcTime
    spec: dict[str, Any] | None = None
    """The resource's body as PUT (docs/api.md); None: deleted from `effective_from` on."""


class CalendarRecord(BaseModel):
    """A business calendar as the sla-engine publishes it on the compacted calendars topic, so
    other services (alerting's time intervals, reporting's agreed service time) hold a copy."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    timezone: str
    hours: dict[str, list[str]]
    holidays: list[str] = Field(default_factory=list)
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    updated_at: UtcTime | None = None
    version: int | None = None
    """The version the fields above are (the one in effect when the record was written)."""
    versions: list[ResourceVersion] = Field(default_factory=list)
    """Every version of the calendar, oldest first (`spec`: timezone, hours, holidays, ...)."""


class PolicyRecord(BaseModel):
    """A policy's whole history as the sla-engine publishes it on the compacted policies
    topic, so reports can say which targets were in force over which part of a month."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    versions: list[ResourceVersion]


class ReportIssued(BaseModel):
    """A revision of a monthly report issued for one report subscription (reporting produces
    it, alerting delivers it: an e-mail with the report attached, or a link)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    delivery_id: str
    """Stable per subscription and revision: a record delivered twice is queued once."""
    subscription: str
    receiver: str
    month: str
    tz: str
    revision: int
    published_at: str
    services: list[str] | None = None
    format: str
    filename: str
    content_type: str
    content_base64: str | None = None
    """The report itself; None when too large for a record (the link stands in)."""
    link: str
    """Where the revision is served as issued (relative to reporting's base URL)."""
    summary: list[dict[str, Any]] = []
    """Per service: availability and compliance with whether each met its target."""


def cloudevent_headers(
    *, event_id: str, ce_type: str, source: str, time: datetime | str, key: str
) -> list[tuple[str, bytes]]:
    """Headers of the CloudEvents Kafka binary binding (`ce_` prefix, UTF-8 values)."""
    if isinstance(time, datetime):
        time = time.isoformat()
    return [
        ("ce_specversion", SPEC_VERSION.encode()),
        ("ce_id", event_id.encode()),
        ("ce_type", ce_type.encode()),
        ("ce_source", source.encode()),
        ("ce_time", time.encode()),
        ("ce_partitionkey", key.encode()),
        ("content-type", b"application/json"),
    ]


def header(headers: Any, name: str) -> str | None:
    """Read one header from aiokafka's sequence of (name, bytes) pairs."""
    for key, value in headers or ():
        if key == name:
            return bytes(value).decode() if value is not None else None
    return None
