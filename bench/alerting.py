"""Event in -> notification delivered (against its target), next to Debian's Alertmanager in the same run.

    python -m bench --only alerting --duration 10                   # the alert storm
    python -m bench --only alerting --alerting-mode latency        # POST -> webhook

The alert storm (the default): every ticket is posted as it is `created`, under a policy whose
resolution target is 1 s, so 1,000 tickets/s breach 1,000 times a second, each 1 s after it was
posted; Pacta is measured from each breach's deadline (the webhook's `deadline`) to its webhook.
Alertmanager gets 1,000 alerts/s in the same run, measured from the POST to its webhook. The
receiver of both is `bench.receiver`, an asyncio keep-alive server in a process of its own.

The latency mode (below) measures the POST -> webhook path of breaches that are due at once.

Pacta: the four services as processes on a database and topic prefix of the run's own, a
webhook receiver and a root route (`group_by: ['...']`, `group_wait: 0s`) put over the alerting
API, and an sla-engine policy whose 1-minute resolution target every posted ticket has already
overrun (each is `created` two minutes ago), so the engine emits a late breach at once. Ticket
events are posted one per request to the ingest at 1,000/s; for each we measure the POST
leaving the sender -> the breach webhook read by a collector in this process: ingest, Kafka,
the engine, Kafka again, alerting's routing, grouping and durable queue, and the HTTP delivery.
Alertmanager: the same collector as its webhook receiver, the same route options, one unique
alert per POST to /api/v2/alerts at the same rate: POST -> webhook. One system after the other.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaConsumer

from bench.alerting_http import Arrival, PacedRun, paced_post
from bench.alerting_report import (
    TARGET_RATE,
    am_keys,
    analyse,
    deadlines,
    matched,
    pacta_keys,
    pacta_stages,
    render,
)
from bench.alerting_report import verdicts as verdict_rows
from bench.env import ADMIN_KEY, API_KEY, KAFKA, BenchEnv, RetryingEnv
from bench.procs import (
    CpuMeter,
    Proc,
    family,
    free_port,
    listener_pid,
    start_alertmanager,
    wait_quiet,
)
from bench.receiver import Receiver
from bench.render import publish
from bench.report import OUT_DIR, machine, stamp, write_json
from bench.results import entry
from pacta.events import SIGNALS_TOPIC, topic_name

BUDGET_S = 600.0  # the whole alerting benchmark, hard limit
MODULES = {
    "ingest": "PACTA_INGEST_PORT",
    "sla_engine": "PACTA_SLA_ENGINE_PORT",
    "alerting": "PACTA_ALERTING_PORT",
    "reporting": "PACTA_REPORTING_PORT",
}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
ROUTE = {
    "receiver": "bench",
    "group_by": ["..."],
    "group_wait": "0s",
    "group_interval": "1s",
    "repeat_interval": "4h",
}
POLICY = {
    "match": {},
    "calendar": "24x7",
    "targets": {"P2": {"response": "1h", "resolution": "1m"}},
    "warn_at": [],
}
STORM_POLICY = {**POLICY, "targets": {"P2": {"response": "1h", "resolution": "1s"}}}
AM_CONFIG = """\
route:
  receiver: bench
  group_by: ['...']
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 4h
receivers:
  - name: bench
    webhook_configs:
      - url: {url}
        send_resolved: false
"""


@dataclass
class Options:
    duration: float = 10.0  # seconds of paced sending per system
    rate: float = TARGET_RATE
    warmup: int = 30  # events sent slowly first: the pipeline works, connections are open
    drain: float = 60.0  # longest wait for the last notifications after the sends
    connections: int = 64  # the sender's keep-alive connections (as the ingest's paced bench)
    quiet_wait: float = 60.0
    quiet_threshold: float = 35.0
    alertmanager: bool = True
    storm: bool = True  # tickets breach 1 s after they are posted; else they are due at once


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AlertingBench:
    def __init__(self, opts: Options) -> None:
        self.opts, self.stamp = opts, stamp()
        self.log_dir = OUT_DIR / "logs"
        self.procs: dict[str, Proc] = {}
        self.urls: dict[str, str] = {}
        self.problems: list[str] = []
        self.warnings: list[str] = []

    async def main(self) -> dict[str, Any]:
        meta = machine()
        systems = []
        collector = Receiver(self.log_dir / f"alerting-bench-receiver-{self.stamp}.log")
        await asyncio.to_thread(collector.start)
        async with RetryingEnv() as env, contextlib.AsyncExitStack() as stack:
            stack.callback(collector.stop)
            self.rand, self.env = env.rand, env
            kafka_pid = listener_pid(int(KAFKA.rsplit(":", 1)[1]))
            groups = {n: self._pid_of(n) for n in (*MODULES, "alertmanager")}
            meter = CpuMeter(
                {
                    **groups,
                    "kafka": lambda: [kafka_pid] if kafka_pid else [],
                    "postgres": CpuMeter.postgres_pids,
                    "bench": lambda: [os.getpid()],  # the sender
                    "receiver": lambda: [collector.pid],
                }
            )
            await self._start_stack(env, stack)
            await self._configure(collector)
            pacta = await self._measure("pacta", collector, meter)
            systems.append(pacta)
            if self.opts.alertmanager:
                for proc in self.procs.values():  # the Pacta stack is done: a quiet box for AM
                    proc.stop()
                await self._start_alertmanager(stack, collector)
                systems.append(await self._measure("alertmanager", collector, meter))
        by = {s["system"]: s for s in systems}
        return {
            "benchmark": "alerting",
            "meta": {**meta, "alertmanager": _am_version(), "kafka": KAFKA},
            "options": {k: getattr(self.opts, k) for k in self.opts.__dataclass_fields__},
            "measured": MEASURED[self.opts.storm],
            "targets": verdict_rows(by.get("pacta"), by.get("alertmanager"), storm=self.opts.storm),
            "systems": systems,
            "problems": self.problems,
            "warnings": self.warnings,
        }

    def _pid_of(self, name: str) -> Any:
        # the process and its children: the ingest's workers
        return lambda: (
            family(self.procs[name].pid) if name in self.procs and self.procs[name].alive() else []
        )

    # ---- the systems ------------------------------------------------------------------------

    async def _start_stack(self, env: BenchEnv, stack: contextlib.AsyncExitStack) -> None:
        service_env = {
            **env.service_env(),
            "PACTA_API_KEYS": f"{API_KEY}:ingest,{ADMIN_KEY}:admin",
        }
        for module, port_var in MODULES.items():
            port = free_port()
            extra = {port_var: str(port)}
            if module == "alerting":
                extra["PACTA_ALERTING_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
            proc = Proc(
                module,
                [sys.executable, "-m", module],
                self.log_dir / f"alerting-bench-{module}-{self.stamp}.log",
                {**service_env, **extra},
            )
            stack.callback(proc.stop)
            proc.start()
            self.procs[module], self.urls[module] = proc, f"http://127.0.0.1:{port}"
        for module, proc in self.procs.items():
            await asyncio.to_thread(proc.wait_http, self.urls[module] + "/readyz", 120)
        print(f"[bench] stack up (database {env.db_name}), logs in {self.log_dir}", flush=True)

    async def _configure(self, collector: Receiver) -> None:
        alerting, engine = self.urls["alerting"], self.urls["sla_engine"]
        async with httpx.AsyncClient(timeout=15, headers=ADMIN) as http:
            receiver = {"type": "webhook", "url": collector.url("/pacta"), "secret": "bench"}
            r = await http.put(f"{alerting}/v1/receivers/bench", json=receiver)
            if r.status_code in (404, 405):
                raise RuntimeError(
                    f"alerting API not available: PUT /v1/receivers/bench answered "
                    f"{r.status_code} (this alerting service has no receivers/routes API yet)"
                )
            for what, resp in (
                ("PUT /v1/receivers/bench", r),
                ("PUT /v1/routes", await http.put(f"{alerting}/v1/routes", json=ROUTE)),
                (
                    "PUT /v1/policies/bench-alerting",
                    await http.put(
                        f"{engine}/v1/policies/bench-alerting",
                        json=STORM_POLICY if self.opts.storm else POLICY,
                    ),
                ),
            ):
                if resp.status_code not in (200, 201):
                    raise RuntimeError(f"{what}: HTTP {resp.status_code} {resp.text[:300]}")

    async def _start_alertmanager(
        self, stack: contextlib.AsyncExitStack, collector: Receiver
    ) -> None:
        config = AM_CONFIG.format(url=collector.url("/am"))
        log = self.log_dir / f"alerting-bench-alertmanager-{self.stamp}.log"
        am, url = await start_alertmanager(stack, config, log)
        self.procs["alertmanager"], self.urls["alertmanager"] = am, url

    # ---- one system's run -------------------------------------------------------------------

    def _target(self, system: str, label: str) -> tuple[str, dict[str, str], Any, Any]:
        """(url, headers, body(k), key of a webhook entry) for one system and one phase."""
        prefix = f"b{self.rand}{label}"
        if system == "pacta":
            # two minutes ago: overdue against the 1-minute target, yet live data (the engine
            # judges events older than five minutes as history, a backfill whose breaches
            # it holds back until the history is over)
            storm, created = self.opts.storm, _iso(time.time() - 120)
            tail = '","priority":"P2","action":"created","status":"open","occurred_at":"'

            def ticket(k: int) -> bytes:
                # storm: created as it is posted, due 1 s later; else overdue for minutes
                at = _iso(time.time()) if storm else created
                tid = f"{prefix}-{k}"
                return (
                    f'{{"id":"{tid}","ticket_id":"{tid}","service":"svc-{k % 16}{tail}{at}"}}'
                ).encode()

            headers = {"Content-Type": "application/json", "Authorization": f"Bearer {API_KEY}"}
            return self.urls["ingest"] + "/v1/events/tickets", headers, ticket, pacta_keys(prefix)
        starts = _iso(time.time())

        def alert(k: int) -> bytes:
            return (
                f'[{{"labels":{{"alertname":"bench","instance":"{prefix}-{k}",'
                f'"service":"svc-{k % 16}","severity":"major"}},"startsAt":"{starts}"}}]'
            ).encode()

        url = self.urls["alertmanager"] + "/api/v2/alerts"
        return url, {"Content-Type": "application/json"}, alert, am_keys(prefix)

    async def _phase(
        self, system: str, label: str, collector: Receiver, rate: float, count: int
    ) -> tuple[PacedRun, dict[int, list[tuple[float, str, str]]], list[Arrival]]:
        """Send, then wait for the notifications: polled by the receiver's count of bodies
        (one alert each, as `group_by: ['...']` makes every alert a group of its own); the
        bodies are read and matched once they are in."""
        url, headers, body, key = self._target(system, label)
        mark = await collector.count()
        run = await paced_post(
            url, body, rate=rate, count=count, headers=headers, connections=self.opts.connections
        )
        acked = run.ok
        deadline = time.monotonic() + self.opts.drain
        last_count, last_change = -1, time.monotonic()
        while time.monotonic() < deadline:
            got = await collector.count() - mark
            if got >= acked:
                break
            if got != last_count:
                last_count, last_change = got, time.monotonic()
            elif time.monotonic() - last_change > 20:
                break  # nothing new for 20 s: what is missing will not come
            await asyncio.sleep(0.5)
        await asyncio.sleep(1.5)  # a doubled notification would come soon after the first
        arrivals = await collector.arrivals(mark)
        return run, matched(arrivals, key), arrivals

    async def _measure(self, system: str, collector: Receiver, meter: CpuMeter) -> dict[str, Any]:
        o = self.opts
        warm, warm_hits, _ = await self._phase(system, "warm", collector, 20.0, o.warmup)
        if not warm_hits:
            tails = "\n".join(
                f"--- {n} ---\n{p.tail(15)}" for n, p in self.procs.items() if p.alive()
            )
            raise RuntimeError(
                f"{system}: none of {warm.ok} warm-up events was notified within "
                f"{o.drain:g} s; sender errors {warm.errors}\n{tails}"
            )
        busy, waited = await asyncio.to_thread(wait_quiet, o.quiet_wait, o.quiet_threshold)
        load = round(os.getloadavg()[0], 2)
        count = int(o.rate * o.duration)
        print(f"[bench] {system}: {count:,} events at {o.rate:,.0f}/s (load {load})", flush=True)
        meter.start()
        run, hits, arrivals = await self._phase(system, "run", collector, o.rate, count)
        cpu = meter.stop(child_name="children")
        prefix = f"b{self.rand}run"
        # the storm counts from each breach's deadline; otherwise from the POST
        since = deadlines(arrivals, prefix) if system == "pacta" and o.storm else None
        out = analyse(system, run, hits, since)
        if system == "pacta":
            fired, picked = await self._fired_at()
            relayed = await _relayed_at(topic_name(self.env.topic_prefix, SIGNALS_TOPIC))
            out["stages"] = pacta_stages(run, arrivals, prefix, fired, since, relayed, picked)
            sizes = sorted(Counter(fired.values()).values())
            # alerting's consumed batches: the alerts of one batch share its fired_at
            out["alerting_batches"] = {
                "count": len(sizes),
                "p50": sizes[len(sizes) // 2] if sizes else None,
                "max": sizes[-1] if sizes else None,
            }
            print(f"[bench] pacta: alerting batches {out['alerting_batches']}", flush=True)
        out.update(
            load_before=load,
            load_after=round(os.getloadavg()[0], 2),
            machine_busy_before_pct=round(busy, 1),
            waited_for_quiet_s=round(waited, 1),
            cpu=cpu,
            cpu_brief=" ".join(
                f"{k.replace('_', '-')} {v:.0f}"
                for k, v in cpu.items()
                if k not in ("machine_busy", "window_s", "children")
                and (v >= 0.5 or k in ("idle", "other"))
            ),
        )
        if out["lost"] or out["doubled"]:
            self._problem(
                f"{system}: {out['lost']} events never notified, {out['doubled']} doubled"
            )
        if out["non_2xx"] or out["unanswered"]:
            self.warnings.append(
                f"{system}: {out['non_2xx']} POSTs answered non-2xx, {out['unanswered']} "
                f"unanswered; sender errors {run.errors}"
            )
        if busy >= o.quiet_threshold:
            self.warnings.append(
                f"{system}: the machine was {busy:.0f}% busy before the run (other work)"
            )
        lat = out["latency_ms"]
        print(
            f"[bench] {system}: notified {out['notified']:,}/{out['acked']:,}, p50 {lat['p50']} "
            f"p99 {lat['p99']} ms, sent {out['achieved_rate']:,.0f}/s",
            flush=True,
        )
        return out

    async def _fired_at(self) -> tuple[dict[str, float], dict[str, float]]:
        """alerting.alerts.fired_at per alert id (when alerting applied the breach signal), and
        the start of the first attempt of each alert's first delivery (when a sender took it)."""
        async with self.env.db() as conn:
            rows = await conn.fetch(
                "SELECT id, extract(epoch FROM fired_at)::float8 AS at FROM alerting.alerts"
            )
            picks = await conn.fetch(
                "SELECT a.id, extract(epoch FROM min(t.started_at))::float8 AS at "
                "FROM alerting.deliveries d JOIN alerting.delivery_attempts t "
                "ON t.delivery_id = d.id CROSS JOIN LATERAL unnest(d.alert_ids) AS a(id) "
                "GROUP BY a.id"
            )
        return (
            {str(r["id"]): float(r["at"]) for r in rows},
            {str(r["id"]): float(r["at"]) for r in picks},
        )

    def _problem(self, msg: str) -> None:
        self.problems.append(msg)
        print(f"\n!!!!! {msg} !!!!!\n", flush=True)


async def _relayed_at(topic: str) -> dict[str, float]:
    """Signal id -> its record's timestamp on the signals topic (epoch seconds): when the
    engine's relay produced it (the producer stamps each record as it is batched)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=KAFKA, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    out: dict[str, float] = {}
    try:
        for _ in range(100):  # without a group, every partition is assigned once it is known
            if consumer.assignment():
                break
            await asyncio.sleep(0.1)
        parts = list(consumer.assignment())
        ends = await consumer.end_offsets(parts)
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for record in (r for rs in batches.values() for r in rs):
                with contextlib.suppress(ValueError, TypeError, KeyError):
                    out[str(orjson.loads(record.value or b"{}")["signal_id"])] = (
                        record.timestamp / 1000
                    )
    finally:
        await consumer.stop()
    return out


def _am_version() -> str:
    from bench.ingest import _am_version as version

    return version()


MEASURED = {
    True: "Pacta: the breach's deadline -> webhook body read by the receiver; "
    "Alertmanager: POST leaving the sender -> webhook body read",
    False: "POST leaving the sender -> webhook body read by the receiver",
}


def _publish(result: dict[str, Any], storm: bool) -> None:
    by = {s["system"]: s for s in result["systems"]}
    pacta, am = by.get("pacta"), by.get("alertmanager")
    if pacta is None:
        return
    p99 = pacta["latency_ms"]["p99"]
    name = (
        "alert storm: deadline -> webhook p99, 1,000/s for 10 s"
        if storm
        else "event in -> notification p99, 1,000/s"
    )
    sustained = pacta["achieved_rate"] >= 0.97 * pacta["offered_rate"]
    note = (
        f"p50 {pacta['latency_ms']['p50'] or 0:,.0f} ms; {pacta['notified']:,} of "
        f"{pacta['acked']:,} "
        f"notified, {pacta['lost']} lost, {pacta['doubled']} doubled; sent "
        f"{pacta['achieved_rate']:,.0f}/s"
    )
    row = entry(
        name,
        p99,
        command="python -m bench --only alerting" + ("" if storm else " --alerting-mode latency"),
        note=note,
        peer=None if am is None else am["latency_ms"]["p99"],
        detail={"pacta": pacta, "alertmanager": am},
    )
    row.met = bool(row.met) and sustained and not pacta["lost"] and not pacta["doubled"]
    if not storm and am is not None and p99 is not None and am["latency_ms"]["p99"] is not None:
        row.met = row.met and p99 <= am["latency_ms"]["p99"]
    publish([row])


async def run(opts: Options) -> dict[str, Any]:
    async with asyncio.timeout(BUDGET_S):
        result = await AlertingBench(opts).main()
    print()
    print(render(result))
    _publish(result, opts.storm)
    path = write_json("alerting", result)
    latest = OUT_DIR / "alerting.json"
    latest.write_text(path.read_text())
    print(f"\n[bench] written {latest} (and {path.name})")
    return result


def from_args(args: argparse.Namespace) -> Any:
    return run(
        Options(
            duration=min(args.duration, 60.0),
            quiet_wait=args.quiet_wait,
            alertmanager=not args.no_alertmanager,
            storm=args.alerting_mode == "storm",
        )
    )
