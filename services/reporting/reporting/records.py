"""Ticket and monitoring events decoded lean: the JSON of an event as ingest writes it read
straight into what the read model takes of it (a ticket's view, a monitoring event's service),
without building the `TicketEvent` or `MonitoringEvent` model; anything else (an unusual field,
a name or timestamp of another form, a missing id) goes through the model, which decides.

The lean path accepts only what the model accepts and yields what the model's path yields, so
a record's fate and its effect on the read model do not depend on the path it took.
"""

from __future__ import annotations

from typing import Annotated, Literal, Required

from pydantic import ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError, with_config
from typing_extensions import TypedDict  # pydantic validates only this one on Python 3.11

from pacta.durations import datetime_to_ms
from pacta.events import (
    LABEL_VALUE_MAX,
    LABELS_MAX,
    NAME_MAX,
    SHORT_MAX,
    STATUS_MAX,
    TEXT_MAX,
    ChangeOutcome,
    MonitoringEvent,
    Priority,
    Severity,
    TicketAction,
    TicketEvent,
    TicketType,
)
from reporting.domain.instants import canonical_ms, hour_start_ms
from reporting.domain.ticket_life import TicketEventView


def ticket_id_of(e: TicketEvent) -> str:
    # ingest always sets an id; a record produced without one is identified by its content
    return e.id or e.content_id()


def ticket_view(e: TicketEvent) -> TicketEventView:
    return TicketEventView(
        event_id=ticket_id_of(e),
        occurred_ms=datetime_to_ms(e.occurred_at),
        ticket_id=e.ticket_id,
        service=e.service,
        type=e.type,
        action=e.action,
        priority=e.priority,
        outcome=e.outcome,
    )


def decode_ticket(raw: bytes) -> TicketEventView:
    """The view of a ticket event record; raises what `TicketEvent.model_validate_json` raises
    for a record it refuses."""
    view = _lean(raw)
    return ticket_view(TicketEvent.model_validate_json(raw)) if view is None else view


# Names the model takes as they are: printable ASCII without surrounding spaces (it strips
# names and refuses control and invisible characters). Instants in the forms Pacta writes.
_Name = Annotated[str, StringConstraints(pattern=rf"^[!-~](?:[ -~]{{0,{NAME_MAX - 2}}}[!-~])?$")]
_Text = Annotated[str, StringConstraints(max_length=TEXT_MAX, pattern=r"^[^\x00]*$")]
_Short = Annotated[str, StringConstraints(max_length=SHORT_MAX, pattern=r"^[^\x00]*$")]
_Status = Annotated[str, StringConstraints(max_length=STATUS_MAX, pattern=r"^[^\x00]*$")]
_Instant = Annotated[
    str,
    StringConstraints(
        pattern=r"^[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-5][0-9]:[0-5][0-9](?:\.[0-9]{3})?Z$"
    ),
]
# as the ingest writes them (pydantic's serializer: microseconds when there are any)
_EventInstant = Annotated[
    str,
    StringConstraints(
        pattern=r"^[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-5][0-9]:[0-5][0-9]"
        r"(?:\.[0-9]{3}|\.[0-9]{6})?Z$"
    ),
]
_LabelValue = Annotated[str, StringConstraints(max_length=LABEL_VALUE_MAX, pattern=r"^[^\x00]*$")]


@with_config(ConfigDict(extra="forbid"))
class _PlainTicketEvent(TypedDict, total=False):
    """The plain shape of `TicketEvent`: every field the model knows, each in a form the model
    takes unchanged; checked in pydantic-core without a Python validator, into a dict (no
    model instance to build: a replay decodes millions)."""

    id: Required[_Name]
    occurred_at: Required[_Instant]
    source: _Name | None
    summary: _Text | None
    labels: Annotated[dict[str, str], Field(max_length=0)] | None
    received_at: _Instant | None
    ticket_id: Required[_Name]
    service: Required[_Name]
    type: TicketType
    priority: Priority | None
    action: Required[TicketAction]
    status: _Status | None
    customer: _Name | None
    outcome: ChangeOutcome | None
    assignee: _Short | None


_PLAIN: TypeAdapter[_PlainTicketEvent] = TypeAdapter(_PlainTicketEvent)


def _lean(raw: bytes) -> TicketEventView | None:
    """The view, or None where only the model can tell."""
    try:
        e = _PLAIN.validate_json(raw)
    except ValidationError:
        return None
    occurred, received = e["occurred_at"], e.get("received_at")
    start = hour_start_ms(occurred[:14])
    if start is None or (received is not None and hour_start_ms(received[:14]) is None):
        return None  # no such day or hour: the model says what is wrong
    return TicketEventView(
        e["id"],
        canonical_ms(occurred, start),
        e["ticket_id"],
        e["service"],
        e.get("type", "incident"),
        e["action"],
        e.get("priority"),
        e.get("outcome"),
    )


def monitoring_service(raw: bytes) -> str:
    """The service a monitoring event record names (all the read model takes of it); raises
    what `MonitoringEvent.model_validate_json` raises for a record it refuses."""
    service = _lean_service(raw)
    return MonitoringEvent.model_validate_json(raw).service if service is None else service


def _lean_service(raw: bytes) -> str | None:
    """The service, or None where only the model can tell."""
    try:
        e = _PLAIN_MONITORING.validate_json(raw)
    except ValidationError:
        return None
    occurred, received = e["occurred_at"], e.get("received_at")
    if hour_start_ms(occurred[:14]) is None or (
        received is not None and hour_start_ms(received[:14]) is None
    ):
        return None  # no such day or hour: the model says what is wrong
    return e["service"]


@with_config(ConfigDict(extra="forbid"))
class _PlainMonitoringEvent(TypedDict, total=False):
    """The plain shape of `MonitoringEvent`, each field in a form the model takes unchanged
    (as `_PlainTicketEvent`)."""

    id: _Name | None
    occurred_at: Required[_EventInstant]
    source: _Name | None
    summary: _Text | None
    labels: Annotated[dict[_Name, _LabelValue], Field(max_length=LABELS_MAX)] | None
    received_at: _EventInstant | None
    service: Required[_Name]
    check: Required[_Name]
    status: Required[Literal["firing", "resolved"]]
    severity: Severity


_PLAIN_MONITORING: TypeAdapter[_PlainMonitoringEvent] = TypeAdapter(_PlainMonitoringEvent)
