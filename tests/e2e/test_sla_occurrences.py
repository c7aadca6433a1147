"""Issue 10 through the pipeline: the signals a service manager expects on `pacta.signals` when
breaches are retracted and come back, a late event disproves a met, signals are detected late,
a breached ticket is resolved, labels change, and policies are put or deleted under open
tickets. Every event goes in through ingest; every signal is read from Kafka."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.desk import Desk
from tests.support.kafka import TopicReader
from tests.support.processes import ServiceProcess
from tests.support.sla_api import call, put, utc, wait_clocks

pytestmark = pytest.mark.e2e


async def test_a_breach_after_a_retraction_is_emitted_under_a_new_id(
    stack: dict[str, ServiceProcess], signals: TopicReader, facts: TopicReader
) -> None:
    d = Desk(
        stack,
        warn_at=[0.5],
        pause_statuses=["waiting_for_customer"],
        targets={"P1": {"response": "1h", "resolution": "6s"}},
    )
    now = datetime.now(UTC)
    d.post("created", now - timedelta(seconds=8), priority="P1", status="open")
    first = await d.wait(signals, f"{d.ticket}/resolution/breach/1")
    assert first["late"] is True
    d.post("updated", now - timedelta(seconds=5), status="waiting_for_customer")
    retracted = await d.wait(signals, f"{d.ticket}/resolution/breach/1/retracted")
    assert retracted["retracts"] == first["signal_id"]
    # back to open: 3 s were counted before the pause, so the breach is 3 s away, and fires
    reopened_at = datetime.now(UTC)
    d.post("updated", reopened_at, status="open")
    second = await d.wait(signals, f"{d.ticket}/resolution/breach/1#2")
    assert abs((utc(second["occurred_at"]) - reopened_at).total_seconds() - 3) < 0.01
    assert second["late"] is False
    assert second["elapsed_seconds"] == 6
    clocks = await wait_clocks(d.engine, d.ticket, lambda c: c["resolution"]["state"] == "breached")
    assert clocks["resolution"]["state"] == "breached"
    # resolved after the breach: `stopped`, once, and the facts count the clock as breached
    d.post("resolved", datetime.now(UTC), status="resolved")
    stopped = await d.wait(signals, f"{d.ticket}/resolution/stopped/1")
    assert stopped["kind"] == "stopped"
    assert stopped["priority"] == "P1"
    fact = await facts.wait_for(
        "the stopped clock's fact",
        lambda f: (
            f.get("ticket_id") == d.ticket
            and f["metric"] == "resolution"
            and f.get("outcome") == "stopped"
        ),
    )
    assert fact["breached"] is True
    assert fact["state"] == "breached"
    kinds = [s["kind"] for s in d.mine(signals) if s["kind"] != "warning"]
    assert kinds == ["breach", "retracted", "breach", "stopped"]


async def test_a_met_that_a_late_created_disproves_is_retracted(
    stack: dict[str, ServiceProcess], signals: TopicReader
) -> None:
    d = Desk(stack, warn_at=[0.5], targets={"P2": {"response": "5m", "resolution": "8h"}})
    now = datetime.now(UTC)
    d.post("responded", now - timedelta(minutes=50), priority="P2", status="in_progress")
    met = await d.wait(signals, f"{d.ticket}/response/met/1")
    d.post("created", now - timedelta(minutes=60), priority="P2", status="open")
    await d.wait(signals, f"{d.ticket}/response/met/1/retracted")
    breach = await d.wait(signals, f"{d.ticket}/response/breach/1")
    assert abs((utc(breach["occurred_at"]) - (now - timedelta(minutes=55))).total_seconds()) < 0.002
    await d.wait(signals, f"{d.ticket}/response/stopped/1")
    assert met["elapsed_seconds"] == 0


async def test_late_signals_carry_the_elapsed_time_of_their_own_instant(
    stack: dict[str, ServiceProcess], signals: TopicReader
) -> None:
    d = Desk(
        stack,
        warn_at=[0.5],
        targets={
            "P2": {"response": "8h", "resolution": "30m"},
            "P1": {"response": "8h", "resolution": "15m"},
        },
    )
    now = datetime.now(UTC)
    d.post("created", now - timedelta(minutes=28), priority="P2", status="open")
    warning = await d.wait(signals, f"{d.ticket}/resolution/warning/0.5")
    assert warning["elapsed_seconds"] == 900  # 50 % of 1,800 s, not the 1,680 s at detection
    # raised to P1 25 minutes in: 1,500 s counted against a 900 s target, a breach right there
    d.post("updated", now - timedelta(minutes=3), priority="P1")
    breach = await d.wait(signals, f"{d.ticket}/resolution/breach/1")
    assert breach["elapsed_seconds"] == 1500
    assert breach["target_seconds"] == 900
    assert abs((utc(breach["occurred_at"]) - (now - timedelta(minutes=3))).total_seconds()) < 0.002


async def test_ticket_signals_carry_the_ticket_s_current_labels(
    stack: dict[str, ServiceProcess], signals: TopicReader
) -> None:
    d = Desk(stack, warn_at=[0.5], targets={"P1": {"response": "1h", "resolution": "4s"}})
    now = datetime.now(UTC)
    d.post("created", now, priority="P1", labels={"team": "first-line"})
    d.post("updated", now + timedelta(milliseconds=500), labels={"team": "database"})
    breach = await d.wait(signals, f"{d.ticket}/resolution/breach/1")
    assert breach["labels"] == {"team": "database"}


async def test_a_policy_put_under_an_open_ticket_measures_it_from_then_on(
    stack: dict[str, ServiceProcess], signals: TopicReader
) -> None:
    d = Desk(stack)  # no policy yet
    d.post("created", datetime.now(UTC) - timedelta(hours=2), priority="P1", status="open")
    r = call("GET", f"{d.engine}/v1/clocks", params={"ticket_id": d.ticket})
    assert r.json()["items"] == []
    put_at = datetime.now(UTC)
    put(
        d.engine,
        "policies",
        d.policy,
        {
            "match": {"service": d.service},
            "warn_at": [0.5],
            "targets": {"P1": {"response": "1h", "resolution": "5s"}},
        },
    )
    clocks = await wait_clocks(d.engine, d.ticket, lambda c: len(c) == 2)
    started = utc(clocks["resolution"]["started_at"])
    assert put_at <= started < put_at + timedelta(seconds=5)  # not back-dated to the created
    breach = await d.wait(signals, f"{d.ticket}/resolution/breach/1")
    assert utc(breach["occurred_at"]) == started + timedelta(seconds=5)
    assert breach["late"] is False
    # deleted: its clocks stop, the breach is told to be over, and nothing more fires
    r = call("DELETE", f"{d.engine}/v1/policies/{d.policy}")
    assert r.status_code == 204
    await d.wait(signals, f"{d.ticket}/resolution/stopped/1")
    clocks = await wait_clocks(d.engine, d.ticket, lambda c: "response" not in c)
    assert clocks["resolution"]["state"] == "breached"
    assert not [s for s in d.mine(signals, "response") if s["kind"] == "breach"]


async def test_warn_before_fires_that_long_before_the_deadline(
    stack: dict[str, ServiceProcess], signals: TopicReader
) -> None:
    d = Desk(
        stack,
        warn_at=[],
        warn_before=["3s"],
        targets={"P1": {"response": "1h", "resolution": "4s"}},
    )
    created = datetime.now(UTC)
    d.post("created", created, priority="P1")
    warning = await d.wait(signals, f"{d.ticket}/resolution/warning/before-3s")
    assert abs((utc(warning["occurred_at"]) - created).total_seconds() - 1) < 0.002
    assert warning["threshold"] == 0.25
    assert warning["elapsed_seconds"] == 1
    assert "warn_before 3s" in warning["summary"]
    await d.wait(signals, f"{d.ticket}/resolution/breach/1")
    warnings = [s for s in d.mine(signals) if s["kind"] == "warning"]
    assert len(warnings) == 1


async def test_a_policy_changed_under_an_open_ticket_keeps_its_time_and_applies_from_then(
    stack: dict[str, ServiceProcess], signals: TopicReader
) -> None:
    d = Desk(stack, warn_at=[], targets={"P1": {"response": "1h", "resolution": "1h"}})
    created = datetime.now(UTC) - timedelta(seconds=20)
    d.post("created", created, priority="P1", status="open")
    await wait_clocks(d.engine, d.ticket, lambda c: len(c) == 2)
    # tightened to 30 s: 20 s are counted already, so the breach is 10 s after the change...
    changed_at = datetime.now(UTC)
    put(
        d.engine,
        "policies",
        d.policy,
        {
            "match": {"service": d.service},
            "warn_at": [],
            "targets": {"P1": {"response": "1h", "resolution": "30s"}},
        },
    )
    clocks = await wait_clocks(
        d.engine, d.ticket, lambda c: c["resolution"]["target_seconds"] == 30
    )
    deadline = utc(clocks["resolution"]["deadline"])
    # ...of counted time: created + 30 s, whatever instant the change took effect
    assert abs((deadline - (created + timedelta(seconds=30))).total_seconds()) < 0.002
    assert changed_at - timedelta(seconds=1) < deadline
    breach = await d.wait(signals, f"{d.ticket}/resolution/breach/1", timeout=20)
    assert breach["elapsed_seconds"] == 30
    assert breach["target_seconds"] == 30
    assert breach["late"] is False
