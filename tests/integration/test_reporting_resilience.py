"""Reporting under stress of the real kind: a kill -9 in the middle of a stream changes no
figure (the inbox and the read model commit together), and agreed service time follows the
availability calendar consumed from the compacted calendars topic, in another zone."""

from __future__ import annotations

import asyncio
import re
import sys
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from pacta.settings import CommonSettings
from tests.support.client import poll_value
from tests.support.processes import ServiceProcess
from tests.support.reporting import (
    CALENDARS,
    FACTS,
    availability_fact,
    clock_fact,
    produce,
    produce_many,
    wait_report,
)

N = 6000
BACKLOG = 20_000


@pytest.fixture
def env(service_env: dict[str, str], log_dir: Path) -> tuple[dict[str, str], Path]:
    return service_env, log_dir


async def test_kill_9_mid_stream_changes_no_figure(
    env: tuple[dict[str, str], Path], settings: CommonSettings, db: asyncpg.Connection
) -> None:
    service = f"kill-{uuid.uuid4().hex[:6]}"
    records = []
    for i in range(N):
        for version, state in ((1, "running"), (2, "met")):
            records.append(
                (
                    FACTS,
                    service,
                    clock_fact(
                        f"{service}-{i}",
                        "response",
                        service,
                        version=version,
                        state=state,
                        priority="P2",
                        started_at="2026-10-02T10:00:00Z",
                        elapsed_seconds=60.0 if state == "met" else 0.0,
                        stopped_at="2026-10-02T10:01:00Z" if state == "met" else None,
                    ),
                )
            )
    proc = ServiceProcess("reporting", *env).start()
    try:
        await produce_many(settings.kafka_bootstrap, settings.topic_prefix, records)
        # kill it once part of the stream is in
        for _ in range(400):
            seen = await db.fetchval(
                "SELECT count(*) FROM reporting.clocks WHERE service = $1", service
            )
            if seen:
                break
            await asyncio.sleep(0.025)
        proc.kill()
        assert seen < N, "the stream was consumed before the kill: make it longer"
    finally:
        proc.stop()
    again = ServiceProcess("reporting", *env).start()
    try:
        report = wait_report(
            again.url,
            lambda r: r["services"][0]["tickets"]["response"]["met"] == N,
            timeout=60,
            month="2026-10",
            service=service,
        )
        t = report["services"][0]["tickets"]
        assert {k: t["response"][k] for k in ("met", "breached", "compliance")} == {
            "met": N,
            "breached": 0,
            "compliance": 100.0,
        }
        assert t["mtta_seconds"] == 60.0
        days = await db.fetch(
            "SELECT met, stopped, elapsed_ms FROM reporting.clock_days WHERE service = $1", service
        )
        assert [tuple(d) for d in days] == [(N, N, N * 60_000)]
    finally:
        again.stop()


async def test_agreed_time_follows_the_calendar_in_another_zone(
    env: tuple[dict[str, str], Path], settings: CommonSettings
) -> None:
    tag = uuid.uuid4().hex[:6]
    service, calendar = f"cal-{tag}", f"office-{tag}"
    weekdays = {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
    fact = availability_fact(
        service,
        "2026-10",
        version=1,
        month_start="2026-09-30T22:00:00.000Z",
        month_end="2026-10-31T23:00:00.000Z",
        # 08:00-10:00 in Berlin on Thursday 1 Oct: one working hour down
        down=[["2026-10-01T06:00:00.000Z", "2026-10-01T08:00:00.000Z"]],
        maintenance=[],
        calendar=calendar,
        timezone="Europe/Berlin",
    )
    record = {"name": calendar, "timezone": "Europe/Berlin", "hours": weekdays, "holidays": []}
    proc = ServiceProcess("reporting", *env).start()
    try:
        await produce(
            settings.kafka_bootstrap,
            settings.topic_prefix,
            [(CALENDARS, calendar, record), (FACTS, service, fact)],
        )
        hours = 3_600.0
        berlin = wait_report(
            proc.url,
            lambda r: r["services"][0]["availability"]["agreed_service_seconds"] == 176 * hours,
            month="2026-10",
            service=service,
            tz="Europe/Berlin",
        )
        assert berlin["services"][0]["availability"]["downtime_seconds"] == hours
        # Kiritimati's October starts at noon on 30 Sep in Berlin: five more working hours,
        # which no fact covers (the service's data starts with Berlin's October): unmeasured
        far = wait_report(
            proc.url,
            lambda r: r["services"][0]["availability"]["agreed_service_seconds"] is not None,
            month="2026-10",
            service=service,
            tz="Pacific/Kiritimati",
        )
        assert far["period"]["start"] == "2026-09-30T10:00:00.000Z"
        assert far["services"][0]["availability"]["agreed_service_seconds"] == 176 * hours
        assert far["services"][0]["availability"]["unmeasured_seconds"] == 5 * hours
        assert far["services"][0]["availability"]["downtime_seconds"] == hours
    finally:
        proc.stop()


def _met_facts(
    service: str, first: int, count: int
) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        (
            FACTS,
            service,
            clock_fact(
                f"{service}-{i}",
                "resolution",
                service,
                version=1,
                state="met",
                priority="P3",
                started_at="2026-10-07T10:00:00Z",
                elapsed_seconds=120.0,
                stopped_at="2026-10-07T10:02:00Z",
            ),
        )
        for i in range(first, first + count)
    ]


async def test_a_rebuild_while_records_keep_arriving_loses_and_doubles_nothing(
    env: tuple[dict[str, str], Path], settings: CommonSettings, db: asyncpg.Connection
) -> None:
    service = f"rb-{uuid.uuid4().hex[:6]}"
    proc = ServiceProcess("reporting", *env).start()
    try:
        await produce_many(
            settings.kafka_bootstrap, settings.topic_prefix, _met_facts(service, 0, BACKLOG)
        )
        wait_report(
            proc.url,
            lambda r: r["services"][0]["tickets"]["resolution"]["met"] == BACKLOG,
            timeout=60,
            month="2026-10",
            service=service,
        )
        rebuild = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "reporting",
            "rebuild",
            env=proc.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        # records keep arriving while the rebuild runs (replay, swap, catch-up), up to a bound
        finished = asyncio.create_task(rebuild.communicate())
        await poll_value(
            db,
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'reporting_rebuild'",
            expect=1,
        )
        total, chunks_during = BACKLOG, 0
        while not finished.done() and chunks_during < 30:
            await produce_many(
                settings.kafka_bootstrap, settings.topic_prefix, _met_facts(service, total, 200)
            )
            total += 200
            chunks_during += 1
        output, _ = await asyncio.wait_for(finished, 300)
        assert rebuild.returncode == 0, output.decode()[-3000:]
        assert chunks_during >= 2, "the rebuild ended before records could arrive during it"
        replayed = re.findall(
            r'"records": (\d+), "event": "rebuild (replayed|swapped in)"', output.decode()
        )
        counts = {what: int(n) for n, what in replayed}
        assert counts["swapped in"] > counts["replayed"], "no record arrived during the replay"
        await produce_many(
            settings.kafka_bootstrap, settings.topic_prefix, _met_facts(service, total, 200)
        )
        total += 200
        report = wait_report(
            proc.url,
            lambda r: r["services"][0]["tickets"]["resolution"]["met"] >= total,
            timeout=60,
            month="2026-10",
            service=service,
        )
        assert report["services"][0]["tickets"]["resolution"]["met"] == total
        assert report["services"][0]["tickets"]["mttr_seconds"] == 120.0
        days = await db.fetch(
            "SELECT met, stopped, elapsed_ms FROM reporting.clock_days WHERE service = $1", service
        )
        assert [tuple(d) for d in days] == [(total, total, total * 120_000)]
        schemas = await db.fetch(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'reporting%' ORDER BY 1"
        )
        assert [s[0] for s in schemas] == ["reporting"]
    finally:
        proc.stop()
