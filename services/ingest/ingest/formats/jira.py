"""Jira (Service Management) issue webhooks: created, updated (one event per changelog item,
the id from the issue id and the changelog id, so Jira's retries count once), deleted.

Lifecycle from the changelog's status move: out of category `new` responds, into `done`
resolves, out of `done` reopens; a resolution set resolves and cleared reopens. The `to`
status's category is in the payload; the `from` status's comes from the mapping by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ingest.formats.base import Event, FormatError, build, load_json, obj, text
from ingest.formats.mapping import JiraMapping
from ingest.formats.times import parse_epoch_ms
from pacta.events import TicketEvent

EVENTS = ("jira:issue_created", "jira:issue_updated", "jira:issue_deleted")
MAX_ITEMS = 200


def parse(
    body: bytes, headers: Mapping[str, str], mapping: JiraMapping, now: datetime
) -> list[Event]:
    delivery = obj(load_json(body), "body")
    kind = delivery.get("webhookEvent")
    if kind not in EVENTS:
        raise FormatError("webhookEvent", f"must be one of {', '.join(EVENTS)}")
    occurred = parse_epoch_ms(delivery.get("timestamp"), "timestamp")
    issue = obj(delivery.get("issue"), "issue")
    issue_id = text(issue.get("id"), "issue.id")
    fields = obj(issue.get("fields") or {}, "issue.fields")
    base = _snapshot(issue, fields, mapping)
    base["occurred_at"] = occurred

    def event(action: str, event_id: str, **changes: Any) -> Event:
        return build(
            TicketEvent, {**base, "action": action, "id": event_id, **changes}, now, "issue"
        )

    if kind == "jira:issue_created":
        return [event("created", f"jira-{issue_id}-created")]
    if kind == "jira:issue_deleted":
        # a deleted issue is gone: its clocks stop as if closed
        return [event("closed", f"jira-{issue_id}-deleted", status="deleted")]
    changelog = delivery.get("changelog")
    if changelog is None:
        # an update without a changelog (a comment): a snapshot, once per delivery
        ident = headers.get("x-atlassian-webhook-identifier") or str(delivery["timestamp"])
        return [event("updated", f"jira-{issue_id}-{ident}-updated")]
    changelog = obj(changelog, "changelog")
    log_id = text(changelog.get("id"), "changelog.id")
    items = changelog.get("items")
    if not isinstance(items, list) or not items:
        raise FormatError("changelog.items", "must be a non-empty array")
    if len(items) > MAX_ITEMS:
        raise FormatError("changelog.items", f"holds more than {MAX_ITEMS} items", status=413)
    events: list[Event] = []
    lifecycle_done = False
    current = _category_now(fields)
    for i, raw in enumerate(items):
        item = obj(raw, f"changelog.items.{i}")
        action, changes = _item(item, i, mapping, fields, current)
        if action in ("resolved", "reopened"):
            # a transition often sets status and resolution together: one lifecycle event
            if lifecycle_done:
                action = "updated"
            lifecycle_done = True
        events.append(event(action, f"jira-{issue_id}-{log_id}-{i}", **changes))
    return events


def _item(
    item: dict[str, Any], i: int, mapping: JiraMapping, fields: dict[str, Any], current: str | None
) -> tuple[str, dict[str, Any]]:
    field = str(item.get("fieldId") or item.get("field") or "").lower()
    before, after = item.get("fromString"), item.get("toString")
    if field == "status":
        if not isinstance(after, str) or not after:
            raise FormatError(f"changelog.items.{i}.toString", "is required for a status change")
        status_now = obj(fields.get("status") or {}, "issue.fields.status")
        if current is not None and after == status_now.get("name"):
            to_cat: str = current
        else:
            to_cat = category(after, mapping)
        from_cat = category(before, mapping) if isinstance(before, str) else "new"
        changes = {"status": status_name(after, mapping)}
        if to_cat == "done" and from_cat != "done":
            return "resolved", changes
        if from_cat == "done" and to_cat != "done":
            return "reopened", changes
        if from_cat == "new" and to_cat != "new":
            return "responded", changes
        return "updated", changes
    if field == "priority":
        priority = _priority(after, mapping)
        return "updated", {"priority": priority} if priority else {}
    if field == "resolution":
        if not after and before:
            return "reopened", {}
        if after and not before:
            return "resolved", {}
    return "updated", {}


def category(name: str, mapping: JiraMapping) -> str:
    table = {k.lower(): v for k, v in mapping.status_categories.items()}
    return table.get(name.lower(), "indeterminate")


def status_name(name: str, mapping: JiraMapping) -> str:
    table = {k.lower(): v for k, v in mapping.statuses.items()}
    return table.get(name.lower()) or "_".join(name.lower().split())


def _priority(name: Any, mapping: JiraMapping) -> str | None:
    if not isinstance(name, str):
        return None
    return {k.lower(): v for k, v in mapping.priorities.items()}.get(name.lower())


def _category_now(fields: dict[str, Any]) -> str | None:
    status = fields.get("status")
    if isinstance(status, dict) and isinstance(status.get("statusCategory"), dict):
        key = status["statusCategory"].get("key")
        return key if key in ("new", "indeterminate", "done") else None
    return None


def _snapshot(
    issue: dict[str, Any], fields: dict[str, Any], mapping: JiraMapping
) -> dict[str, Any]:
    key = text(issue.get("key"), "issue.key")
    service = (
        (_value(fields.get(mapping.service_field)) if mapping.service_field else None)
        or _value(fields.get("components"))
        or _value(obj(fields.get("project") or {}, "issue.fields.project").get("key"))
    )
    if not service:
        where = mapping.service_field or "components"
        raise FormatError(f"issue.fields.{where}", "gives no service (nor does project.key)")
    issue_type = _value(fields.get("issuetype"))
    types = {k.lower(): v for k, v in mapping.issue_types.items()}
    data: dict[str, Any] = {
        "ticket_id": key,
        "service": service,
        "type": types.get((issue_type or "").lower(), mapping.default_type),
        "source": "jira",
        "labels": {"jira_issue_id": str(issue.get("id"))},
    }
    status = _value(fields.get("status"))
    if status:
        data["status"] = status_name(status, mapping)
    priority_name = _value(fields.get("priority"))
    priority = _priority(priority_name, mapping)
    if priority:
        data["priority"] = priority
    elif priority_name:
        data["labels"]["jira_priority"] = priority_name[:1024]
    if mapping.customer_field and (customer := _value(fields.get(mapping.customer_field))):
        data["customer"] = customer
    if isinstance(summary := fields.get("summary"), str) and summary:
        data["summary"] = summary[:4096]
    if assignee := _value(fields.get("assignee")):
        data["assignee"] = assignee[:200]
    return data


def _value(field: Any) -> str | None:
    """A field's text: a string, or an object's value/name/displayName/key, or a list's first."""
    if isinstance(field, list):
        return _value(field[0]) if field else None
    if isinstance(field, dict):
        for name in ("value", "name", "displayName", "key"):
            if isinstance(field.get(name), str) and field[name]:
                return str(field[name])
        return None
    if isinstance(field, str) and field:
        return field
    if isinstance(field, int) and not isinstance(field, bool):
        return str(field)
    return None
