"""Reporting against its targets (docs/benchmarks.md): the monthly report's time with 1,000,000 and 10,000,000 events in
the read model, and the rebuild by replay (bench/reporting_scale.py).

    python -m bench --only reporting
    python -m bench.reporting --events 200000 --rebuild-events 50000   # a smaller, quicker run

The read model is filled through the service's own apply path (`reporting.consumer.
apply_records`, the code the consumer runs) with a year of 100 services: tickets with a
created, responded, resolved and closed event each (4 events) and their clock facts (response
and resolution, a running and a final version each), plus each service-month's availability
fact with a dozen outages. Then the reporting process serves `GET /v1/reports/monthly` for
every service, and for one, in UTC and in Europe/Berlin (a zone whose month edges need the
partial-day rows); the time is the client's, over HTTP, median and worst of 20 requests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any, cast

import httpx

from bench.env import BenchEnv
from bench.render import publish
from bench.reporting_records import Rec, availability_records, ticket_records
from bench.reporting_scale import REBUILD_TARGET_S, SCALE, grow_tenfold, measure_rebuild
from bench.results import Entry, entry
from pacta.db import create_engine, migrate
from pacta.kafka import Record
from reporting.app import MIGRATIONS
from reporting.consumer import apply_records
from tests.support.processes import ServiceProcess

REBUILD_EVENTS = 250_000
"""The events a rebuild is measured over (each with its facts: about two records per event)."""

REPORT_MONTH = "2026-10"
TARGET_MS = 100.0
TARGET_10M_MS = 300.0
BUDGET_S = 1800


async def _seed(env: BenchEnv, events: int) -> dict[str, float]:
    url = env.database_url.replace("postgresql://", "postgresql+asyncpg://", 1)
    await migrate(url, "reporting", MIGRATIONS)
    engine = create_engine(url)
    rng = random.Random(7)
    started = time.perf_counter()
    records = 0
    try:
        await apply_records(
            engine, "reporting", cast(list[Record], availability_records(env.topic_prefix, rng))
        )
        batch: list[Rec] = []
        for n in range(events // 4):
            batch += ticket_records(env.topic_prefix, n, rng)
            if len(batch) >= 4000:
                await apply_records(engine, "reporting", cast(list[Record], batch))
                records += len(batch)
                batch = []
        if batch:
            await apply_records(engine, "reporting", cast(list[Record], batch))
            records += len(batch)
    finally:
        await engine.dispose()
    elapsed = time.perf_counter() - started
    return {"records": records, "seconds": elapsed, "records_per_s": records / elapsed}


def _time(url: str, params: dict[str, str], n: int = 20) -> dict[str, float]:
    headers = {"Authorization": "Bearer bench-ingest-key"}
    times = []
    with httpx.Client(timeout=30) as client:
        client.get(url, params=params, headers=headers).raise_for_status()  # warm up
        for _ in range(n):
            t = time.perf_counter()
            client.get(url, params=params, headers=headers).raise_for_status()
            times.append((time.perf_counter() - t) * 1000)
    return {"median_ms": statistics.median(times), "max_ms": max(times)}


def _cases() -> dict[str, dict[str, str]]:
    return {
        "all services, UTC": {"month": REPORT_MONTH},
        "all services, Europe/Berlin": {"month": REPORT_MONTH, "tz": "Europe/Berlin"},
        "one service, UTC": {"month": REPORT_MONTH, "service": "svc-007"},
    }


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


async def run(events: int = 1_000_000, rebuild_events: int = REBUILD_EVENTS) -> dict[str, Any]:
    async with BenchEnv() as env:
        print(f"[bench] reporting: seeding {events:,} events and their facts", flush=True)
        seed = await _seed(env, events)
        log_dir = Path("var/bench")
        await asyncio.to_thread(log_dir.mkdir, parents=True, exist_ok=True)
        proc = ServiceProcess("reporting", env.service_env(), log_dir).start()
        try:
            url = proc.url + "/v1/reports/monthly"
            timings = {n: await asyncio.to_thread(_time, url, p) for n, p in _cases().items()}
            print(f"[bench] reporting: growing the read model to {events * SCALE:,} events")
            grown = await grow_tenfold(env)
            timings_10 = {n: await asyncio.to_thread(_time, url, p) for n, p in _cases().items()}
        finally:
            proc.stop()
        print(f"[bench] reporting: rebuild by replay of {rebuild_events:,} events", flush=True)
        replay = await measure_rebuild(env, rebuild_events, 10_000_000)
    problems = [f"1M {n}" for n, t in timings.items() if t["median_ms"] > TARGET_MS]
    problems += [f"10M {n}" for n, t in timings_10.items() if t["median_ms"] > TARGET_10M_MS]
    if replay["extrapolated_s"] > REBUILD_TARGET_S:
        problems.append("rebuild of 10M")
    result = {
        "events": events,
        "seed": seed,
        "timings": timings,
        "grown": grown,
        "timings_10x": timings_10,
        "rebuild": replay,
        "problems": problems,
    }
    print(
        f"[bench] reporting: seeded {seed['records']:,} records in {seed['seconds']:.0f} s "
        f"({seed['records_per_s']:,.0f} records/s through apply_records); grown to "
        f"{grown['clocks']:,} clocks, {grown['tickets']:,} tickets in {grown['seconds']:.0f} s"
    )
    for label, table, target in (
        (f"{events / 1e6:g}M", timings, TARGET_MS),
        (f"{events * SCALE / 1e6:g}M", timings_10, TARGET_10M_MS),
    ):
        for name, t in table.items():
            print(
                f"  monthly report {label:>4}, {name:<28} median {t['median_ms']:7.1f} ms  "
                f"max {t['max_ms']:7.1f} ms  (target <= {target:g} ms)  "
                f"{_verdict(t['median_ms'] <= target)}"
            )
    print(
        f"  rebuild by replay: {replay['records']:,} records ({replay['events']:,} events and "
        f"their facts) in {replay['seconds']:.1f} s = {replay['records_per_s']:,.0f} records/s"
    )
    print(
        f"  rebuild of 10M events ({replay['records_per_event']:.2f} records per event), "
        f"extrapolated {replay['extrapolated_s'] / 60:5.1f} min  "
        f"(target <= {REBUILD_TARGET_S / 60:g} min)  "
        f"{_verdict(replay['extrapolated_s'] <= REBUILD_TARGET_S)}"
    )
    out = Path("var/bench/reporting.json")
    await asyncio.to_thread(out.write_text, json.dumps(result, indent=2))
    if events == 1_000_000:  # the levels name 1M and 10M events: a smaller run is a check
        publish(_entries(timings, timings_10, replay))
    return result


def _entries(
    timings: dict[str, Any], timings_10: dict[str, Any], replay: dict[str, Any]
) -> list[Entry]:
    """The worst median of the three reports at 1M and at 10M events, and the rebuild."""
    command = "python -m bench --only reporting"
    out = []
    for name, table in (
        ("monthly report, 1M events", timings),
        ("monthly report, 10M events", timings_10),
    ):
        note = "; ".join(f"{case} {t['median_ms']:.1f} ms" for case, t in table.items())
        worst = max(t["median_ms"] for t in table.values())
        out.append(entry(name, round(worst, 1), command=command, note="medians: " + note))
    out.append(rebuild_entry(replay, command))
    return out


def rebuild_entry(replay: dict[str, Any], command: str, note: str = "") -> Entry:
    """The rebuild's level from a `measure_rebuild` of `REBUILD_EVENTS` events."""
    return entry(
        "rebuild of 10M events by replay",
        round(replay["extrapolated_s"] / 60, 1),
        command=command,
        note=f"extrapolated from {replay['records_per_s']:,.0f} records/s over "
        f"{replay['records']:,} records{note}",
    )


def from_args(args: argparse.Namespace) -> Any:
    """The hook `python -m bench --only reporting` calls."""
    return run()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.reporting", description=__doc__.split("\n")[0]
    )
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--rebuild-events", type=int, default=REBUILD_EVENTS)
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    from pacta.logs import configure_logging

    configure_logging("WARNING", "bench")
    result = asyncio.run(run(args.events, args.rebuild_events))
    return 1 if result["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
