"""Alerting alone: breach signals produced straight onto the signals topic -> webhook received.

    python -m bench.alerting_micro --rate 1000 --duration 10     # paced, as the target
    python -m bench.alerting_micro --rate 0 --count 5000         # a burst: how fast it drains

Only the alerting service runs (on a database and topic prefix of its own), with the bench's
route (`group_by: ['...']`, `group_wait: 0s`) and a webhook receiver in this process. Reports
signals/s drained, produce -> received and fired_at -> received quantiles, the alerting
process's CPU per signal, and the load average beside them (the box is shared: compare A/B).
`--profile out.svg` records a py-spy flame graph of the alerting process meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import orjson
from aiokafka import AIOKafkaProducer

from bench.alerting import ADMIN, ROUTE
from bench.alerting_http import Collector
from bench.alerting_report import matched, pacta_keys, quantiles
from bench.env import ADMIN_DSN, ADMIN_KEY, KAFKA, RetryingEnv
from bench.procs import CpuMeter, Proc, free_port
from bench.report import OUT_DIR, stamp
from pacta.events import SIGNALS_TOPIC, topic_name


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _signal(prefix: str, k: int) -> bytes:
    now = _iso(time.time())
    return orjson.dumps(
        {
            "signal_id": f"{prefix}-s{k}",
            "kind": "breach",
            "service": f"svc-{k % 16}",
            "policy": "bench",
            "metric": "resolution",
            "ticket_id": f"{prefix}-{k}",
            "priority": "P2",
            "occurred_at": now,
            "detected_at": now,
            "deadline": now,
            "late": True,
        }
    )


async def _produce(topic: str, prefix: str, count: int, rate: float, start: int = 0) -> list[float]:
    """Send `count` signals at `rate`/s (0: as fast as possible); the send time of each."""
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all", linger_ms=2)
    await producer.start()
    sent: list[float] = []
    try:
        began = time.monotonic()
        futures = []
        for k in range(start, start + count):
            if rate:
                ahead = began + (k - start) / rate - time.monotonic()
                if ahead > 0:
                    await asyncio.sleep(ahead)
            sent.append(time.time())
            key = f"svc-{k % 16}".encode()
            futures.append(await producer.send(topic, _signal(prefix, k), key=key))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return sent


async def _db_stats(database: str) -> dict[str, int]:
    """Transactions committed and rows written in `database` so far (pg_stat_database)."""
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        row = await conn.fetchrow(
            "SELECT xact_commit, tup_inserted + tup_updated + tup_deleted AS rows_written "
            "FROM pg_stat_database WHERE datname = $1",
            database,
        )
    finally:
        await conn.close()
    return {"commits": int(row["xact_commit"]), "rows_written": int(row["rows_written"])}


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _wait_for(collector: Collector, key: Any, count: int, drain: float) -> dict[int, Any]:
    deadline, last, changed = time.monotonic() + drain, -1, time.monotonic()
    while time.monotonic() < deadline:
        hits = matched(collector.arrivals, key)
        if len(hits) >= count:
            break
        if len(hits) != last:
            last, changed = len(hits), time.monotonic()
        elif time.monotonic() - changed > 20:
            break
        await asyncio.sleep(0.5)
    await asyncio.sleep(1.0)  # a doubled notification would come soon after the first
    return matched(collector.arrivals, key)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    collector = await Collector().start()
    async with RetryingEnv() as env, contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(collector.close)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = Proc(
            "alerting",
            [sys.executable, "-m", "alerting"],
            OUT_DIR / "logs" / f"alerting-micro-{stamp()}.log",
            {
                **env.service_env(),
                "PACTA_API_KEYS": f"{ADMIN_KEY}:admin",
                "PACTA_ALERTING_PORT": str(port),
                "PACTA_ALERTING_PUBLIC_URL": url,
                **dict(kv.split("=", 1) for kv in args.env),
            },
        )
        stack.callback(proc.stop)
        proc.start()
        await asyncio.to_thread(proc.wait_http, url + "/readyz", 120)
        async with httpx.AsyncClient(timeout=15, headers=ADMIN) as http:
            receiver = {"type": "webhook", "url": collector.url("/pacta"), "secret": "bench"}
            (await http.put(f"{url}/v1/receivers/bench", json=receiver)).raise_for_status()
            (await http.put(f"{url}/v1/routes", json=ROUTE)).raise_for_status()
        topic = topic_name(env.topic_prefix, SIGNALS_TOPIC)
        prefix = f"m{env.rand}"
        # warm-up: the consumer has joined its group, the webhook connection is open
        await _produce(topic, prefix + "w", 20, 20.0)
        if not await _wait_for(collector, pacta_keys(prefix + "w"), 20, 60):
            raise RuntimeError("no warm-up notification arrived:\n" + proc.tail(30))
        count = args.count or int(args.rate * args.duration)
        load = os.getloadavg()[0]
        spy = None
        if args.profile:
            spy = await asyncio.create_subprocess_exec(
                *(os.path.join(os.path.dirname(sys.executable), "py-spy"), "record"),
                *("-p", str(proc.pid), "-o", args.profile, "-r", "50", "--nonblocking"),
                # out.raw: collapsed stacks (to sum by function); else a flame graph
                *(("-f", "raw") if args.profile.endswith(".raw") else ()),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
            )
        stats0 = await _db_stats(env.db_name)
        backends = CpuMeter({"postgres_run": CpuMeter.backends_of(env.db_name)})
        backends.start()
        cpu0, t0 = _cpu_seconds(proc.pid), time.time()
        sent = await _produce(topic, prefix, count, args.rate)
        hits = await _wait_for(collector, pacta_keys(prefix), count, args.drain)
        cpu = _cpu_seconds(proc.pid) - cpu0
        pg = backends.stop()
        await asyncio.sleep(11)  # an idle backend reports its counts within 10 s
        stats = {k: v - stats0[k] for k, v in (await _db_stats(env.db_name)).items()}
        if spy is not None:
            spy.send_signal(2)
            await asyncio.wait_for(spy.wait(), 30)
        async with env.db() as conn:
            rows = await conn.fetch(
                "SELECT id, extract(epoch FROM fired_at)::float8 AS at FROM alerting.alerts"
            )
        fired = {str(r["id"]): float(r["at"]) for r in rows}
    firsts = {k: min(v) for k, v in hits.items()}
    last = max((a for a, _, _ in firsts.values()), default=t0)
    e2e = [(firsts[k][0] - sent[k]) * 1000 for k in firsts if 0 <= k < len(sent)]
    stage = [(at - fired[aid]) * 1000 for at, aid, _ in firsts.values() if aid in fired]
    out = {
        "count": count,
        "rate": args.rate,
        "notified": len(firsts),
        "doubled": sum(len({i for _, _, i in v}) > 1 for v in hits.values()),
        "drained_per_s": round(len(firsts) / max(1e-3, last - t0), 1),
        "signal_to_webhook_ms": {k: v and round(v, 1) for k, v in quantiles(e2e).items()},
        "fired_to_webhook_ms": {k: v and round(v, 1) for k, v in quantiles(stage).items()},
        "alerting_cpu_ms_per_signal": round(cpu * 1000 / max(1, len(firsts)), 2),
        # the backends of this run's database only (the box may run other work)
        "postgres_cpu_ms_per_signal": round(
            pg["postgres_run"] / 100 * pg["window_s"] * 1000 / max(1, len(firsts)), 2
        ),
        # PostgreSQL round trips that count: transactions and rows written per signal
        **{f"{k}_per_signal": round(v / max(1, len(firsts)), 2) for k, v in stats.items()},
        "load_before": round(load, 2),
        "load_after": round(os.getloadavg()[0], 2),
    }
    print(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode())
    return out


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.alerting_micro", description=__doc__)
    p.add_argument("--rate", type=float, default=1000.0, help="signals/s; 0 = a burst")
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--count", type=int, default=0, help="signals (default rate x duration)")
    p.add_argument("--drain", type=float, default=90.0)
    p.add_argument("--env", action="append", default=[], help="K=V for the alerting process")
    p.add_argument("--profile", default="", help="py-spy flame graph of alerting to this file")
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
