"""The alerting drain: how many breach signals/s one alerting instance turns into webhooks.

    python -m bench --only drain                    # 50,000 signals
    python -m bench.drain --signals 2000            # a short check

One alerting process on a database and topic prefix of the run's own, the bench's route
(`group_by: ['...']`, `group_wait: 0s`: one notification per breach) to a webhook receiver in a
process of its own (`bench.receiver`). After a warm-up, alerting is stopped, the backlog of
breach signals is produced straight onto the signals topic (the sla-engine's contract,
`pacta.events.Signal`), and alerting is started again: it resumes from its stored offsets and
drains the backlog. The rate is the notified signals over first -> last webhook; every signal
must be notified exactly once. With `--resolve`, a `stopped` signal per ticket follows once all
are notified, and alerting's CPU per resolve is measured until every resolved notification came.
It also prints the rows alerting's tables wrote per notification (PostgreSQL's statistics), and
`--profile out.raw` samples the draining alerting process with py-spy.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaProducer

from bench.alerting import ADMIN, ROUTE
from bench.alerting_micro import _produce, _signal
from bench.alerting_report import matched, pacta_keys
from bench.env import ADMIN_KEY, KAFKA, BenchEnv, RetryingEnv
from bench.procs import CLK_TCK, CpuMeter, Proc, _proc_ticks, free_port, listener_pid
from bench.receiver import Receiver
from bench.render import publish
from bench.report import OUT_DIR, stamp, write_json
from bench.results import entry
from pacta.events import SIGNALS_TOPIC, topic_name

BUDGET_S = 420.0
TARGET = 5_000.0
COMMAND = "python -m bench --only drain"


def _alerting(env: dict[str, str], port: int, run: str, n: int) -> Proc:
    return Proc(
        "alerting",
        [sys.executable, "-m", "alerting"],
        OUT_DIR / "logs" / f"drain-{run}-alerting-{n}.log",
        {
            **env,
            "PACTA_API_KEYS": f"{ADMIN_KEY}:admin",
            "PACTA_ALERTING_PORT": str(port),
            "PACTA_ALERTING_PUBLIC_URL": f"http://127.0.0.1:{port}",
        },
    )


async def _wait_count(receiver: Receiver, want: int, limit: float, stall: float = 20.0) -> int:
    """Poll the receiver until `want` bodies arrived, nothing came for `stall` s, or `limit`."""
    deadline, last, changed = time.monotonic() + limit, -1, time.monotonic()
    while time.monotonic() < deadline:
        got = await receiver.count()
        if got >= want:
            return got
        if got != last:
            last, changed = got, time.monotonic()
        elif time.monotonic() - changed > stall:
            return got
        await asyncio.sleep(0.25)
    return await receiver.count()


async def _row_counts(env: BenchEnv) -> dict[str, int]:
    """Rows inserted, updated (HOT or not) in alerting's tables so far, and transactions
    committed, from PostgreSQL's statistics (a backend reports them when it exits)."""
    async with env.db() as conn:
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        rows = await conn.fetch(
            "SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del "
            "FROM pg_stat_user_tables WHERE schemaname = 'alerting'"
        )
        commits = await conn.fetchval(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        )
    out = {"commits": int(commits)}
    for r in rows:
        for what in ("ins", "upd", "hot_upd", "del"):
            out[f"{r['relname']}.{what}"] = int(r[f"n_tup_{what}"])
    return out


async def _produce_resolves(topic: str, prefix: str, count: int) -> None:
    """A `stopped` signal for each ticket of `_produce(topic, prefix, count, ...)`."""
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all", linger_ms=2)
    await producer.start()
    try:
        futures = []
        for k in range(count):
            body = orjson.loads(_signal(prefix, k))
            body.update(signal_id=f"{prefix}-r{k}", kind="stopped", late=False)
            key = f"svc-{k % 16}".encode()
            futures.append(await producer.send(topic, orjson.dumps(body), key=key))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _resolve_cost(
    receiver: Receiver, meter: CpuMeter, topic: str, prefix: str, signals: int, before: int
) -> dict[str, Any]:
    """Resolve every ticket; alerting's CPU per resolve signal until each resolve arrived."""
    meter.start()
    await _produce_resolves(topic, prefix, signals)
    got = await _wait_count(receiver, before + signals, 240.0)
    cpu = meter.stop()
    resolved = got - before
    us = cpu["alerting"] / 100 * cpu["window_s"] / max(1, resolved) * 1e6
    print(
        f"[bench] drain: {resolved:,}/{signals:,} resolves notified in {cpu['window_s']:.1f} s; "
        f"alerting {us:,.0f} us CPU/resolve; cpu % of a core: {_brief(cpu)}",
        flush=True,
    )
    return {"resolves_notified": resolved, "alerting_cpu_us_per_resolve": round(us, 1)}


async def run(
    signals: int, drain_limit: float = 240.0, resolve: bool = False, profile: str = ""
) -> dict[str, Any]:
    run_id = stamp()
    receiver = Receiver(OUT_DIR / "logs" / f"drain-{run_id}-receiver.log")
    await asyncio.to_thread(receiver.start)
    async with RetryingEnv() as env, contextlib.AsyncExitStack() as stack:
        stack.callback(receiver.stop)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        first = _alerting(env.service_env(), port, run_id, 1)
        stack.callback(first.stop)
        first.start()
        await asyncio.to_thread(first.wait_http, url + "/readyz", 120)
        async with httpx.AsyncClient(timeout=15, headers=ADMIN) as http:
            hook = {"type": "webhook", "url": receiver.url("/pacta"), "secret": "bench"}
            (await http.put(f"{url}/v1/receivers/bench", json=hook)).raise_for_status()
            (await http.put(f"{url}/v1/routes", json=ROUTE)).raise_for_status()
        topic = topic_name(env.topic_prefix, SIGNALS_TOPIC)
        prefix = f"d{env.rand}"
        await _produce(topic, prefix + "w", 20, 50.0)
        if await _wait_count(receiver, 20, 60) < 20:
            raise RuntimeError("the warm-up's 20 notifications did not arrive:\n" + first.tail(30))
        first.stop()
        warm = await receiver.count()
        counts0 = await _row_counts(env)

        t_produce = time.monotonic()
        await _produce(topic, prefix, signals, 0.0)
        produced_s = time.monotonic() - t_produce
        print(f"[bench] drain: {signals:,} signals produced in {produced_s:.1f} s", flush=True)

        kafka_pid = listener_pid(int(KAFKA.rsplit(":", 1)[1]))
        second = _alerting(env.service_env(), port, run_id, 2)
        stack.callback(second.stop)
        meter = CpuMeter(
            {
                "alerting": lambda: [second.pid] if second.alive() else [],
                "receiver": lambda: [receiver.pid],
                "kafka": lambda: [kafka_pid] if kafka_pid else [],
                "postgres": CpuMeter.postgres_pids,
                "postgres_run": CpuMeter.backends_of(env.db_name),
            }
        )
        load = os.getloadavg()[0]
        second.start()
        spy = None
        if profile:
            # attached before the backlog is consumed: the whole drain is sampled
            await asyncio.to_thread(second.wait_http, url + "/readyz", 120)
            spy = await asyncio.create_subprocess_exec(
                *(os.path.join(os.path.dirname(sys.executable), "py-spy"), "record"),
                *("-p", str(second.pid), "-o", profile, "-r", "200", "--nonblocking"),
                *(("-f", "raw") if profile.endswith(".raw") else ()),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
            )
        # the window starts with the first notification: the process start is not the drain
        while await receiver.count() == warm:
            if not second.alive():
                raise RuntimeError("alerting exited:\n" + second.tail(30))
            await asyncio.sleep(0.02)
        meter.start()
        got = await _wait_count(receiver, warm + signals, drain_limit)
        cpu = meter.stop()
        alerting_ticks = _proc_ticks(second.pid)
        if spy is not None:
            spy.send_signal(signal.SIGINT)  # py-spy writes what it sampled so far
            await asyncio.wait_for(spy.wait(), 30)
        arrivals = await receiver.arrivals(warm)
        resolves = (
            await _resolve_cost(receiver, meter, topic, prefix, signals, got) if resolve else {}
        )
        second.stop()
        counts = await _row_counts(env)
    per_signal = {
        k: round((v - counts0.get(k, 0)) / max(1, got - warm), 2)
        for k, v in sorted(counts.items())
        if v != counts0.get(k, 0)
    }
    hits = matched(arrivals, pacta_keys(prefix))
    firsts = sorted(min(a for a, _, _ in v) for v in hits.values())
    span = firsts[-1] - firsts[0] if len(firsts) > 1 else 0.0
    notified = len(hits)
    out: dict[str, Any] = {
        "benchmark": "drain",
        "signals": signals,
        "produced_s": round(produced_s, 2),
        "bodies_received": got - warm,
        "notified": notified,
        "lost": signals - notified,
        "doubled": sum(len({key for _, _, key in v}) > 1 for v in hits.values()),
        "extra_notifications": sum(len(v) - 1 for v in hits.values()),
        "first_to_last_s": round(span, 3),
        "drained_per_s": round(notified / span, 1) if span else None,
        "cpu_pct_of_one_core": cpu,
        "alerting_cpu_us_per_signal": round(
            cpu["alerting"] / 100 * cpu["window_s"] / max(1, notified) * 1e6, 1
        ),
        "alerting_cpu_s_whole_process": round(alerting_ticks / CLK_TCK, 2),
        # the backends of this run's database only (the box may run other work)
        "postgres_cpu_us_per_signal": round(
            cpu["postgres_run"] / 100 * cpu["window_s"] / max(1, notified) * 1e6, 1
        ),
        "load_before": round(load, 2),
        "load_after": round(os.getloadavg()[0], 2),
        # what alerting's tables and transactions counted per notification received
        "rows_per_signal": per_signal,
        **resolves,
    }
    problems = []
    if out["lost"] or out["doubled"]:
        problems.append(f"{out['lost']} signals never notified, {out['doubled']} doubled")
    out["problems"] = problems
    rate = out["drained_per_s"]
    print(
        f"[bench] drain: {notified:,}/{signals:,} notified in {span:.2f} s = "
        f"{rate or 0:,.0f} signals/s (target >= {TARGET:,.0f}); lost {out['lost']}, "
        f"doubled {out['doubled']}; alerting {out['alerting_cpu_us_per_signal']:,.0f} us "
        f"CPU/signal, its PostgreSQL backends {out['postgres_cpu_us_per_signal']:,.0f} us "
        f"(load {out['load_before']} -> {out['load_after']}); cpu % of a core: "
        f"{_brief(cpu)}",
        flush=True,
    )
    print(f"[bench] drain: per notification: {per_signal}", flush=True)
    write_json("drain", out)
    note = (
        f"{notified:,} of {signals:,} notified once, {out['lost']} lost, {out['doubled']} doubled;"
        f" alerting {out['alerting_cpu_us_per_signal']:,.0f} us CPU/signal, receiver "
        f"{cpu['receiver']:.0f} % of a core"
    )
    row = entry("alerting drain", rate, command=COMMAND, note=note, detail=out)
    row.met = row.met and not problems
    publish([row])
    return out


def _brief(cpu: dict[str, float]) -> str:
    keys = ("alerting", "receiver", "kafka", "postgres", "postgres_run", "other", "idle")
    return ", ".join(f"{k} {cpu[k]:.0f}" for k in keys if k in cpu)


def from_args(args: argparse.Namespace) -> Any:
    async def go() -> dict[str, Any]:
        async with asyncio.timeout(BUDGET_S):
            return await run(args.drain_signals)

    return go()


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.drain", description=__doc__.split("\n")[0])
    p.add_argument("--signals", type=int, default=50_000)
    p.add_argument("--resolve", action="store_true", help="then resolve every ticket")
    p.add_argument(
        "--profile", default="", help="py-spy of the draining alerting to this file (.raw: raw)"
    )
    args = p.parse_args()
    asyncio.run(run(args.signals, resolve=args.resolve, profile=args.profile))


if __name__ == "__main__":
    main()
