"""CloudEvents 1.0 over HTTP (structured, binary and batch modes) whose `data` is a generic
event: type `io.pacta.monitoring` or `io.pacta.ticket` (the generic events). The data's `id`
defaults to the CloudEvent's, its `occurred_at` to the CloudEvent's `time`; the data itself is
held to the generic endpoints' strict rules."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from ingest.formats.base import Event, FormatError, build, load_json, obj, text
from ingest.formats.mapping import CloudEventsMapping
from ingest.formats.times import parse_time
from pacta.events import MONITORING_TYPE, TICKET_TYPE, MonitoringEvent, TicketEvent

STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
MODELS: dict[str, type[MonitoringEvent] | type[TicketEvent]] = {
    MONITORING_TYPE: MonitoringEvent,
    TICKET_TYPE: TicketEvent,
}
MAX_BATCH = 1000


def parse(
    body: bytes, headers: Mapping[str, str], mapping: CloudEventsMapping, now: datetime
) -> list[Event]:
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == BATCH:
        batch = load_json(body)
        if not isinstance(batch, list):
            raise FormatError("body", "a batch is a JSON array of CloudEvents")
        if len(batch) > MAX_BATCH:
            raise FormatError("body", f"holds more than {MAX_BATCH} events", status=413)
        return [_structured(obj(e, str(i)), now, f"{i}.") for i, e in enumerate(batch)]
    if content_type == STRUCTURED:
        return [_structured(obj(load_json(body), "body"), now, "")]
    if content_type.startswith("application/cloudevents"):
        raise FormatError("content-type", f"event format {content_type!r} is not supported", 415)
    return [_binary(body, headers, content_type, now)]


def _structured(event: dict[str, Any], now: datetime, where: str) -> Event:
    if "data_base64" in event:
        raise FormatError(where + "data_base64", "binary data is not a Pacta event; use data")
    attrs = {k: v for k, v in event.items() if k != "data" and v is not None}
    ctype = attrs.get("datacontenttype")
    if ctype is not None and not _is_json(str(ctype)):
        raise FormatError(where + "datacontenttype", "must be application/json", 415)
    return _event(attrs, event.get("data"), now, where)


def _binary(body: bytes, headers: Mapping[str, str], content_type: str, now: datetime) -> Event:
    attrs: dict[str, Any] = {}
    for name, value in headers.items():
        if name.startswith("ce-"):
            try:
                decoded = unquote(value.strip('"'), errors="strict")
            except UnicodeDecodeError:
                raise FormatError(name, "is not percent-encoded UTF-8") from None
            attrs[name[3:]] = decoded
    if "specversion" not in attrs:
        raise FormatError(
            "ce-specversion",
            f"is required: send binary mode (ce-* headers) or Content-Type {STRUCTURED} or {BATCH}",
        )
    if content_type and not _is_json(content_type):
        raise FormatError("content-type", "the data of a Pacta event is JSON", 415)
    return _event(attrs, load_json(body), now, "ce-")


def _is_json(content_type: str) -> bool:
    base = content_type.split(";")[0].strip().lower()
    return base == "application/json" or base.endswith("+json")


def _event(attrs: dict[str, Any], data: Any, now: datetime, where: str) -> Event:
    if attrs.get("specversion") != "1.0":
        raise FormatError(where + "specversion", "must be 1.0")
    ce_id = text(attrs.get("id"), where + "id")
    text(attrs.get("source"), where + "source")
    ce_type = attrs.get("type")
    model = MODELS.get(ce_type) if isinstance(ce_type, str) else None
    if model is None:
        raise FormatError(where + "type", f"must be {MONITORING_TYPE} or {TICKET_TYPE}")
    data_field = "body" if where == "ce-" else where + "data"
    payload = dict(obj(data, data_field))
    payload.setdefault("id", ce_id)
    if attrs.get("time") is not None:
        # an attribute the spec defines as RFC 3339 is checked even when the data's own
        # occurred_at is what counts: a sender writing a bad time has a bug worth hearing of
        parse_time(attrs["time"], where + "time")
        payload.setdefault("occurred_at", attrs["time"])
    payload.setdefault("source", "cloudevents")
    if "received_at" in payload:
        raise FormatError(data_field + ".received_at", "set by Pacta, not sent")
    if model is MonitoringEvent:
        return build(MonitoringEvent, payload, now, data_field, nested=True)
    return build(TicketEvent, payload, now, data_field, nested=True)
