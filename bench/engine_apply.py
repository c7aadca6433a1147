"""The sla-engine's apply rate on a backfill: ticket lifecycles in the past produced onto the
tickets topic while one engine consumes them (docs/benchmarks.md, "Apply rate, a backfill").

    PYTHONPATH=. .venv/bin/python -m bench.engine_apply --events 60000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from bench.engine import TARGET_APPLY_EPS, Engine, _Env
from bench.engine_seed import TicketProducer, lifecycle_events
from bench.env import KAFKA
from bench.report import OUT_DIR


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (fields 14 and 15 of /proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run(events: int, limit_s: float) -> dict[str, float]:
    async with _Env() as env:
        engine = Engine(env, OUT_DIR / "logs", "apply")
        engine.start()
        await engine.wait_ready(120)
        await engine.put_policy()
        assert engine.proc is not None
        lifecycles = list(lifecycle_events("E", events // 3, int(time.time() * 1000) - 86_400_000))
        base = (await engine.scrape())["events_applied"]
        c0, t0 = cpu_seconds(engine.proc.pid), time.time()
        async with TicketProducer(KAFKA, env.topic_prefix) as producer:
            for i in range(0, len(lifecycles), 5000):
                await producer.send(lifecycles[i : i + 5000])
        applied = 0.0
        while time.time() - t0 < limit_s:
            applied = (await engine.scrape())["events_applied"] - base
            if applied >= len(lifecycles):
                break
            await asyncio.sleep(0.5)  # a /metrics scrape costs the engine CPU: not too often
        took, cpu = time.time() - t0, cpu_seconds(engine.proc.pid) - c0
        engine.stop()
    return {
        "events": len(lifecycles),
        "applied": applied,
        "seconds": took,
        "events_per_s": applied / took,
        "events_per_cpu_s": applied / cpu if cpu else 0.0,
        "load_1m": os.getloadavg()[0],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=60_000, help="ticket events (3 per ticket)")
    p.add_argument("--limit", type=float, default=300.0, help="seconds before giving up")
    args = p.parse_args()
    r = asyncio.run(run(args.events, args.limit))
    verdict = "PASS" if r["events_per_s"] >= TARGET_APPLY_EPS else "MISS"
    print(
        f"{r['applied']:,.0f}/{r['events']:,} applied in {r['seconds']:.1f}s = "
        f"{r['events_per_s']:,.0f} events/s ({verdict} against {TARGET_APPLY_EPS:,.0f}/s); "
        f"{r['events_per_cpu_s']:,.0f} per engine CPU-second; load {r['load_1m']:.2f}"
    )


if __name__ == "__main__":
    main()
