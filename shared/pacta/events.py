"""The wire contracts: events and signals as they travel on Kafka, topic names and keys.

Every record is a CloudEvents 1.0 event in the Kafka binary binding: the value is the JSON of one
model below, the CloudEvents attributes ride in `ce_*` headers, the key keeps related events in order.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
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
ALL_TOPICS = (MONITORING_TOPIC, TICKETS_TOPIC, SIGNALS_TOPIC, FACTS_TOPIC)

MONITORING_TYPE = "io.pacta.monitoring"
TICKET_TYPE = "io.pacta.ticket"
SIGNAL_TYPE = "io.pacta.signal"
FACT_TYPE = "io.pacta.sla_fact"


def topic_name(prefix: str, suffix: str) -> str:
    return f"{prefix}.{suffix}" if prefix else suffix


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(max_length=4096)]
UtcTime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
Labels = Annotated[
    dict[Name, Annotated[str, StringConstraints(max_length=1024)]], Field(max_length=64)
]
Severity = Literal["critical", "major", "minor", "warning", "info"]
Priority = Literal["P1", "P2", "P3", "P4"]
TicketType = Literal["incident", "service_request", "problem", "change"]
TicketAction = Literal["created", "updated", "responded", "resolved", "closed", "reopened"]


class _Event(BaseModel):
    """Fields and checks common to both inbound event kinds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
        | None
    ) = None
    occurred_at: UtcTime
    source: Name = "api"
    summary: Text | None = None
    labels: Labels = Field(default_factory=dict)
    received_at: UtcTime | None = None

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
    """SPEC §3.1: one monitored condition of a service firing or resolving."""

    service: Name
    check: Name
    status: Literal["firing", "resolved"]
    severity: Severity = "critical"

    @property
    def key(self) -> str:
        return self.service


class TicketEvent(_Event):
    """SPEC §3.2: one step in a ticket's life."""

    ticket_id: Name
    service: Name
    type: TicketType = "incident"
    priority: Priority | None = None
    action: TicketAction
    status: Annotated[str, StringConstraints(max_length=100)] | None = None
    customer: Name | None = None
    outcome: Literal["successful", "failed"] | None = None
    assignee: Annotated[str, StringConstraints(max_length=200)] | None = None

    @property
    def key(self) -> str:
        return self.ticket_id


SignalKind = Literal[
    "warning",
    "breach",
    "met",
    "retracted",
    "availability_warning",
    "availability_breach",
    "burn_rate",
    "recovered",
]


class Signal(BaseModel):
    """SPEC §4.4: what the sla-engine concludes; keyed by service on Kafka."""

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

    @property
    def key(self) -> str:
        return self.service


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
