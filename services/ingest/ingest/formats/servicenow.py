"""ServiceNow incident records (Table API shape, optionally inside `{"result": ...}`) sent by an
outbound REST message on every insert and update: each is a snapshot, not a diff.

Every snapshot gives one event, id `sys_id` + `sys_mod_count` (created at count 0, else
updated). The lifecycle steps that need the previous state get ids of their own, which the
ingest's idempotency makes count once: `responded` (first time in state 2), `resolved` and
`closed` once per reopen count, `reopened` once per value of `reopen_count` (which ServiceNow
raises when an incident leaves Resolved). See docs/integrations.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ingest.formats.base import Event, FormatError, build, load_json, obj, text
from ingest.formats.mapping import ServiceNowMapping
from ingest.formats.times import parse_time
from pacta.events import TicketEvent

# a record id (32 hex digits): what a reference field holds when sent without display values
_SYS_ID = re.compile(r"[0-9a-f]{32}")


def parse(
    body: bytes, headers: Mapping[str, str], mapping: ServiceNowMapping, now: datetime
) -> list[Event]:
    record = obj(load_json(body), "body")
    where = ""
    if set(record) == {"result"}:
        record, where = obj(record["result"], "result"), "result."
    sys_id = _required(record, "sys_id", where)
    number = _required(record, "number", where)
    mod_count = _required(record, "sys_mod_count", where)
    if not mod_count.isdigit():
        raise FormatError(where + "sys_mod_count", "must be a whole number")
    occurred = parse_time(
        _value(record.get("sys_updated_on")), where + "sys_updated_on", naive_is_utc=True
    )
    state = _value(record.get("state")) or _value(record.get("incident_state"))
    if not state:
        raise FormatError(where + "state", "is required")
    reopens = _value(record.get("reopen_count")) or "0"
    if not reopens.isdigit():
        raise FormatError(where + "reopen_count", "must be a whole number")
    base: dict[str, Any] = {
        "ticket_id": number,
        "service": _service(record, mapping, where),
        "type": mapping.default_type,
        "status": _status(record, state, mapping),
        "occurred_at": occurred,
        "source": "servicenow",
        "labels": {"servicenow_sys_id": sys_id, "servicenow_state": state},
    }
    priority = mapping.priorities.get(_value(record.get("priority")) or "")
    if priority:
        base["priority"] = priority
    if mapping.customer_field and (customer := _display(record.get(mapping.customer_field))):
        base["customer"] = customer
    if summary := _value(record.get("short_description")):
        base["summary"] = summary[:4096]
    if assignee := _display(record.get("assigned_to")):
        base["assignee"] = assignee[:200]

    steps: list[tuple[str, str]] = [
        ("created" if mod_count == "0" else "updated", f"servicenow-{sys_id}-{mod_count}")
    ]
    if state in mapping.responded_states:
        steps.append(("responded", f"servicenow-{sys_id}-responded"))
    if state in mapping.resolved_states:
        steps.append(("resolved", f"servicenow-{sys_id}-resolved-{reopens}"))
    elif state in mapping.closed_states:
        steps.append(("closed", f"servicenow-{sys_id}-closed-{reopens}"))
    elif reopens != "0":
        steps.append(("reopened", f"servicenow-{sys_id}-reopened-{reopens}"))
    return [
        build(
            TicketEvent,
            {**base, "action": action, "id": event_id},
            now,
            where.rstrip(".") or "body",
        )
        for action, event_id in steps
    ]


def _status(record: dict[str, Any], state: str, mapping: ServiceNowMapping) -> str:
    if state in mapping.on_hold_states:
        reason = _value(record.get("hold_reason")) or ""
        if reason in mapping.hold_reasons:
            return mapping.hold_reasons[reason]
    # a state the mapping does not know passes through as a plain status
    return mapping.states.get(state, state)[:100]


def _service(record: dict[str, Any], mapping: ServiceNowMapping, where: str) -> str:
    for field in mapping.service_fields:
        if service := _display(record.get(field)):
            return service
    if mapping.default_service:
        return mapping.default_service
    raise FormatError(
        where + mapping.service_fields[0],
        "gives no service: no display value in "
        + ", ".join(mapping.service_fields)
        + " (send the record with sysparm_display_value=true or all)",
    )


def _required(record: dict[str, Any], field: str, where: str) -> str:
    value = text(_value(record.get(field)), where + field)
    assert value is not None
    return value


def _value(field: Any) -> str | None:
    """A Table API value: a string, or a reference/choice object's `value`."""
    if isinstance(field, dict):
        field = field.get("value")
    if isinstance(field, bool):
        return None
    if isinstance(field, (str, int)) and str(field) != "":
        return str(field)
    return None


def _display(field: Any) -> str | None:
    """What a person sees: a reference's `display_value`, else its text. A reference sent
    without one (`{"value": sys_id, "link": ...}`) or a bare sys_id names no service."""
    if isinstance(field, dict):
        shown = field.get("display_value")
        return shown if isinstance(shown, str) and shown else None
    value = _value(field)
    if value is not None and _SYS_ID.fullmatch(value):
        return None
    return value
