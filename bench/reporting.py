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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx
import orjson

from bench.env import BenchEnv
from bench.reporting_scale import REBUILD_TARGET_S, SCALE, grow_tenfold, measure_rebuild
from pacta.db import create_engine, migrate
from pacta.durations import format_timestamp_ms
from pacta.events import FACTS_TOPIC, TICKETS_TOPIC
from pacta.kafka import Record
from reporting.app import MIGRATIONS
from reporting.consumer import apply_records
from reporting.domain.periods import month_bounds
from tests.support.processes import ServiceProcess

SERVICES = 100
MONTHS = [f"2026-{m:02d}" for m in range(1, 13)]
REPORT_MONTH = "2026-10"
TARGET_MS = 100.0
TARGET_10M_MS = 300.0
BUDGET_S = 1800
H = 3_600_000


@dataclass
class _Rec:
    topic: str
    key: bytes
    value: bytes
    offset: int = 0


def _ts(ms: int) -> str:
    return format_timestamp_ms(ms)


def _ticket_records(prefix: str, n: int, rng: random.Random) -> list[_Rec]:
    """Events of ticket n (4) and its clock facts (4)."""
    service = f"svc-{n % SERVICES:03d}"
    start, end = month_bounds(MONTHS[n % len(MONTHS)], "UTC")
    created = rng.randrange(start, end - 12 * H)
    responded = created + rng.randrange(60_000, 2 * H)
    resolved = responded + rng.randrange(H, 10 * H)
    tid = f"T{n}"
    prio = ("P1", "P2", "P3", "P4")[n % 4]
    out = []
    for i, (action, at) in enumerate(
        (
            ("created", created),
            ("responded", responded),
            ("resolved", resolved),
            ("closed", resolved + H),
        )
    ):
        event = {
            "id": f"{tid}-{i}",
            "occurred_at": _ts(at),
            "ticket_id": tid,
            "service": service,
            "type": "incident",
            "priority": prio,
            "action": action,
            "received_at": _ts(at),
        }
        out.append(_Rec(f"{prefix}.{TICKETS_TOPIC}", tid.encode(), orjson.dumps(event)))
    for metric, stop, target in (("response", responded, H), ("resolution", resolved, 8 * H)):
        for version, state in (
            (1, "running"),
            (2, "met" if stop - created <= target else "breached"),
        ):
            fact = {
                "fact_id": f"clock:{tid}:{metric}:{version}",
                "fact": "clock",
                "ticket_id": tid,
                "metric": metric,
                "service": service,
                "policy": "gold",
                "priority": prio,
                "state": state,
                "version": version,
                "elapsed_seconds": 0.0 if version == 1 else (stop - created) / 1000,
                "target_seconds": target / 1000,
                "started_at": _ts(created),
                "stopped_at": None if version == 1 else _ts(stop),
                "breached_at": _ts(created + target) if state == "breached" else None,
                "deadline": _ts(created + target),
            }
            out.append(_Rec(f"{prefix}.{FACTS_TOPIC}", service.encode(), orjson.dumps(fact)))
    return out


def _availability_records(prefix: str, rng: random.Random) -> list[_Rec]:
    out = []
    for s in range(SERVICES):
        service = f"svc-{s:03d}"
        for month in MONTHS:
            start, end = month_bounds(month, "UTC")
            down = sorted(rng.randrange(start, end - H) for _ in range(12))
            fact = {
                "fact_id": f"availability:{service}:{month}:1",
                "fact": "availability",
                "service": service,
                "month": month,
                "policy": "gold",
                "target": 99.9,
                "calendar": "24x7",
                "version": 1,
                "down_intervals": [[_ts(d), _ts(d + rng.randrange(60_000, H))] for d in down],
                "maintenance_intervals": [
                    [_ts(start + 5 * 24 * H), _ts(start + 5 * 24 * H + 2 * H)]
                ],
                "calendar_timezone": "UTC",
                "month_start": _ts(start),
                "month_end": _ts(end),
            }
            out.append(_Rec(f"{prefix}.{FACTS_TOPIC}", service.encode(), orjson.dumps(fact)))
    return out


async def _seed(env: BenchEnv, events: int) -> dict[str, float]:
    url = env.database_url.replace("postgresql://", "postgresql+asyncpg://", 1)
    await migrate(url, "reporting", MIGRATIONS)
    engine = create_engine(url)
    rng = random.Random(7)
    started = time.perf_counter()
    records = 0
    try:
        await apply_records(
            engine, "reporting", cast(list[Record], _availability_records(env.topic_prefix, rng))
        )
        batch: list[_Rec] = []
        for n in range(events // 4):
            batch += _ticket_records(env.topic_prefix, n, rng)
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


async def run(events: int = 1_000_000, rebuild_events: int = 250_000) -> dict[str, Any]:
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
    return result


def from_args(args: argparse.Namespace) -> Any:
    """The hook `python -m bench --only reporting` calls."""
    return run()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.reporting", description=__doc__.split("\n")[0]
    )
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--rebuild-events", type=int, default=250_000)
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    from pacta.logs import configure_logging

    configure_logging("WARNING", "bench")
    result = asyncio.run(run(args.events, args.rebuild_events))
    return 1 if result["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
