"""Jira issue webhooks: a ticket's lifecycle as Jira delivers it, with the default mapping."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest.formats import jira
from ingest.formats.base import FormatError
from ingest.formats.mapping import JiraMapping
from pacta.events import TicketEvent
from tests.unit.ingest.formats.conftest import NOW, dump, load, raw

M = JiraMapping()


def parse(
    name: str, mapping: JiraMapping = M, headers: dict[str, str] | None = None
) -> list[TicketEvent]:
    events = jira.parse(raw(f"jira/{name}.json"), headers or {}, mapping, NOW)
    assert all(isinstance(e, TicketEvent) for e in events)
    return events  # type: ignore[return-value]


def test_created_with_the_defaults() -> None:
    (event,) = parse("created")
    assert event.action == "created"
    assert event.ticket_id == "SD-1287"
    assert event.service == "checkout"  # the first component
    assert event.priority == "P2"  # High
    assert event.status == "waiting_for_support"
    assert event.type == "incident"  # [System] Incident
    assert event.occurred_at == datetime(2026, 3, 2, 8, 20, 11, 402000, UTC)  # epoch ms
    assert event.id == "jira-20417-created"
    assert event.source == "jira"


def test_lifecycle_actions_from_the_changelog() -> None:
    assignee, status = parse("updated-in-progress")
    assert (assignee.action, status.action) == ("updated", "responded")  # out of `new`
    assert status.status == "in_progress"
    (waiting,) = parse("updated-waiting-for-customer")
    assert (waiting.action, waiting.status) == ("updated", "waiting_for_customer")
    back, priority = parse("updated-back-and-priority")
    assert back.action == "updated"
    assert (priority.action, priority.priority) == ("updated", "P1")  # Highest
    resolution, done, labels = parse("updated-resolved")
    assert [e.action for e in (resolution, done, labels)] == ["resolved", "updated", "updated"]
    assert done.status == "resolved"
    cleared, reopened = parse("updated-reopened")
    assert [cleared.action, reopened.action] == ["reopened", "updated"]
    (deleted,) = parse("deleted")
    assert (deleted.action, deleted.status, deleted.id) == (
        "closed",
        "deleted",
        "jira-20417-deleted",
    )


def test_one_event_per_item_with_ids_from_issue_and_changelog() -> None:
    events = parse("updated-resolved")
    assert [e.id for e in events] == [
        "jira-20417-88422-0",
        "jira-20417-88422-1",
        "jira-20417-88422-2",
    ]
    assert len({e.occurred_at for e in events}) == 1
    # Jira's retry is the same delivery (X-Atlassian-Webhook-Retry: 1): the same ids
    retried = parse("updated-resolved", headers={"x-atlassian-webhook-retry": "1"})
    assert [e.id for e in retried] == [e.id for e in events]


def test_mapping_service_field_priorities_statuses_and_categories() -> None:
    mapping = JiraMapping(
        service_field="customfield_10057",
        customer_field="customfield_10002",
        priorities={"Highest": "P1", "High": "P3"},
        statuses={"Waiting for customer": "pending_customer"},
        status_categories={"Waiting for support": "new", "In Progress": "new"},
    )
    (created,) = parse("created", mapping)
    assert (created.service, created.customer, created.priority) == ("checkout-eu", "Globex", "P3")
    _, status = parse("updated-in-progress", mapping)
    # In Progress's category is in the payload (indeterminate): the mapping is for `from`
    assert status.action == "responded"
    (waiting,) = parse("updated-waiting-for-customer", mapping)
    # from In Progress (mapped `new`) to an indeterminate status: a response
    assert (waiting.action, waiting.status) == ("responded", "pending_customer")


def test_unknown_priority_passes_as_a_label_and_unknown_status_as_plain_status() -> None:
    body = load("jira/created.json")
    body["issue"]["fields"]["priority"]["name"] = "Blocker"
    body["issue"]["fields"]["status"]["name"] = "Triage Queue"
    (event,) = jira.parse(dump(body), {}, M, NOW)
    assert isinstance(event, TicketEvent)
    assert event.priority is None
    assert event.labels["jira_priority"] == "Blocker"
    assert event.status == "triage_queue"


def test_project_key_when_no_component() -> None:
    body = load("jira/created.json")
    body["issue"]["fields"]["components"] = []
    (event,) = jira.parse(dump(body), {}, M, NOW)
    assert event.service == "SD"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"webhookEvent": "comment_created"}, "webhookEvent"),
        ({"timestamp": "2026-03-02T08:00:00Z"}, "timestamp"),
        ({"issue": None}, "issue"),
        ({"changelog": {"id": "1", "items": []}}, "changelog.items"),
        ({"changelog": {"items": [{"field": "status"}]}}, "changelog.id"),
        ({"changelog": {"id": "1", "items": [{"field": "status"}]}}, "changelog.items.0.toString"),
        ({"timestamp": 1672531200000}, "issue (occurred_at)"),
    ],
)
def test_bad_deliveries_name_the_field(change: dict[str, object], field: str) -> None:
    body = {**load("jira/updated-in-progress.json"), **change}
    with pytest.raises(FormatError) as info:
        jira.parse(dump(body), {}, M, NOW)
    assert info.value.field == field
