"""Reporting against the real Kafka and PostgreSQL: records produced as the engine and ingest
produce them, redelivered and out of order, give the hand-computed figures; a report in
Europe/Berlin moves the month's edges; a rebuild by replay gives byte-identical JSON."""

from __future__ import annotations

import asyncio
import re
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from pacta.settings import CommonSettings
from tests.support.processes import ServiceProcess
from tests.support.reporting import (
    FACTS,
    SIGNALS,
    TICKETS,
    availability_fact,
    clock_fact,
    get_report,
    produce,
    signal,
    ticket_event,
    wait_report,
)

SVC = f"shop-{uuid.uuid4().hex[:6]}"
OCT = ("2026-10-01T00:00:00.000Z", "2026-11-01T00:00:00.000Z")


@pytest.fixture(scope="module")
def reporting(service_env: dict[str, str], log_dir: Path) -> Iterator[ServiceProcess]:
    proc = ServiceProcess("reporting", service_env, log_dir).start()
    try:
        yield proc
    finally:
        proc.stop()


def scenario(SVC: str = SVC) -> list[tuple[str, str, dict[str, Any] | None]]:
    """The hand-computed October of service `SVC` (tests of the formats reuse it)."""
    t1, t2, t3 = (f"{SVC}-T{i}" for i in (1, 2, 3))
    avail_v1 = availability_fact(
        SVC,
        "2026-10",
        version=1,
        month_start=OCT[0],
        month_end=OCT[1],
        down=[["2026-10-10T10:00:00.000Z", "2026-10-10T10:30:00.000Z"]],
        maintenance=[],
    )
    avail_v2 = availability_fact(
        SVC,
        "2026-10",
        version=2,
        month_start=OCT[0],
        month_end=OCT[1],
        down=[
            ["2026-10-10T10:00:00.000Z", "2026-10-10T10:30:00.000Z"],
            ["2026-10-20T23:50:00.000Z", "2026-10-21T00:20:00.000Z"],
        ],
        maintenance=[["2026-10-05T02:00:00.000Z", "2026-10-05T04:00:00.000Z"]],
    )
    facts = [
        clock_fact(
            t1,
            "response",
            SVC,
            version=1,
            state="running",
            priority="P1",
            started_at="2026-10-03T09:00:00Z",
            elapsed_seconds=0,
        ),
        clock_fact(
            t1,
            "response",
            SVC,
            version=2,
            state="met",
            priority="P1",
            started_at="2026-10-03T09:00:00Z",
            elapsed_seconds=600,
            stopped_at="2026-10-03T09:10:00Z",
        ),
        clock_fact(
            t1,
            "resolution",
            SVC,
            version=2,
            state="met",
            priority="P1",
            started_at="2026-10-03T09:00:00Z",
            elapsed_seconds=10800,
            stopped_at="2026-10-03T12:00:00Z",
        ),
        # breached at 23:30 UTC on the 31st: October in UTC, November in Berlin
        clock_fact(
            t2,
            "response",
            SVC,
            version=3,
            state="breached",
            priority="P2",
            started_at="2026-10-31T22:30:00Z",
            elapsed_seconds=6000,
            breached_at="2026-10-31T23:30:00Z",
            stopped_at="2026-11-01T00:10:00Z",
            deadline="2026-10-31T23:30:00Z",
        ),
        clock_fact(
            t2,
            "resolution",
            SVC,
            version=3,
            state="running",
            priority="P2",
            started_at="2026-10-31T22:30:00Z",
            elapsed_seconds=6000,
            deadline="2026-11-02T00:00:00Z",
        ),
        # retracted: the newer version says met, and it arrives before the older one
        clock_fact(
            t3,
            "resolution",
            SVC,
            version=2,
            state="met",
            priority="P1",
            started_at="2026-10-15T08:00:00Z",
            elapsed_seconds=3000,
            stopped_at="2026-10-15T08:50:00Z",
        ),
        clock_fact(
            t3,
            "resolution",
            SVC,
            version=1,
            state="breached",
            priority="P1",
            started_at="2026-10-15T08:00:00Z",
            elapsed_seconds=3600,
            breached_at="2026-10-15T09:00:00Z",
            deadline="2026-10-15T09:00:00Z",
        ),
        clock_fact(
            t3,
            "response",
            SVC,
            version=1,
            state="met",
            priority="P1",
            started_at="2026-10-15T08:00:00Z",
            elapsed_seconds=300,
            stopped_at="2026-10-15T08:05:00Z",
        ),
    ]
    events = [
        ticket_event(f"{t1}-e1", t1, SVC, "created", "2026-10-03T09:00:00Z", priority="P1"),
        ticket_event(f"{t2}-e1", t2, SVC, "created", "2026-10-31T22:30:00Z", priority="P2"),
        ticket_event(f"{t3}-e2", t3, SVC, "updated", "2026-10-15T08:30:00Z", priority="P1"),
        ticket_event(f"{t3}-e1", t3, SVC, "created", "2026-10-15T08:00:00Z", priority="P3"),
        ticket_event(
            f"{SVC}-c1a", f"{SVC}-C1", SVC, "created", "2026-10-20T08:00:00Z", type="change"
        ),
        ticket_event(
            f"{SVC}-c1b",
            f"{SVC}-C1",
            SVC,
            "resolved",
            "2026-10-20T09:00:00Z",
            type="change",
            outcome="failed",
        ),
        ticket_event(
            f"{SVC}-c2a",
            f"{SVC}-C2",
            SVC,
            "closed",
            "2026-10-21T09:00:00Z",
            type="change",
            outcome="successful",
        ),
    ]
    breach_t3 = f"{SVC}-b-t3"
    signals = [
        signal(
            f"{SVC}-b-t2",
            "breach",
            SVC,
            "response",
            "2026-10-31T23:30:00Z",
            ticket_id=t2,
            priority="P2",
        ),
        signal(
            breach_t3,
            "breach",
            SVC,
            "resolution",
            "2026-10-15T09:00:00Z",
            ticket_id=t3,
            priority="P1",
        ),
        signal(
            f"{SVC}-r-t3",
            "retracted",
            SVC,
            "resolution",
            "2026-10-15T09:00:00Z",
            ticket_id=t3,
            priority="P1",
            retracts=breach_t3,
        ),
        signal(f"{SVC}-ab", "availability_breach", SVC, "availability", "2026-10-21T00:05:00Z"),
    ]
    out: list[tuple[str, str, dict[str, Any] | None]] = []
    out += [(FACTS, SVC, f) for f in (avail_v2, avail_v1)]
    out += [(FACTS, SVC, f) for f in facts]
    out += [(TICKETS, e["ticket_id"], e) for e in events]
    out += [(SIGNALS, SVC, s) for s in signals]
    return out + out  # everything twice: redelivery changes nothing


def _settled(r: dict[str, Any]) -> bool:
    s = r["services"][0]
    # every topic's records in: tickets and the engine's facts arrive on topics of their own
    return (
        s["changes"]["total"] == 2
        and s["tickets"]["total"] == 3
        and s["tickets"]["resolution"]["met"] == 2
        and s["availability"]["outages"] == 2
        and len(s["breaches"]) == 2
    )


async def test_figures_redelivered_out_of_order_and_rebuilt(
    reporting: ServiceProcess, settings: CommonSettings, service_env: dict[str, str]
) -> None:
    await produce(settings.kafka_bootstrap, settings.topic_prefix, scenario())
    report = wait_report(reporting.url, _settled, month="2026-10", service=SVC)
    s = report["services"][0]
    agreed = 31 * 86400 - 7200
    assert s["service"] == SVC
    assert s["policy"] == "gold"
    assert s["availability"] == {
        "target": 99.9,
        "actual": 100.0 * (1.0 - 3_600_000 / (agreed * 1000)),
        "downtime_seconds": 3600.0,
        "agreed_service_seconds": float(agreed),
        "budget_consumed": 3_600_000 / 2_671_200,
        "met": False,
        "outages": 2,
        "mtbf_seconds": (agreed - 3600) / 2,
        "mtrs_seconds": 1800.0,
        "unmeasured_seconds": 0.0,
        "coverage": 100.0,
    }
    outcomes = ("met", "breached", "compliance")
    for metric in ("response", "resolution"):
        # the per-priority outcomes add up to the metric's; no policy record: no targets
        block = s["tickets"][metric]
        per = block.pop("by_priority")
        assert block.pop("target_met") is None
        assert sum(p["met"] for p in per.values()) == block["met"]
        assert sum(p["breached"] for p in per.values()) == block["breached"]
        assert all(p["target"] is None and p["target_met"] is None for p in per.values())
    assert s["tickets"] == {
        "total": 3,
        "by_priority": {"P1": 2, "P2": 1, "P3": 0, "P4": 0},
        "response": {"met": 2, "breached": 1, "compliance": 200 / 3},
        "resolution": {"met": 2, "breached": 0, "compliance": 100.0},
        "mtta_seconds": 450.0,
        "mttr_seconds": 6900.0,
        # facts from before policy versions: every clock under "no version" of its policy
        "by_policy_version": [
            {
                "policy": "gold",
                "version": None,
                "response": {"met": 2, "breached": 1, "compliance": 200 / 3},
                "resolution": {"met": 2, "breached": 0, "compliance": 100.0},
            }
        ],
    }
    assert s["changes"] == {"total": 2, "failed": 1, "success_rate": 50.0}
    assert [b["signal_id"] for b in s["breaches"]] == [f"{SVC}-ab", f"{SVC}-b-t2"]
    assert s["previous"]["month"] == "2026-09"
    assert s["previous"]["tickets"]["total"] == 0

    # Berlin's October runs from 22:00 UTC on 30 Sep to 23:00 UTC on 31 Oct (DST ends on 25th)
    berlin = get_report(reporting.url, month="2026-10", service=SVC, tz="Europe/Berlin").json()
    b = berlin["services"][0]
    assert berlin["period"] == {
        "start": "2026-09-30T22:00:00.000Z",
        "end": "2026-10-31T23:00:00.000Z",
    }
    # the two hours of 30 September lie before the service's first data: not measured
    assert b["availability"]["agreed_service_seconds"] == 31 * 86400 - 3600 - 7200
    assert b["availability"]["unmeasured_seconds"] == 7200.0
    assert b["availability"]["downtime_seconds"] == 3600.0
    assert {k: b["tickets"]["response"][k] for k in outcomes} == {
        "met": 2,
        "breached": 0,
        "compliance": 100.0,
    }
    assert b["tickets"]["total"] == 3
    assert [x["signal_id"] for x in b["breaches"]] == [f"{SVC}-ab"]
    nov = get_report(reporting.url, month="2026-11", service=SVC, tz="Europe/Berlin").json()
    assert nov["services"][0]["tickets"]["response"]["breached"] == 1
    assert nov["services"][0]["tickets"]["mtta_seconds"] == 6000.0

    before = [
        get_report(reporting.url, month="2026-10", service=SVC, tz=tz).content
        for tz in ("UTC", "Europe/Berlin")
    ]
    indexes = await _index_definitions(reporting.env["PACTA_DATABASE_URL"])
    rebuilt = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "reporting",
        "rebuild",
        env=reporting.env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(rebuilt.communicate(), 300)
    assert rebuilt.returncode == 0, output.decode()[-3000:]
    after = [
        get_report(reporting.url, month="2026-10", service=SVC, tz=tz).content
        for tz in ("UTC", "Europe/Berlin")
    ]
    assert [_without_generated_at(x) for x in after] == [_without_generated_at(x) for x in before]
    # the replay drops the secondary indexes and builds them again before the swap
    assert await _index_definitions(reporting.env["PACTA_DATABASE_URL"]) == indexes


async def _index_definitions(url: str) -> list[str]:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        rows = await conn.fetch(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = 'reporting' ORDER BY 1"
        )
    finally:
        await conn.close()
    assert len(rows) > 10
    return [r[0] for r in rows]


def _without_generated_at(body: bytes) -> bytes:
    return re.sub(rb'"generated_at":"[^"]*"', b"", body)
