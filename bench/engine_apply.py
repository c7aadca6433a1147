"""The sla-engine's apply rate on a backfill: ticket lifecycles in the past produced onto the
tickets topic while engines consume them (docs/benchmarks.md, "Apply rate, a backfill").

    PYTHONPATH=. .venv/bin/python -m bench.engine_apply --events 60000
    PYTHONPATH=. .venv/bin/python -m bench.engine_apply --events 1000000 --preload

`--preload` writes the whole history onto the topic first and then starts the engines, so the
time is the engines' alone (ready -> every event applied), as in a real backfill; without it
the events are produced while one engine consumes (the method of the earlier rows).
`--instances 2` runs two engines in one consumer group (they split the partitions).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import time
from itertools import islice
from pathlib import Path
from typing import Any

from bench import profile as py_spy
from bench.engine_proc import Engine
from bench.engine_seed import TicketProducer, lifecycle_events
from bench.env import KAFKA, BenchEnv, RetryingEnv
from bench.render import publish
from bench.report import OUT_DIR, table, target_row
from bench.results import Entry, entry
from pacta.clock import now_ms

TARGET_APPLY_EPS = 10_000.0  # "sla-engine apply rate": ticket events/s applied (a backfill)
TARGET_BACKFILL_S = 120.0  # issue 11: "a backfill of 1,000,000 ticket events in under two minutes"
CHUNK = 5000


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (fields 14 and 15 of /proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _produce(prefix: str, events: int) -> int:
    """The lifecycles (created, responded, resolved), a day in the past, in chunks (a million
    events are never held at once); returns how many were sent."""
    tickets = -(-events // 3)  # the last ticket's lifecycle may be cut short
    lifecycles = islice(lifecycle_events("E", tickets, now_ms() - 86_400_000), events)
    async with TicketProducer(KAFKA, prefix) as producer:
        while chunk := list(islice(lifecycles, CHUNK)):
            await producer.send(chunk)
        return producer.sent


async def _backend_cpu(env: BenchEnv) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend on the run's database (the engines' and this
    bench's connections; none of the other sessions on the box)."""
    async with env.db() as conn:
        pids = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        )
    out: dict[int, float] = {}
    for row in pids:
        with contextlib.suppress(OSError):
            out[row["pid"]] = cpu_seconds(row["pid"])
    return out


async def _applied(engines: list[Engine]) -> float:
    return sum([(await e.scrape())["events_applied"] for e in engines])


async def run(
    events: int,
    limit_s: float,
    instances: int = 1,
    preload: bool = False,
    profile: str | None = None,
) -> dict[str, Any]:
    async with RetryingEnv() as env:
        engines = [Engine(env, OUT_DIR / "logs", f"apply{n}") for n in range(instances)]
        engines[0].start()
        await engines[0].wait_ready(120)
        await engines[0].put_policy()
        sent = 0
        if preload:
            engines[0].stop()
            sent = await _produce(env.topic_prefix, events)
            for engine in engines:
                engine.start()
            for engine in engines:
                await engine.wait_ready(120)
        else:
            for engine in engines[1:]:
                engine.start()
                await engine.wait_ready(120)
        pids = [e.proc.pid for e in engines if e.proc is not None]
        base = 0.0 if preload else await _applied(engines)
        sampler = None
        if profile:
            sampler = await py_spy.start(pids[0], Path(profile), limit_s)
        pg0 = await _backend_cpu(env)
        c0, t0 = sum(cpu_seconds(p) for p in pids), time.time()
        producing = None if preload else asyncio.create_task(_produce(env.topic_prefix, events))
        applied, total = 0.0, events
        while time.time() - t0 < limit_s:
            applied = await _applied(engines) - base
            if applied >= total:
                break
            await asyncio.sleep(0.5)  # a /metrics scrape costs the engine CPU: not too often
        took, cpu = time.time() - t0, sum(cpu_seconds(p) for p in pids) - c0
        pg1 = await _backend_cpu(env)
        pg_cpu = sum(c - pg0.get(pid, 0.0) for pid, c in pg1.items())
        if sampler is not None:
            sampler.proc.send_signal(signal.SIGINT)  # py-spy writes what it sampled so far
            print("py-spy samples:", await py_spy.finish(sampler))
        if producing is not None:
            sent = await producing
        signals: dict[str, float] = {}
        for engine in engines:
            for key, value in (await engine.scrape()).items():
                if key.startswith("signals_"):
                    signals[key[8:]] = signals.get(key[8:], 0.0) + value
        for engine in engines:
            engine.stop()
    return {
        "events": sent,
        "applied": applied,
        "seconds": took,
        "events_per_s": applied / took,
        "events_per_cpu_s": applied / cpu if cpu else 0.0,
        "engine_us_per_event": cpu / applied * 1e6 if applied else 0.0,
        "postgres_us_per_event": pg_cpu / applied * 1e6 if applied else 0.0,
        "instances": instances,
        "preload": preload,
        "completed": applied >= total,
        "load_1m": os.getloadavg()[0],
        "signals": {k: int(v) for k, v in sorted(signals.items())},
    }


def backfill_row(r: dict[str, Any]) -> dict[str, Any]:
    """The issue's row: the backfill's time and rate, PASS only if both targets hold."""
    extrapolated = r["seconds"] * 1_000_000 / max(r["applied"], 1)
    ok = r["completed"] and r["seconds"] <= TARGET_BACKFILL_S * r["events"] / 1_000_000
    ok = ok and r["events_per_s"] >= TARGET_APPLY_EPS
    label = f"backfill {r['events']:,} ticket events"
    if r["events"] != 1_000_000:
        label += f" (1,000,000 extrapolated: {extrapolated:.0f} s)"
    return target_row(
        label,
        f"{r['seconds']:.1f} s, {r['events_per_s']:,.0f}/s",
        f"<= {TARGET_BACKFILL_S:g} s and >= {TARGET_APPLY_EPS:,.0f}/s"
        + ("" if r["events"] == 1_000_000 else " (pro rata)"),
        ok,
        f"{r['instances']} engine(s), {'preloaded' if r['preload'] else 'produced meanwhile'}; "
        f"{r['events_per_cpu_s']:,.0f} per engine CPU-second; load {r['load_1m']:.2f}",
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=60_000, help="ticket events (3 per ticket)")
    p.add_argument("--limit", type=float, default=900.0, help="seconds before giving up")
    p.add_argument("--instances", type=int, default=1, help="engines in the consumer group")
    p.add_argument("--preload", action="store_true", help="produce all before the engines start")
    p.add_argument("--profile", default=None, help="py-spy samples of the first engine (raw)")
    args = p.parse_args()
    r = asyncio.run(run(args.events, args.limit, args.instances, args.preload, args.profile))
    row = backfill_row(r)
    print(
        f"{r['applied']:,.0f}/{r['events']:,} applied in {r['seconds']:.1f}s = "
        f"{r['events_per_s']:,.0f} events/s; {r['events_per_cpu_s']:,.0f} per engine "
        f"CPU-second; per event: engine {r['engine_us_per_event']:.0f} us, PostgreSQL (this "
        f"database's backends) {r['postgres_us_per_event']:.0f} us; load {r['load_1m']:.2f}; "
        f"signals {r.get('signals', {})}"
    )
    print(table(["what", "measured", "target", "result", "note"], [list(row.values())]))
    if r["events"] == 1_000_000 and r["instances"] == 1 and r["preload"]:
        publish([apply_entry(r)])


def apply_entry(r: dict[str, Any], measured_at: str | None = None) -> Entry:
    """The apply rate's level from a preloaded run of 1,000,000 events on one engine."""
    e = entry(
        "sla-engine apply rate",
        round(r["events_per_s"]),
        command="PYTHONPATH=. python -m bench.engine_apply --events 1000000 --preload",
        note=f"1M ticket events preloaded, one engine {r['seconds']:.1f} s, "
        f"{r['events_per_cpu_s']:,.0f} per engine CPU-second; per event engine "
        f"{r['engine_us_per_event']:.0f} µs, its PostgreSQL backends "
        f"{r['postgres_us_per_event']:.0f} µs; load {r['load_1m']:.2f}",
        measured_at=measured_at,
    )
    e.met = bool(e.met) and bool(r["completed"])
    return e


if __name__ == "__main__":
    main()
