"""Request bodies of the generic endpoints into validated events: one object or an array, and
a batch is all or nothing (one bad element rejects the request, naming `<index>.<field>`).

A valid body is validated straight from its bytes, one `validate_json` for the whole array; any
body that fails there is parsed again the careful way, which names every error exactly.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import orjson
from pydantic import TypeAdapter, ValidationError

from pacta.events import MonitoringEvent, TicketEvent
from pacta.problems import Problem, validation_errors

Kind = Literal["monitoring", "ticket"]
Event = MonitoringEvent | TicketEvent

#: Errors listed in one problem document at most (the detail names the first five).
MAX_ERRORS = 100
_ADAPTERS: dict[Kind, TypeAdapter[Any]] = {
    "monitoring": TypeAdapter(MonitoringEvent),
    "ticket": TypeAdapter(TicketEvent),
}
_LIST_ADAPTERS: dict[Kind, TypeAdapter[list[Any]]] = {
    "monitoring": TypeAdapter(list[MonitoringEvent]),
    "ticket": TypeAdapter(list[TicketEvent]),
}
_BLANK = b" \t\r\n"


def parse_events(raw: bytes, kind: Kind, *, now: datetime, max_batch: int) -> list[Event]:
    """Parse and validate a body; raise a Problem (400, 413 or 422) naming what is wrong.

    `now` is the receipt time the `occurred_at` window is checked against.
    """
    events = _fast(raw, kind, now)
    if events is not None and 0 < len(events) <= max_batch:
        return events
    return _careful(raw, kind, now=now, max_batch=max_batch)


def _fast(raw: bytes, kind: Kind, now: datetime) -> list[Event] | None:
    """The events of a valid body, or None when anything is off (the careful path says what)."""
    first = raw[:1]
    if first and first in _BLANK:
        first = raw.lstrip(_BLANK)[:1]
    context = {"now": now}
    try:
        if first == b"[":
            events: list[Event] = _LIST_ADAPTERS[kind].validate_json(raw, context=context)
        elif first == b"{":
            events = [_ADAPTERS[kind].validate_json(raw, context=context)]
        else:
            return None
    except ValidationError:
        return None
    # received_at is Pacta's to set: a body carrying it is refused, by the careful path
    if any(e.received_at is not None for e in events):
        return None
    return events


def _careful(raw: bytes, kind: Kind, *, now: datetime, max_batch: int) -> list[Event]:
    try:
        # orjson refuses invalid UTF-8, NaN/Infinity, numbers beyond a double and nesting
        # deeper than 1024, so none of those reaches validation.
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise Problem(400, "Malformed JSON", str(exc)) from None
    is_batch = isinstance(data, list)
    items: list[Any] = data if is_batch else [data]
    if not items:
        error = {"field": "body", "message": "the array holds no event"}
        raise Problem(422, "Empty batch", "body: the array holds no event", errors=[error])
    if len(items) > max_batch:
        raise Problem(413, "Batch too large", f"at most {max_batch} events per request")
    adapter = _ADAPTERS[kind]
    context = {"now": now}
    events: list[Event] = []
    errors: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        where = f"{i}." if is_batch else ""
        if not isinstance(item, dict):
            errors.append({"field": f"{i}" if is_batch else "body", "message": "not an object"})
            continue
        if "received_at" in item:
            # An internal field: the receipt time is Pacta's to set, never the sender's.
            errors.append({"field": where + "received_at", "message": "set by Pacta, not sent"})
            continue
        try:
            events.append(adapter.validate_python(item, context=context))
        except ValidationError as exc:
            errors.extend(
                {"field": where + e["field"], "message": e["message"].removeprefix("Value error, ")}
                for e in validation_errors(exc.errors())
            )
        if len(errors) >= MAX_ERRORS:
            break
    if errors:
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        raise Problem(422, "Invalid event", detail, errors=errors[:MAX_ERRORS])
    return events
