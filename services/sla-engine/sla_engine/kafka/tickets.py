"""Ticket events as the engine applies them: lean `TicketRecord`s decoded from the consumed
records, on a fast path for the events `pacta.events.TicketEvent` takes as they are, through
the model for everything else (so every record is judged exactly as the model judges it)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple, cast, get_args

import orjson

from pacta.durations import datetime_to_ms
from pacta.events import (
    LABEL_VALUE_MAX,
    LABELS_MAX,
    NAME_MAX,
    SHORT_MAX,
    STATUS_MAX,
    TEXT_MAX,
    ChangeOutcome,
    Priority,
    TicketAction,
    TicketEvent,
    TicketType,
)

_KNOWN = frozenset(TicketEvent.model_fields)
_TYPES = frozenset(get_args(TicketType))
_PRIORITIES = frozenset(get_args(Priority))
_ACTIONS = frozenset(get_args(TicketAction))
_OUTCOMES = frozenset(get_args(ChangeOutcome))
# RFC 3339 in the one spelling every sender uses (upper-case T and Z, at most microseconds);
# any other spelling the model may take goes through it
_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})", re.ASCII
)


class TicketRecord(NamedTuple):
    """One ticket event, with the attributes of `TicketEvent` the engine reads (same names,
    same values), `journal`, the JSON the journal keeps of it (`model_dump_json`'s), and
    `at_ms`, `occurred_at` in epoch milliseconds (read once, as the event is decoded)."""

    id: str | None
    ticket_id: str
    service: str
    customer: str | None
    type: str
    action: TicketAction
    status: str | None
    priority: str | None
    occurred_at: datetime
    labels: dict[str, str]
    journal: str
    at_ms: int


def ticket_record(event: TicketEvent) -> TicketRecord:
    """The record of a validated model."""
    return TicketRecord(
        event.id,
        event.ticket_id,
        event.service,
        event.customer,
        event.type,
        event.action,
        event.status,
        event.priority,
        event.occurred_at,
        event.labels,
        event.model_dump_json(),
        datetime_to_ms(event.occurred_at),
    )


def decode_ticket(value: bytes) -> TicketRecord:
    """The record of one ticket event's JSON; raises ValueError where the model does."""
    return fast_ticket(value) or ticket_record(TicketEvent.model_validate_json(value))


def fast_ticket(value: bytes) -> TicketRecord | None:
    """The record, when the JSON holds only values the model keeps as they are (names already
    stripped and printable ASCII, timestamps in `_TIME`'s spelling, ...); None: let the model
    judge (it may still take the event, or reject it)."""
    try:
        d = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    if type(d) is not dict or not _KNOWN.issuperset(d):
        return None
    g: Callable[..., Any] = d.get  # the values are checked below
    event_id, ticket_id, service, customer = g("id"), g("ticket_id"), g("service"), g("customer")
    source, labels = g("source"), g("labels")
    if source is None:
        source = "api"  # null is absent, as in the model
    if labels is None:
        labels = {}
    kind, action, priority = g("type", "incident"), g("action"), g("priority")
    summary, status, outcome, assignee = g("summary"), g("status"), g("outcome"), g("assignee")
    if not (
        _name(ticket_id)
        and _name(service)
        and _name(source)
        and (event_id is None or _name(event_id))
        and (customer is None or _name(customer))
        and type(kind) is str
        and kind in _TYPES
        and type(action) is str
        and action in _ACTIONS
        and (priority is None or (type(priority) is str and priority in _PRIORITIES))
        and (outcome is None or (type(outcome) is str and outcome in _OUTCOMES))
        and (summary is None or _text(summary, TEXT_MAX))
        and (status is None or _text(status, STATUS_MAX))
        and (assignee is None or _text(assignee, SHORT_MAX))
        and _labels(labels)
    ):
        return None
    occurred_at = _instant(g("occurred_at"))
    received = g("received_at")
    received_at = None if received is None else _instant(received)
    if occurred_at is None or (received is not None and received_at is None):
        return None
    body: dict[str, Any] = {
        "id": event_id,
        "occurred_at": occurred_at,
        "source": source,
        "summary": summary,
        "labels": labels,
        "received_at": received_at,
        "ticket_id": ticket_id,
        "service": service,
        "type": kind,
        "priority": priority,
        "action": action,
        "status": status,
        "customer": customer,
        "outcome": outcome,
        "assignee": assignee,
    }
    journal = orjson.dumps(body, option=orjson.OPT_UTC_Z).decode()
    return TicketRecord(
        event_id,
        ticket_id,
        service,
        customer,
        kind,
        cast(TicketAction, action),  # one of them: checked above
        status,
        priority,
        occurred_at,
        labels,
        journal,
        datetime_to_ms(occurred_at),
    )


def _name(value: Any) -> bool:
    """A `Name` the model keeps as it is: 1 to NAME_MAX printable ASCII characters (no control
    character), nothing to strip at either end."""
    return (
        type(value) is str
        and 0 < len(value) <= NAME_MAX
        and value.isascii()
        and value.isprintable()
        and value[0] != " "
        and value[-1] != " "
    )


def _text(value: Any, longest: int) -> bool:
    return type(value) is str and len(value) <= longest and "\x00" not in value


def _labels(value: Any) -> bool:
    return (
        type(value) is dict
        and len(value) <= LABELS_MAX
        and all(_name(k) and _text(v, LABEL_VALUE_MAX) for k, v in value.items())
    )


def _instant(value: Any) -> datetime | None:
    """The instant in UTC, as the model has it; None: not in `_TIME`'s spelling, or no
    instant (the model judges)."""
    if type(value) is not str or _TIME.fullmatch(value) is None:
        return None
    try:
        return datetime.fromisoformat(value).astimezone(UTC)
    except (ValueError, OverflowError):
        return None
