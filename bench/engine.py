"""The sla-engine against its targets (docs/benchmarks.md): breach detection lag, memory and restart time with many open
clocks, and the rate at which the engine applies ticket events.

    python -m bench --only engine                     # as `make bench` runs it
    python -m bench.engine --large 200000 --window 15 # a smaller, quicker run

Phases (one engine process at a time, on a database and topic prefix of the run's own):
  A  100,000 open clocks restored at start-up; a stream of breaches falls due (default 500/s):
     detection lag in a quiet window. Then a burst of ticket lifecycles (created, responded,
     resolved) straight onto the tickets topic: events/s the engine applies, and the lag of
     the breaches falling due meanwhile.
  B  the engine stopped, 1,000,000 open clocks written, the engine started again: time to
     ready, breaches that came due while it was down, RSS, then the breach lag while 1,000
     ticket events/s arrive.
  C  a backfill (issue 11): 1,000,000 ticket events (created/responded/resolved lifecycles a
     day in the past) written onto the tickets topic of a fresh database and prefix, then one
     engine started: the time from ready until it has applied them all (`bench.engine_apply`).
  Finally (A and B) every breach is counted per clock in sla_engine.signals and on the signals topic:
  none missed, none doubled, none early, none for a clock that was not due.

Open clocks are written straight into sla_engine.clocks (what restore() loads), so they are
live in the engine with armed timers once it is ready; `pacta_clocks_open` is checked against
the number written. Lag is `detected_at - deadline` of the breach signal as the engine
recorded it; the lag until the signal is on Kafka is reported next to it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from bench import engine_apply, engine_results
from bench.engine_apply import TARGET_APPLY_EPS
from bench.engine_proc import Engine
from bench.engine_seed import (
    Seed,
    TicketProducer,
    lifecycle_events,
    seed_clocks,
)
from bench.env import KAFKA, RetryingEnv
from bench.procs import CpuMeter, listener_pid, wait_quiet
from bench.render import publish as record_and_render
from bench.report import OUT_DIR, machine, notes, num, publish, stamp, table, target_row
from pacta.clock import now_ms
from pacta.durations import parse_timestamp_ms
from pacta.events import SIGNALS_TOPIC, header, topic_name

# Targets (docs/benchmarks.md)
TARGET_LAG_SMALL_MS = 50.0
TARGET_LAG_LARGE_MS = 100.0
TARGET_RSS_MIB = 1024.0
TARGET_READY_S = 20.0
TARGET_CATCH_UP_S = 1.0  # "fire at once": by this long after ready (our reading of "at once")
BACKFILL_BUDGET_S = 600.0  # the backfill phase of a million events (produce, then apply)
BUDGET_S = 900.0 + BACKFILL_BUDGET_S  # the whole engine benchmark, hard limit


@dataclass
class Options:
    small: int = 100_000  # open clocks in phase A
    large: int = 1_000_000  # open clocks in phase B
    breach_rate: float = 500.0  # breaches falling due per second
    window: float = 30.0  # seconds of each measured lag window
    ingest_rate: float = 1_000.0  # ticket events/s during phase B's window
    burst: int = 30_000  # ticket events in the apply-rate burst of phase A
    down: int = 5_000  # tickets whose breach falls due while the engine is down (phase B)
    backfill: int = 1_000_000  # ticket events of the backfill phase (0: none)
    ready_timeout: float = 180.0
    quiet_wait: float = 60.0
    quiet_threshold: float = 35.0


def percentiles(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "p50": None, "p99": None, "max": None, "min": None}
    s = sorted(values)

    def rank(q: float) -> float:  # nearest rank
        return s[min(len(s) - 1, max(0, int(q * len(s) + 0.999999) - 1))]

    return {"n": len(s), "min": s[0], "p50": rank(0.5), "p99": rank(0.99), "max": s[-1]}


# ---- the benchmark -----------------------------------------------------------------------------


@dataclass
class Window:
    """Breach lag of the deadlines in [start_ms, end_ms)."""

    label: str
    start_ms: int
    end_ms: int
    target_ms: float | None = None  # the target p99 for this window; None: shown, not judged
    lag_ms: dict[str, Any] = field(default_factory=dict)
    kafka_lag_ms: dict[str, Any] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


class EngineBench:
    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.stamp = stamp()
        self.log_dir = OUT_DIR / "logs"
        self.problems: list[str] = []
        self.warnings: list[str] = []
        self.windows: list[Window] = []
        self.seeds: list[Seed] = []
        self.facts: dict[str, Any] = {}
        self.rss_samples: list[float] = []
        self.cutoffs: dict[str, int] = {}  # seed prefix -> when its engine stopped (wall ms)

    def say(self, text: str) -> None:
        print(f"[bench] engine: {text}", flush=True)

    async def main(self) -> dict[str, Any]:
        meta = machine()
        async with RetryingEnv() as env:
            self.env = env
            self.say(
                f"database {env.db_name}, topic prefix {env.topic_prefix}, logs in {self.log_dir}"
            )
            engine = self.engine = Engine(env, self.log_dir, self.stamp)
            kafka_pid = listener_pid(int(KAFKA.rsplit(":", 1)[1]))
            self.meter = CpuMeter(
                {
                    "engine": lambda: [engine.proc.pid] if engine.proc else [],
                    "kafka": lambda: [kafka_pid] if kafka_pid else [],
                    "postgres": CpuMeter.postgres_pids,
                    "bench": lambda: [os.getpid()],
                }
            )
            try:
                await self._prepare()
                if self.opts.small:
                    await self._phase_a()
                if self.opts.large:
                    await self._phase_b()
                await self._final_counts()
            finally:
                engine.stop()
        if self.opts.backfill:
            await self._backfill()
        return self._result(meta)

    async def _backfill(self) -> None:
        """C: a backfill on a database and topics of its own: the lifecycles written onto
        the tickets topic first, then one engine started to apply them (bench.engine_apply)."""
        n = self.opts.backfill
        self.say(f"C: backfill of {n:,} ticket events (produced first, then one engine)")
        r = await engine_apply.run(n, BACKFILL_BUDGET_S - 120, instances=1, preload=True)
        self.facts["backfill"] = r
        self.say(f"C: {r['applied']:,.0f} applied in {r['seconds']:.1f}s")

    async def _prepare(self) -> None:
        o = self.opts
        busy, waited = await asyncio.to_thread(wait_quiet, o.quiet_wait, o.quiet_threshold)
        self.facts["machine_busy_before_pct"] = round(busy, 1)
        if busy >= o.quiet_threshold:
            self.warnings.append(
                f"the machine was {busy:.0f}% busy (200% = both cores) after {waited:.0f}s of "
                "waiting for quiet; numbers may be depressed"
            )
            self.say(self.warnings[-1])
        # the first start creates the schema; the policy goes in through the API
        self.engine.start()
        await self.engine.wait_ready(o.ready_timeout)
        await self.engine.put_policy()
        self.engine.stop()
        async with self.env.db() as conn:
            # the seeds write a million rows at once: autovacuum would then run inside the
            # measured windows (and hold the database when it is dropped); ANALYZE is done
            for table in await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'sla_engine'"
            ):
                await conn.execute(
                    f'ALTER TABLE sla_engine."{table[0]}" SET (autovacuum_enabled = false)'
                )

    # -- phase A: 100k clocks, then the apply-rate burst --------------------------------------

    async def _phase_a(self) -> None:
        o = self.opts
        tickets = o.small // 2
        stream = int(tickets * 0.9)
        now = now_ms()
        seed = Seed(
            prefix="A",
            tickets=tickets,
            as_of_ms=now,
            stream=stream,
            stream_start_ms=now + 15_000,
            stream_rate=o.breach_rate,
        )
        self.seeds.append(seed)
        async with self.env.db() as conn:
            took = await seed_clocks(conn, seed)
        self.say(f"A: {seed.clocks:,} open clocks written in {took:.1f}s; starting the engine")
        spawned = self.engine.start()
        ready = await self.engine.wait_ready(o.ready_timeout)
        self.facts["a_ready_s"] = round(ready - spawned, 2)
        m = await self.engine.scrape()
        self.facts["a_clocks_open"] = int(m["clocks_open"])
        self._check_open(seed, m["clocks_open"], "A")
        self.say(
            f"A: ready in {ready - spawned:.1f}s holding {m['clocks_open']:,.0f} open clocks; "
            f"breaches fall due at {o.breach_rate:g}/s"
        )
        w0 = max(int((ready + 3) * 1000), seed.stream_start_ms)
        win = Window(
            f"{o.small // 1000}k clocks", w0, w0 + int(o.window * 1000), TARGET_LAG_SMALL_MS
        )
        await self._sleep_until(win.start_ms)
        self.meter.start()
        await self._sleep_until(win.end_ms)
        win.cpu = self.meter.stop(child_name="bench_children")
        self.windows.append(win)
        self._check_other(win)

        # the apply-rate burst (the breach stream goes on meanwhile)
        base = (await self.engine.scrape())["events_applied"]
        events = list(lifecycle_events("E", o.burst // 3, now_ms() - 600_000))
        b0 = time.time()
        self.meter.start()
        async with TicketProducer(KAFKA, self.env.topic_prefix) as producer:
            for i in range(0, len(events), 5000):
                await producer.send(events[i : i + 5000])
        produced = time.time()
        applied, done = 0.0, None
        limit = b0 + 120
        while time.time() < limit:
            applied = (await self.engine.scrape())["events_applied"] - base
            if applied >= len(events):
                done = time.time()
                break
            await asyncio.sleep(0.25)
        cpu = self.meter.stop(child_name="bench_children")
        took = (done or time.time()) - b0
        rate = applied / took
        self.facts["apply"] = {
            "events": len(events),
            "applied": int(applied),
            "produce_s": round(produced - b0, 2),
            "seconds": round(took, 2),
            "events_per_s": round(rate, 1),
            "completed": done is not None,
            "open_clocks": o.small,
            "cpu": cpu,
        }
        self.say(
            f"A: {int(applied):,}/{len(events):,} ticket events applied in {took:.1f}s = "
            f"{rate:,.0f} events/s (produced in {produced - b0:.1f}s)"
        )
        if done is None:
            self.problems.append(
                f"the engine applied only {int(applied)} of {len(events)} events in 120 s"
            )
        end = int((done or time.time()) * 1000)
        burst = Window(f"{o.small // 1000}k clocks, during the burst", int(b0 * 1000), end)
        burst.cpu = cpu
        self.windows.append(burst)
        await self._drain_outbox()
        self.facts["a_stopped_ms"] = int(self.engine.stop() * 1000)
        self.cutoffs[seed.prefix] = self.facts["a_stopped_ms"]

    # -- phase B: 1M clocks, restart, lag under 1,000 events/s --------------------------------

    async def _phase_b(self) -> None:
        o = self.opts
        async with self.env.db() as conn:
            await conn.execute("DELETE FROM sla_engine.clocks")
        stopped = self.facts.get("a_stopped_ms") or now_ms()
        tickets = o.large // 2
        # the stream runs long enough for a slow start plus the window; what falls due before
        # the engine is ready counts with the breaches that came due while it was down
        lead_s = 10.0
        span_s = lead_s + o.ready_timeout / 2 + 10 + o.window + 20
        stream = min(int(tickets * 0.5), int(span_s * o.breach_rate))
        seed = Seed(
            prefix="B",
            tickets=tickets,
            as_of_ms=stopped,
            down=min(o.down, tickets // 10),
            down_first_ms=stopped + 100,
            down_span_ms=2_000,
            stream=stream,
            stream_rate=o.breach_rate,
        )
        async with self.env.db() as conn:
            # the far tickets first: the stream's start depends on how long they take
            took = await seed_clocks(conn, seed, first=seed.down + seed.stream + 1)
            seed = replace(seed, stream_start_ms=now_ms() + int(lead_s * 1000))
            took += await seed_clocks(conn, seed, first=1, last=seed.down + seed.stream)
        self.seeds.append(seed)
        self.facts["b_seed_s"] = round(took, 1)
        self.say(
            f"B: {seed.clocks:,} open clocks written in {took:.1f}s "
            f"({seed.down:,} tickets came due while the engine was down); starting the engine"
        )
        spawned = self.engine.start()
        self.facts["b_spawned_ms"] = int(spawned * 1000)
        sampler = asyncio.create_task(self._sample_rss())
        try:
            ready = await self.engine.wait_ready(o.ready_timeout)
            ready_ms = int(ready * 1000)
            self.facts["b_ready_s"] = round(ready - spawned, 2)
            self.facts["b_ready_ms"] = ready_ms
            mem = self.engine.memory_mib()
            self.facts["b_rss_at_ready_mib"] = round(mem.get("VmRSS", 0), 1)
            m = await self.engine.scrape()
            self.facts["b_clocks_open"] = int(m["clocks_open"])
            self._check_open(seed, m["clocks_open"], "B")
            self.say(
                f"B: ready in {ready - spawned:.1f}s holding {m['clocks_open']:,.0f} open "
                f"clocks, RSS {mem.get('VmRSS', 0):,.0f} MiB"
            )
            # the first seconds after ready hold the consumer's group join (and the restore its
            # partition assignment triggers): counted, shown apart, not the steady state
            w0 = max(ready_ms + 6_000, seed.stream_start_ms)
            settle = Window(f"{o.large // 1000}k clocks, first seconds after ready", ready_ms, w0)
            self.windows.append(settle)
            win = Window(
                f"{o.large // 1000}k clocks, {o.ingest_rate:,.0f} events/s",
                w0,
                w0 + int(o.window * 1000),
                TARGET_LAG_LARGE_MS,
            )
            await self._sleep_until(w0 - 1_000)
            base = m["events_applied"]
            self.meter.start()
            events = lifecycle_events("C", 10_000_000, now_ms() - 600_000)
            async with TicketProducer(KAFKA, self.env.topic_prefix) as producer:
                paced = await producer.paced(events, o.ingest_rate, o.window + 2)
            win.cpu = self.meter.stop(child_name="bench_children")
            self._check_other(win)
            # did the engine keep up? what it had left at the end, and how long it took
            m = await self.engine.scrape()
            behind = paced["sent"] - (m["events_applied"] - base)
            t0, caught = time.time(), None
            while time.time() - t0 < 60:
                m = await self.engine.scrape()
                if m["events_applied"] - base >= paced["sent"]:
                    caught = time.time() - t0
                    break
                await asyncio.sleep(0.25)
            win.extra = {
                "ingest": paced,
                "events_behind_at_end": int(behind),
                "catch_up_s": None if caught is None else round(caught, 2),
            }
            if paced["rate"] < 0.95 * o.ingest_rate:
                self.warnings.append(
                    f"B: ticket events went out at {paced['rate']:,.0f}/s, not "
                    f"{o.ingest_rate:,.0f}/s"
                )
            if caught is None:
                self.problems.append(f"B: the engine did not catch up with {paced['sent']} events")
            self.windows.append(win)
            mem = self.engine.memory_mib()
            self.facts["b_rss_after_window_mib"] = round(mem.get("VmRSS", 0), 1)
            self.facts["b_rss_peak_mib"] = round(mem.get("VmHWM", 0), 1)
            await self._drain_outbox()
        finally:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
        self.facts["b_rss_max_sampled_after_ready_mib"] = round(max(self.rss_samples, default=0), 1)
        self.facts["b_rss_each_s_after_ready_mib"] = [round(x) for x in self.rss_samples]
        self.say(
            f"B: RSS after the window {self.facts['b_rss_after_window_mib']:,.0f} MiB, "
            f"peak (VmHWM, restore included) {self.facts['b_rss_peak_mib']:,.0f} MiB"
        )

    async def _sample_rss(self) -> None:
        while True:
            await asyncio.sleep(1)
            if "b_ready_ms" in self.facts:
                self.rss_samples.append(self.engine.memory_mib().get("VmRSS", 0))

    # -- counting -----------------------------------------------------------------------------

    async def _final_counts(self) -> None:
        """Every breach, per clock, in the database and on the signals topic."""
        collected_ms = now_ms()
        async with self.env.db() as conn:
            rows = await conn.fetch(
                "SELECT signal_id, ticket_id, metric, "
                "(extract(epoch FROM detected_at) * 1000)::bigint AS detected_ms, "
                "(extract(epoch FROM occurred_at) * 1000)::bigint AS occurred_ms, "
                "body->>'deadline' AS deadline, (body->>'late')::bool AS late "
                "FROM sla_engine.signals WHERE kind = 'breach'"
            )
            outbox = await conn.fetchval("SELECT count(*) FROM sla_engine.outbox")
        on_topic = await self._read_topic()
        self.engine.stop()

        breaches: dict[tuple[str, str], list[Any]] = {}
        for r in rows:
            breaches.setdefault((r["ticket_id"], r["metric"]), []).append(r)
        expected, missing, wrong, early = 0, [], [], []
        due_ids: set[str] = set()
        in_flight: set[str] = set()
        grace = 3_000  # a deadline this close to the engine's stop may or may not have fired
        for seed in self.seeds:
            cutoff = self.cutoffs.get(seed.prefix, collected_ms)
            for n in range(1, seed.down + seed.stream + 1):
                deadline = seed.response_deadline(n)
                assert deadline is not None
                tid = seed.ticket_id(n)
                got = breaches.get((tid, "response"), [])
                if got and got[0]["detected_ms"] < deadline:
                    early.append(tid)
                if deadline > cutoff:
                    in_flight.add(tid)  # not due before the engine stopped: must not fire
                    if deadline <= cutoff + grace:
                        continue
                    if got:
                        wrong.append(tid)
                    continue
                if deadline > cutoff - grace:
                    in_flight.add(tid)
                    continue
                expected += 1
                due_ids.add(tid)
                if not got:
                    missing.append(tid)
                    continue
                r = got[0]
                if parse_timestamp_ms(r["deadline"]) != deadline or r["occurred_ms"] != deadline:
                    wrong.append(tid)
        known = due_ids | in_flight
        unexpected = [k for k in breaches if k[1] != "response" or k[0] not in known]
        doubled_db = [k for k, v in breaches.items() if len(v) > 1]
        breach_ids = {r["signal_id"]: r for r in rows}
        doubled_topic = [sid for sid, ts in on_topic.items() if sid in breach_ids and len(ts) > 1]
        not_on_topic = [sid for sid in breach_ids if sid not in on_topic]
        self.facts["counts"] = {
            "breaches_expected": expected,
            "breach_rows": len(rows),
            "missing": len(missing),
            "wrong_instant": len(wrong),
            "early": len(early),
            "unexpected": len(unexpected),
            "doubled_in_db": len(doubled_db),
            "doubled_on_topic": len(doubled_topic),
            "not_on_topic": len(not_on_topic),
            "outbox_left": int(outbox),
            "samples": {
                "missing": missing[:5],
                "wrong": wrong[:5],
                "early": early[:5],
                "unexpected": [list(k) for k in unexpected[:5]],
                "doubled_topic": doubled_topic[:5],
                "not_on_topic": not_on_topic[:5],
            },
        }
        bad = {
            k: v
            for k, v in self.facts["counts"].items()
            if k not in ("breaches_expected", "breach_rows", "samples", "outbox_left") and v
        }
        if bad:
            self.problems.append(f"breach accounting: {bad}")

        # lags per window
        by_deadline: list[tuple[int, int, int | None]] = []
        for r in rows:
            sid = r["signal_id"]
            deadline = parse_timestamp_ms(r["deadline"])
            kafka_ts = min(on_topic[sid]) if sid in on_topic else None
            by_deadline.append((deadline, r["detected_ms"], kafka_ts))
        for win in self.windows:
            inside = [x for x in by_deadline if win.start_ms <= x[0] < win.end_ms]
            win.lag_ms = percentiles([d - dl for dl, d, _ in inside])
            # when the slow ones fell due (s into the window), to tell a stall from a trend
            worst = sorted(inside, key=lambda x: x[0] - x[1])[:10]
            win.extra["worst"] = [
                [round((dl - win.start_ms) / 1000, 3), d - dl] for dl, d, _ in worst
            ]
            per_s: dict[int, int] = {}
            for dl, d, _ in inside:
                sec = (dl - win.start_ms) // 1000
                per_s[sec] = max(per_s.get(sec, 0), d - dl)
            win.extra["max_lag_per_s"] = [per_s[k] for k in sorted(per_s)]
            win.kafka_lag_ms = percentiles([k - dl for dl, _, k in inside if k is not None])
            win.extra["breaches_per_s"] = round(
                len(inside) / max(1e-3, (win.end_ms - win.start_ms) / 1000), 1
            )

        # phase B: what came due while the engine was down fired at once? (deadlines before
        # the process was spawned; those during its start-up are counted apart)
        ready_ms = self.facts.get("b_ready_ms")
        spawned_ms = self.facts.get("b_spawned_ms")
        seed_b = next((s for s in self.seeds if s.prefix == "B"), None)
        if ready_ms and spawned_ms and seed_b is not None:
            groups: dict[str, list[str]] = {"down": [], "starting": []}
            for n in range(1, seed_b.down + seed_b.stream + 1):
                deadline = seed_b.response_deadline(n)
                if deadline is not None and deadline < ready_ms:
                    groups["down" if deadline < spawned_ms else "starting"].append(
                        seed_b.ticket_id(n)
                    )
            for name, tids in groups.items():
                got = [breaches[(t, "response")][0] for t in tids if (t, "response") in breaches]
                kafka = [min(on_topic[r["signal_id"]]) for r in got if r["signal_id"] in on_topic]

                def after_ready(values: list[int]) -> float | None:
                    return None if not values else round((max(values) - ready_ms) / 1000, 3)

                self.facts[f"due_while_{name}"] = {
                    "clocks": len(tids),
                    "fired": len(got),
                    "late_flag": sum(1 for r in got if r["late"]),
                    "occurred_at_is_deadline": sum(
                        1 for r in got if parse_timestamp_ms(r["deadline"]) == r["occurred_ms"]
                    ),
                    "last_detected_after_ready_s": after_ready([r["detected_ms"] for r in got]),
                    "last_on_kafka_after_ready_s": after_ready(kafka),
                }

    async def _read_topic(self) -> dict[str, list[int]]:
        """signal id (the ce_id header) -> Kafka timestamps of its records."""
        topic = topic_name(self.env.topic_prefix, SIGNALS_TOPIC)
        parts = await self.env._partitions(topic)
        tps = [TopicPartition(topic, p) for p in parts]
        consumer = AIOKafkaConsumer(
            bootstrap_servers=KAFKA, enable_auto_commit=False, request_timeout_ms=10_000
        )
        out: dict[str, list[int]] = {}
        async with asyncio.timeout(120):
            await consumer.start()
            try:
                consumer.assign(tps)
                await consumer.seek_to_beginning(*tps)
                ends = await consumer.end_offsets(tps)
                while True:
                    positions = [await consumer.position(tp) for tp in tps]
                    if all(p >= ends[tp] for p, tp in zip(positions, tps, strict=True)):
                        break
                    batch = await consumer.getmany(timeout_ms=1000, max_records=20_000)
                    for records in batch.values():
                        for rec in records:
                            sid = header(rec.headers, "ce_id") or ""
                            out.setdefault(sid, []).append(rec.timestamp)
            finally:
                await consumer.stop()
        return out

    # -- helpers ------------------------------------------------------------------------------

    async def _drain_outbox(self, limit: float = 60.0) -> None:
        """Wait until what the outbox held now is relayed (breaches keep falling due, so it
        is seldom empty)."""
        t0 = time.monotonic()
        async with self.env.db() as conn:
            last = await conn.fetchval("SELECT max(seq) FROM sla_engine.outbox")
            while last is not None and time.monotonic() - t0 < limit:
                if not await conn.fetchval(
                    "SELECT EXISTS (SELECT 1 FROM sla_engine.outbox WHERE seq <= $1)", last
                ):
                    return
                await asyncio.sleep(0.5)
        if last is not None:
            self.warnings.append(f"the outbox relay had not caught up after {limit:.0f}s")

    def _check_open(self, seed: Seed, reported: float, phase: str) -> None:
        if int(reported) != seed.clocks:
            self.problems.append(
                f"{phase}: the engine reports {reported:,.0f} open clocks, {seed.clocks:,} written"
            )

    def _check_other(self, win: Window) -> None:
        other = win.cpu.get("other", 0.0)
        if other > self.opts.quiet_threshold:
            self.warnings.append(
                f"{win.label}: other processes used {other:.0f}% of a core during the window"
            )

    @staticmethod
    async def _sleep_until(wall_ms: int) -> None:
        await asyncio.sleep(max(0.0, wall_ms / 1000 - time.time()))

    # -- results ------------------------------------------------------------------------------

    def _result(self, meta: dict[str, Any]) -> dict[str, Any]:
        o, f = self.opts, self.facts
        rows: list[dict[str, Any]] = []

        def row(what: str, measured: str, target: str, ok: bool | None, note: str = "") -> None:
            rows.append(target_row(what, measured, target, ok, note))

        def lag_row(win: Window, target: float) -> None:
            lag = win.lag_ms
            if not lag.get("n"):
                row(f"breach lag p99, {win.label}", "-", f"<= {target:g} ms", False, "no samples")
                return
            row(
                f"breach lag p99, {win.label}",
                f"{lag['p99']:.0f} ms",
                f"<= {target:g} ms",
                lag["p99"] <= target,
                f"p50 {lag['p50']:.0f} ms, max {lag['max']:.0f} ms, n {lag['n']:,} "
                f"({win.extra.get('breaches_per_s', 0):g}/s); on Kafka p99 "
                f"{win.kafka_lag_ms.get('p99')} ms",
            )

        for win in self.windows:
            if win.target_ms is not None:
                lag_row(win, win.target_ms)
        c = f.get("counts", {})
        if c:
            bad = sum(
                v
                for k, v in c.items()
                if k not in ("breaches_expected", "breach_rows", "samples", "outbox_left")
            )
            row(
                "breaches missed / doubled",
                f"{c['missing']} / {c['doubled_on_topic'] + c['doubled_in_db']}",
                "0 / 0",
                bad == 0,
                f"{c['breaches_expected']:,} due, {c['breach_rows']:,} in sla_engine.signals; "
                f"early {c['early']}, wrong instant {c['wrong_instant']}, unexpected "
                f"{c['unexpected']}, not on topic {c['not_on_topic']}",
            )
        if "b_rss_after_window_mib" in f:
            steady = max(f["b_rss_after_window_mib"], f.get("b_rss_max_sampled_after_ready_mib", 0))
            row(
                f"RSS with {o.large:,} open clocks",
                f"{steady:,.0f} MiB",
                f"<= {TARGET_RSS_MIB:,.0f} MiB",
                steady <= TARGET_RSS_MIB,
                f"max after ready; at ready {f['b_rss_at_ready_mib']:,.0f} MiB, peak incl. "
                f"restore {f['b_rss_peak_mib']:,.0f} MiB; "
                f"{steady * 1048576 / o.large:,.0f} B per clock",
            )
        if "b_ready_s" in f:
            row(
                f"ready after a restart, {o.large:,} open clocks",
                f"{f['b_ready_s']:.1f} s",
                f"<= {TARGET_READY_S:g} s",
                f["b_ready_s"] <= TARGET_READY_S,
                f"spawn to /readyz 200; {o.small:,} clocks: {f.get('a_ready_s')} s",
            )
        d = f.get("due_while_down")
        if d:
            last = d["last_detected_after_ready_s"]
            ok = d["fired"] == d["clocks"] and last is not None and last <= TARGET_CATCH_UP_S
            st = f.get("due_while_starting") or {}
            row(
                "breaches due while down fire at once",
                f"{d['fired']:,}/{d['clocks']:,} by ready{last:+.2f} s"
                if last is not None
                else "-",
                f"all, by ready+{TARGET_CATCH_UP_S:g} s",
                ok,
                f"on Kafka by ready{d['last_on_kafka_after_ready_s'] or 0:+.2f} s; occurred_at = "
                f"deadline for {d['occurred_at_is_deadline']:,}, late flag on "
                f"{d['late_flag']:,}; due during start-up: {st.get('fired', 0):,}/"
                f"{st.get('clocks', 0):,} by ready{st.get('last_detected_after_ready_s') or 0:+.2f} s",
            )
        a = f.get("apply")
        if a:
            row(
                "sla-engine apply rate (ticket events applied)",
                f"{num(a['events_per_s'])}/s",
                f">= {TARGET_APPLY_EPS:,.0f}/s",
                a["completed"] and a["events_per_s"] >= TARGET_APPLY_EPS,
                f"{a['applied']:,} lifecycle events (created/responded/resolved), "
                f"{o.small:,} clocks open; engine cpu {a['cpu'].get('engine', 0):.0f}%",
            )
        if f.get("backfill"):
            rows.append(engine_apply.backfill_row(f["backfill"]))
        paced = [w for w in self.windows if w.extra.get("ingest")]
        if paced:
            x = paced[0].extra
            row(
                f"engine keeps up with {o.ingest_rate:,.0f} events/s, {o.large:,} clocks",
                f"{x['events_behind_at_end']:,} behind",
                "caught up",
                x["catch_up_s"] is not None,
                f"sent {x['ingest']['rate']:,.0f}/s; caught up {x['catch_up_s']} s after",
            )
        return {
            "benchmark": "engine",
            "meta": {**meta, "kafka": KAFKA},
            "options": asdict(o),
            "targets": rows,
            "windows": [asdict(w) for w in self.windows],
            "facts": f,
            "problems": self.problems,
            "warnings": self.warnings,
        }


def render(result: dict[str, Any]) -> str:
    t = [[r["what"], r["measured"], r["target"], r["result"], r["note"]] for r in result["targets"]]
    parts = [
        "sla-engine against its targets (one 2-core box: Kafka, PostgreSQL, the bench and the "
        "engine on it)",
        "",
        table(["what", "measured", "target", "result", "note"], t, right={1}),
        "",
    ]
    wins = []
    for w in result["windows"]:
        lag, kl, cpu = w["lag_ms"], w["kafka_lag_ms"], w["cpu"]
        wins.append(
            [
                w["label"],
                str(lag.get("n", 0)),
                str(lag.get("p50", "-")),
                str(lag.get("p99", "-")),
                str(lag.get("max", "-")),
                str(kl.get("p50", "-")),
                str(kl.get("p99", "-")),
                " ".join(
                    f"{k} {v:.0f}%"
                    for k, v in cpu.items()
                    if k in ("engine", "kafka", "postgres", "bench", "other", "idle")
                ),
            ]
        )
    parts += [
        "Windows (lag = detected_at - deadline, ms; kafka = Kafka record time - deadline; "
        "cpu in % of one core)",
        "",
        table(
            ["window", "breaches", "p50", "p99", "max", "kafka p50", "kafka p99", "cpu"],
            wins,
            right={1, 2, 3, 4, 5, 6},
        ),
    ]
    parts += notes(result)
    return "\n".join(parts)


async def run(opts: Options) -> dict[str, Any]:
    bench = EngineBench(opts)
    async with asyncio.timeout(BUDGET_S):
        result = await bench.main()
    publish("engine", result, render(result))
    if figures := engine_results.entries(result):
        record_and_render(figures)
    return result


def from_args(args: argparse.Namespace) -> Any:
    """The hook `python -m bench --only engine` calls (its --quiet-wait applies, capped)."""
    return run(Options(quiet_wait=min(60.0, getattr(args, "quiet_wait", 60.0))))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.engine", description=__doc__.split("\n")[0])
    d = Options()
    p.add_argument("--small", type=int, default=d.small, help="open clocks in phase A")
    p.add_argument("--large", type=int, default=d.large, help="open clocks in phase B")
    p.add_argument("--breach-rate", type=float, default=d.breach_rate)
    p.add_argument("--window", type=float, default=d.window, help="seconds per lag window")
    p.add_argument("--ingest-rate", type=float, default=d.ingest_rate)
    p.add_argument("--burst", type=int, default=d.burst, help="events in the apply-rate burst")
    p.add_argument("--quiet-wait", type=float, default=d.quiet_wait)
    p.add_argument("--backfill", type=int, default=d.backfill, help="events of phase C (0: none)")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    opts = Options(
        small=args.small,
        large=args.large,
        breach_rate=args.breach_rate,
        window=args.window,
        ingest_rate=args.ingest_rate,
        burst=args.burst,
        quiet_wait=args.quiet_wait,
        backfill=args.backfill,
    )
    from pacta.logs import configure_logging

    configure_logging("WARNING", "bench")
    try:
        result = asyncio.run(run(opts))
    except (asyncio.CancelledError, KeyboardInterrupt):
        print("[bench] interrupted; the engine stopped and the database dropped", file=sys.stderr)
        return 130
    return 1 if result["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
