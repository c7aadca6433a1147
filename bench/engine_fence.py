"""The clocks' fenced upsert (`sla_engine.clocks.store.save_clocks`) alone: PostgreSQL CPU per
ticket written, on a scratch database holding `--tickets` tickets of two clocks each.

    PYTHONPATH=. .venv/bin/python -m bench.engine_fence --tickets 100000 --batch 5000

Each round writes `--batch` random tickets one version further, as a backfill's batch does:
every ticket its first clock, a third of them their second as well (the other clock unchanged,
so the fence locks and reads a row it does not write). The figure is the CPU the statement's
PostgreSQL backend spent (its /proc/<pid>/stat, so PostgreSQL must run on this box), the first
two rounds left out. A change to the statement is judged by running this before and after,
back to back: the apply bench's PostgreSQL figure moves by a few microseconds per event from
run to run on a shared box, more than such a change.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from datetime import UTC, datetime

from bench.engine_apply import cpu_seconds
from bench.env import BenchEnv
from pacta.db import create_engine, migrate
from pacta.settings import CommonSettings
from sla_engine.app import MIGRATIONS
from sla_engine.clocks.rows import ClockRow
from sla_engine.clocks.store import save_clocks
from sla_engine.domain.clocks import Metric
from sla_engine.store import SCHEMA, driver_connection

SEED_CHUNK = 5000
WARM_ROUNDS = 2


def clock_row(n: int, metric: Metric, version: int) -> ClockRow:
    """Ticket `n`'s running clock, as the engine writes it at `version`."""
    return ClockRow(
        f"T-{n:07d}",
        metric,
        "svc",
        None,
        "incident",
        "p",
        "24x7",
        "P2",
        3_600_000,
        [0.5, 0.8],
        1_700_000_000_000,
        1_700_000_000_000 + version,
        version,
        False,
        None,
        None,
        False,
        [],
        1_700_000_000_000 + version,
        "running",
        datetime(2026, 12, 7, tzinfo=UTC),
        "{}",
        version,
        1,
        0,
        1,
        1,
    )


async def run(tickets: int, batch: int, rounds: int) -> None:
    async with BenchEnv() as env:
        url = CommonSettings(database_url=env.database_url).database_url
        await migrate(url, SCHEMA, MIGRATIONS)
        db = create_engine(url, pre_ping=False)
        try:
            async with db.connect() as conn:
                pid = await (await driver_connection(conn)).fetchval("SELECT pg_backend_pid()")
                await conn.commit()
                for start in range(0, tickets, SEED_CHUNK):
                    async with conn.begin():
                        ns = range(start, min(tickets, start + SEED_CHUNK))
                        rows = [clock_row(n, m, 1) for n in ns for m in ("resolution", "response")]
                        await save_clocks(conn, rows=rows)
                versions = dict.fromkeys(range(tickets), 1)
                per_ticket: list[float] = []
                for _ in range(rounds):
                    rows = []
                    for n in sorted(random.sample(range(tickets), batch)):
                        versions[n] += 1
                        rows.append(clock_row(n, "resolution", versions[n]))
                        if random.random() < 1 / 3:
                            rows.append(clock_row(n, "response", versions[n]))
                    cpu, wall = cpu_seconds(pid), time.perf_counter()
                    async with conn.begin():
                        await save_clocks(conn, rows=rows)
                    wall = time.perf_counter() - wall
                    per_ticket.append((cpu_seconds(pid) - cpu) / batch * 1e6)
                    print(f"round: {per_ticket[-1]:.1f} us CPU per ticket, {wall * 1e3:.0f} ms")
        finally:
            await db.dispose()
    kept = sorted(per_ticket[WARM_ROUNDS:])
    print(
        f"save_clocks, {batch:,} tickets a batch of {tickets:,}: PostgreSQL "
        f"{sum(kept) / len(kept):.1f} us CPU per ticket (median {kept[len(kept) // 2]:.1f}, "
        f"{len(kept)} rounds)"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tickets", type=int, default=100_000)
    p.add_argument("--batch", type=int, default=5000)
    p.add_argument("--rounds", type=int, default=22)
    args = p.parse_args()
    asyncio.run(run(args.tickets, args.batch, args.rounds))


if __name__ == "__main__":
    main()
