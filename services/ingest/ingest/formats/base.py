"""What every format adapter shares: the signature, the error naming a field, event building."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol, TypeVar

import orjson
from pydantic import ValidationError

from pacta.events import MonitoringEvent, TicketEvent
from pacta.problems import validation_errors

Event = MonitoringEvent | TicketEvent
M_contra = TypeVar("M_contra", contravariant=True)
E = TypeVar("E", MonitoringEvent, TicketEvent)


class FormatError(Exception):
    """A request the adapter refuses: `field` names the part of the tool's payload at fault."""

    def __init__(self, field: str, message: str, status: int = 422) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message, self.status = field, message, status


class Adapter(Protocol[M_contra]):
    """Raw body bytes + headers (lower-case names) + the source's mapping + receipt time -> the
    generic events, or a FormatError. Pure: no I/O, `now` is passed in."""

    def __call__(
        self, body: bytes, headers: Mapping[str, str], mapping: M_contra, now: datetime
    ) -> list[Event]: ...


def load_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise FormatError("body", f"malformed JSON: {exc}", status=400) from None


def obj(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise FormatError(field, "must be an object")
    return value


def text(value: Any, field: str, *, required: bool = True) -> str | None:
    """A string field; numbers are taken as their text (ServiceNow and Jira mix the two)."""
    if value is None or value == "":
        if required:
            raise FormatError(field, "is required")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise FormatError(field, "must be a string")
    return str(value)


def str_map(value: Any, field: str) -> dict[str, str]:
    """Labels/annotations: an object of strings (absent or null is empty)."""
    if value is None:
        return {}
    data = obj(value, field)
    for k, v in data.items():
        if not isinstance(v, str):
            raise FormatError(f"{field}.{k}", "must be a string")
    return data


def stable_id(prefix: str, *parts: str) -> str:
    """A short id from the parts that identify one occurrence, so a re-sent delivery repeats it."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]
    return f"{prefix}-{digest}"


def build(
    model: type[E], data: dict[str, Any], now: datetime, where: str, *, nested: bool = False
) -> E:
    """Validate one generic event; a failure names `where` (the tool's element) and the field,
    as `where.field` when the payload holds the generic event itself (`nested`)."""
    try:
        return model.model_validate(data, context={"now": now})
    except ValidationError as exc:
        first = validation_errors(exc.errors())[0]
        message = first["message"].removeprefix("Value error, ")
        field = f"{where}.{first['field']}" if nested else f"{where} ({first['field']})"
        raise FormatError(field, message) from None
