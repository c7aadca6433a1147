"""The rebuild by replay alone: a stream of the reporting bench's shape produced into the
bench's own topics, `reporting.rebuild.rebuild` timed on it, the process's CPU per record, and
a digest of the read model it built (two code versions that rebuild the same stream must print
the same digest).

    python -m bench.reporting_rebuild --events 100000

A run of the reporting bench's size (`--events 250000`) records the rebuild's level in
bench/results.json, as `python -m bench --only reporting` does.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
from typing import Any

from bench.env import BenchEnv, RetryingEnv
from bench.render import publish
from bench.reporting import REBUILD_EVENTS, rebuild_entry
from bench.reporting_scale import measure_rebuild

LIVE = "reporting_replay"
READ_MODEL = (
    "services",
    "tickets",
    "ticket_days",
    "clocks",
    "clock_days",
    "clock_version_days",
    "availability",
    "signals",
    "retractions",
    "calendars",
    "policies",
    "inbox",
)


async def digest(env: BenchEnv, schema: str = LIVE, tables: tuple[str, ...] = READ_MODEL) -> str:
    """One hash over the rows of every table of `tables` (the read model's, inbox included),
    each table in a fixed order."""
    h = hashlib.sha256()
    async with env.db() as conn:
        existing = {
            r["table_name"]
            for r in await conn.fetch(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = $1",
                schema,
            )
        }
        for table in tables:
            if table not in existing:
                continue
            # the inbox's applied_at is the clock's: only its ids are the replay's
            row = "t.event_id" if table == "inbox" else "t::text"
            text = await conn.fetchval(
                f"SELECT coalesce(string_agg({row}, E'\\n' ORDER BY {row}), '') "
                f"FROM {schema}.{table} t"
            )
            h.update(f"{table}\n{text}\n".encode())
    return h.hexdigest()[:16]


def _cpu_ticks(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


async def _watch_backends(env: BenchEnv, seen: dict[int, int]) -> None:
    """The CPU ticks of every PostgreSQL process on the bench's database, polled until
    cancelled (each backend's last reading before it exits is what counts)."""
    async with env.db() as conn:
        me = await conn.fetchval("SELECT pg_backend_pid()")
        while True:
            for r in await conn.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = $1", env.db_name
            ):
                if r["pid"] != me:
                    seen[r["pid"]] = max(seen.get(r["pid"], 0), _cpu_ticks(r["pid"]))
            await asyncio.sleep(0.2)


async def run(events: int) -> dict[str, Any]:
    async with RetryingEnv() as env:
        seen: dict[int, int] = {}
        watch = asyncio.create_task(_watch_backends(env, seen))
        try:
            replay = await measure_rebuild(env, events, 10_000_000)
        finally:
            watch.cancel()
        ticks = os.sysconf("SC_CLK_TCK")
        replay["pg_cpu_us_per_record"] = sum(seen.values()) / ticks / replay["records"] * 1e6
        replay["digest"] = await digest(env)
        # the inbox holds only the ids a rebuild claims: the rest is what it must agree on
        replay["digest_without_inbox"] = await digest(env, tables=READ_MODEL[:-1])
    return replay


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=100_000)
    args = p.parse_args()
    load = os.getloadavg()
    r = asyncio.run(run(args.events))
    print(
        f"rebuild: {r['records']:,} records in {r['seconds']:.1f} s = "
        f"{r['records_per_s']:,.0f} records/s, CPU {r['cpu_us_per_record']:.1f} µs/record "
        f"(rebuild process and its forked replays; of the process's wall time {r['run_queue_s']:.1f} s waiting for a core, "
        f"{r['idle_s']:.1f} s waiting on I/O), PostgreSQL {r['pg_cpu_us_per_record']:.1f} µs/record, 10M events extrapolated {r['extrapolated_s'] / 60:.1f} min; "
        f"digest {r['digest']} (without the inbox {r['digest_without_inbox']}); load {load[0]:.2f} -> {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    if args.events == REBUILD_EVENTS:
        command = f"python -m bench.reporting_rebuild --events {REBUILD_EVENTS}"
        cpu = f"; rebuild {r['cpu_us_per_record']:.1f}, PostgreSQL {r['pg_cpu_us_per_record']:.1f} µs CPU/record; load {load[0]:.2f}"
        publish([rebuild_entry(r, command, cpu)])


if __name__ == "__main__":
    main()
