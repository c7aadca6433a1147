"""The demo month: deterministic, wholly in the past, and with every case a report shows."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from pacta_cli.demo_data import SERVICES, build, last_month

NOW = datetime(2026, 12, 7, 1, 30, tzinfo=UTC)


def test_last_month_and_determinism() -> None:
    assert last_month(NOW) == (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
    assert last_month(datetime(2026, 1, 3, tzinfo=UTC))[0] == datetime(2025, 12, 1, tzinfo=UTC)
    assert build(NOW) == build(NOW)
    assert build(NOW, seed=1) != build(NOW, seed=2)


def test_a_month_worth_reading() -> None:
    month = build(NOW)
    assert month.name == "2026-11"
    created = [e for e in month.tickets if e["action"] == "created"]
    assert len(created) == 300
    assert {e["priority"] for e in created} == {"P1", "P2", "P3", "P4"}
    assert {e["type"] for e in created} == {"incident", "service_request", "problem", "change"}
    actions = Counter(e["action"] for e in month.tickets)
    assert actions["reopened"] > 0
    assert actions["responded"] > 0
    assert any(e["status"] == "waiting_for_customer" for e in month.tickets)
    assert any(e.get("outcome") == "failed" for e in month.tickets)
    assert month.late_tickets
    assert len(month.policies) == len(SERVICES) == 12
    calendars = {p["calendar"] for p in month.policies.values()}
    assert {"24x7", "demo-business-hours"} <= calendars
    assert month.windows
    assert month.correction["service"] == "erp"
    assert {e["service"] for e in month.monitoring} == set(SERVICES)  # every one watched


def test_nothing_lies_in_the_future_and_history_is_in_order() -> None:
    month = build(NOW)
    stamp = NOW.isoformat().replace("+00:00", "Z")
    for events in (month.tickets, month.monitoring, month.late_tickets):
        assert all(e["occurred_at"] < stamp for e in events)
    for events in (month.tickets, month.monitoring):
        assert [e["occurred_at"] for e in events] == sorted(e["occurred_at"] for e in events)


def test_a_prefix_names_every_service() -> None:
    month = build(NOW, tickets=20, prefix="t1-")
    services = {e["service"] for e in [*month.tickets, *month.monitoring, *month.windows]}
    assert all(s.startswith("t1-") for s in services)
    assert all(p["match"]["service"].startswith("t1-") for p in month.policies.values())
