"""Ingest throughput and latency (the first two targets of docs/benchmarks.md), next to Debian's Alertmanager in the same run.

Shapes (all wrk -t1 on the same two cores as Kafka, PostgreSQL and the service):
  single   one event per POST /v1/events/monitoring, closed loop, 16, 32 and 64 connections
  paced    one event per POST at a fixed 5,000 requests/s (absolute schedule in load.lua), p99;
           and at a light 500/s, for the latency at a modest rate
  batch    100 events per POST, 8 connections
and the same single/batch shapes against Alertmanager's POST /api/v2/alerts.

Correctness: every event has an id of its own, so what Kafka holds must equal what was
acknowledged with a 202, give or take the requests wrk left unanswered when it stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bench import ingest_results, profile
from bench.env import API_KEY, KAFKA, BenchEnv
from bench.procs import (
    ALERTMANAGER,
    CpuMeter,
    Proc,
    family,
    family_split,
    family_thread_ticks,
    free_port,
    listener_pid,
    start_alertmanager,
    wait_quiet,
)
from bench.render import publish as record_and_render
from bench.report import (
    OUT_DIR,
    machine,
    ms,
    notes,
    num,
    publish,
    stamp,
    table,
    target_row,
)
from bench.stack import run_stack, stack_rows
from bench.wrk import WrkRun, run_wrk, wrk_version

AM_CONFIG = """\
route:
  receiver: blackhole
receivers:
  - name: blackhole
"""

# The reference box's rate for the same minimal app (bench/calibrate.py), 1 worker, wrk -t1 -c32
ANCHOR_CALIBRATION = 10_160
# Targets (docs/benchmarks.md)
TARGET_SINGLE_EPS = 8_000
TARGET_P99_MS = 25.0
TARGET_P99_RATE = 5_000
TARGET_SINGLE_RATIO = 0.5
TARGET_BATCH_EPS = 100_000
TARGET_BATCH_RATIO = 1.0


@dataclass
class Options:
    duration: float = 10.0
    single_connections: tuple[int, ...] = (16, 32, 64)
    batch_connections: int = 8
    batch_size: int = 100
    paced_rate: float = TARGET_P99_RATE
    paced_connections: int = 64
    light_rate: float = 500.0  # a second paced run well inside capacity (0 = none)
    warmup: float = 2.0
    alertmanager: bool = True
    calibrate: bool = True  # measure the anchor's minimal FastAPI app first (bench/calibrate.py)
    profile: bool = False
    pause: float = 1.0
    quiet_wait: float = 120.0  # seconds to wait for other work on the box to stop, per run
    quiet_threshold: float = 35.0  # busy % of all cores together (200 = both) counted as quiet
    ingest_module: str = "ingest"  # a what-if wrapper module may stand in (docs/benchmarks.md)
    ingest_env: tuple[tuple[str, str], ...] = ()  # extra PACTA_* settings for the service
    database_query: str = ""  # appended to the database URL, e.g. "ssl=disable"
    shapes: tuple[str, ...] = ("single", "batch", "paced", "stack")


def _iso_now(offset_s: float = -10) -> str:
    t = datetime.now(UTC) + timedelta(seconds=offset_s)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# server-side figures from the ingest's /metrics -----------------------------------------------


def _scrape(url: str, topic: str) -> dict[str, dict[str, Any]]:
    """Sum, count and cumulative buckets of the request, Kafka-produce and claim histograms."""
    text = httpx.get(url + "/metrics", timeout=5).text
    out: dict[str, dict[str, Any]] = {
        "http": {"sum": 0.0, "count": 0.0, "buckets": {}},
        "produce": {"sum": 0.0, "count": 0.0, "buckets": {}},
        "claim": {"sum": 0.0, "count": 0.0, "buckets": {}},
    }
    names = {
        "pacta_http_request_seconds": "http",
        "pacta_kafka_produce_seconds": "produce",
        "pacta_ingest_claim_seconds": "claim",
    }
    for fam in text_string_to_metric_families(text):
        key = names.get(fam.name, "")
        if not key:
            continue
        for s in fam.samples:
            labels = s.labels
            # the ingest's fast path bypasses the router: its POSTs may be labelled "unmatched"
            if key == "http" and (
                labels.get("method") != "POST"
                or labels.get("route") not in ("/v1/events/monitoring", "unmatched")
            ):
                continue
            if key == "produce" and labels.get("topic") != topic:
                continue
            h = out[key]
            if s.name.endswith("_sum"):
                h["sum"] += s.value
            elif s.name.endswith("_count"):
                h["count"] += s.value
            elif s.name.endswith("_bucket"):
                le = float(labels["le"])
                h["buckets"][le] = h["buckets"].get(le, 0.0) + s.value
    return out


def _delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Mean and a bucket-bound p99 (the smallest bucket holding 99%) of a histogram's window."""
    count = after["count"] - before["count"]
    if count <= 0:
        return {"count": 0}
    mean_ms = 1000 * (after["sum"] - before["sum"]) / count
    p99 = None
    for le in sorted(after["buckets"]):
        if after["buckets"][le] - before["buckets"].get(le, 0.0) >= 0.99 * count:
            p99 = le
            break
    return {
        "count": int(count),
        "mean_ms": round(mean_ms, 3),
        "p99_le_ms": None if p99 is None or p99 == float("inf") else p99 * 1000,
    }


def _am_received(url: str) -> float | None:
    """alertmanager_alerts_received_total (all statuses); None if Alertmanager is too busy to
    answer (it can be, for a while, after a million alerts)."""
    try:
        text = httpx.get(url + "/metrics", timeout=30).text
    except httpx.HTTPError:
        return None
    total = 0.0
    for fam in text_string_to_metric_families(text):
        if fam.name == "alertmanager_alerts_received":
            total += sum(s.value for s in fam.samples if s.name.endswith("_total"))
    return total


# the benchmark ------------------------------------------------------------------------------


class IngestBench:
    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.stamp = stamp()
        self.log_dir = OUT_DIR / "logs"
        self.runs: list[WrkRun] = []
        self.problems: list[str] = []  # lost or unexplained events: the run fails
        self.warnings: list[str] = []  # errors answered, noisy machine: numbers are suspect
        self.ingest: Proc | None = None
        self.am: Proc | None = None
        self.calib: Proc | None = None
        self.ingest_pids = self.lone_ingest_pids  # the stack phase points this at its ingest

    async def main(self) -> dict[str, Any]:
        opts = self.opts
        meta = machine()
        async with BenchEnv() as env, contextlib.AsyncExitStack() as stack:
            self.env = env
            print(
                f"[bench] database {env.db_name}, topic prefix {env.topic_prefix}, "
                f"logs in {self.log_dir}",
                flush=True,
            )
            kafka_pid = listener_pid(int(KAFKA.rsplit(":", 1)[1]))
            self.meter = CpuMeter(
                {
                    "ingest": lambda: self.ingest_pids(),
                    "kafka": lambda: [kafka_pid] if kafka_pid else [],
                    "postgres": CpuMeter.postgres_pids,
                    "alertmanager": lambda: [self.am.pid] if self.am else [],
                    "calibration": lambda: [self.calib.pid] if self.calib else [],
                }
            )
            if opts.calibrate:
                await self._calibrate()
            self.stack = stack
            if "stack" in opts.shapes:
                # first, while the topics are empty: the stack's consumers start caught up, as
                # they are under `make up`, instead of chewing through the other runs' events
                await run_stack(self)
            service_env = {**env.service_env(), **dict(opts.ingest_env)}
            if opts.database_query:
                service_env["PACTA_DATABASE_URL"] += "?" + opts.database_query
            ingest = Proc(
                "ingest",
                [sys.executable, "-m", opts.ingest_module],
                self.log_dir / f"ingest-{self.stamp}.log",
                {**service_env, "PACTA_INGEST_PORT": str(port := free_port())},
            )
            stack.callback(ingest.stop)
            ingest.start()
            self.ingest_url = f"http://127.0.0.1:{port}"
            await asyncio.to_thread(ingest.wait_http, self.ingest_url + "/readyz", 90)
            self.ingest = ingest

            await self._pacta_runs()
            if opts.alertmanager:
                await self._am_runs()
            prof: dict[str, Any] | None = None
            if opts.profile:
                prof = await self._profiles()
            correctness = await self._final_check()
            return self._result(meta, correctness, prof)

    def lone_ingest_pids(self) -> list[int]:
        """The bench's own ingest process and its workers."""
        return family(self.ingest.pid) if self.ingest else []

    @property
    def ingest_pid(self) -> int:
        assert self.ingest is not None
        return self.ingest.pid

    async def _calibrate(self) -> None:
        """The anchor's minimal FastAPI ingest (bench/calibrate.py), alone, wrk -t1 -c32."""
        port = free_port()
        self.calib = Proc(
            "calibration",
            [sys.executable, "-m", "bench.calibrate", str(port)],
            self.log_dir / f"calibration-{self.stamp}.log",
        )
        try:
            self.calib.start()
            url = f"http://127.0.0.1:{port}"
            await asyncio.to_thread(self.calib.wait_http, url + "/readyz", 30)
            for label, duration in (("calibration-warmup", 1.0), ("calibration", 5.0)):
                run = WrkRun(
                    label=label,
                    target="calibration",
                    url=url + "/v1/events/monitoring",
                    connections=32,
                    threads=1,
                    batch=1,
                    rate=0,
                )
                await self._wait_quiet(run)
                self.meter.start()
                await run_wrk(run, duration=duration, env=self._wrk_env(label))
                run.cpu = self.meter.stop()
                self._check_run(run)
                self.runs.append(run)
                self._print_run(run)
        finally:
            self.calib.stop()
            self.calib = None

    async def start_alertmanager(self, stack: contextlib.AsyncExitStack) -> Proc:
        log = self.log_dir / f"alertmanager-{self.stamp}.log"
        am, self.am_url = await start_alertmanager(stack, AM_CONFIG, log)
        return am

    def _wrk_env(self, label: str) -> dict[str, str]:
        return {
            "BENCH_PREFIX": f"{self.env.rand}{label}",
            "BENCH_OCCURRED": _iso_now(),
            "BENCH_TOKEN": API_KEY,
        }

    async def pacta_run(
        self,
        label: str,
        conns: int,
        batch: int,
        duration: float,
        rate: float = 0,
        just_before: Callable[[], Awaitable[object]] | None = None,
    ) -> WrkRun:
        run = WrkRun(
            label=label,
            target="pacta",
            url=self.ingest_url + "/v1/events/monitoring",
            connections=conns,
            threads=1,
            batch=batch,
            rate=rate,
        )
        topic = self.env.monitoring_topic
        before = await self.env.kafka_settled()
        await self._wait_quiet(run)
        m0 = await asyncio.to_thread(_scrape, self.ingest_url, topic)
        if just_before is not None:
            await just_before()
        threads0 = family_thread_ticks(self.ingest_pids())
        self.meter.start()
        await run_wrk(run, duration=duration, env=self._wrk_env(label))
        run.cpu = self.meter.stop()
        threads1 = family_thread_ticks(self.ingest_pids())
        split = family_split(threads0, threads1, run.cpu["window_s"])
        run.server["ingest_cpu_pct"] = split
        after = await self.env.kafka_settled()
        m1 = await asyncio.to_thread(_scrape, self.ingest_url, topic)
        run.landed = after - before
        run.server.update(
            http=_delta(m0["http"], m1["http"]),
            kafka_produce=_delta(m0["produce"], m1["produce"]),
            pg_claim=_delta(m0["claim"], m1["claim"]),
        )
        self._check_run(run)
        self.runs.append(run)
        self._print_run(run)
        await asyncio.sleep(self.opts.pause)
        return run

    async def am_run(
        self, label: str, conns: int, batch: int, duration: float, rate: float = 0
    ) -> WrkRun:
        run = WrkRun(
            label=label,
            target="alertmanager",
            url=self.am_url + "/api/v2/alerts",
            connections=conns,
            threads=1,
            batch=batch,
            rate=rate,
        )
        before = await asyncio.to_thread(_am_received, self.am_url)
        await self._wait_quiet(run)
        self.meter.start()
        await run_wrk(run, duration=duration, env=self._wrk_env(label))
        run.cpu = self.meter.stop()
        await asyncio.sleep(0.5)
        after = await asyncio.to_thread(_am_received, self.am_url)
        if before is None or after is None:
            self.warnings.append(f"{run.label}: Alertmanager's /metrics did not answer")
        else:
            run.landed = int(after - before)
        self._check_run(run)
        self.runs.append(run)
        self._print_run(run)
        await asyncio.sleep(self.opts.pause)
        return run

    async def _wait_quiet(self, run: WrkRun) -> None:
        o = self.opts
        busy, waited = await asyncio.to_thread(wait_quiet, o.quiet_wait, o.quiet_threshold)
        run.server["machine_busy_before_pct"] = round(busy, 1)
        run.server["waited_for_quiet_s"] = round(waited, 1)
        if busy >= o.quiet_threshold:
            print(
                f"[bench] the machine is still {busy:.0f}% busy after {waited:.0f}s of waiting; "
                f"running {run.label} anyway",
                flush=True,
            )

    async def _pacta_runs(self) -> None:
        o = self.opts
        await self.pacta_run("warmup", 32, 1, o.warmup)
        if "single" in o.shapes:
            for c in o.single_connections:
                await self.pacta_run(f"single-c{c}", c, 1, o.duration)
        if "batch" in o.shapes:
            await self.pacta_run(
                f"batch{o.batch_size}-c{o.batch_connections}",
                o.batch_connections,
                o.batch_size,
                o.duration,
            )
        if "paced" in o.shapes:
            await self.pacta_run(
                f"paced-{o.paced_rate:g}", o.paced_connections, 1, o.duration, rate=o.paced_rate
            )
            if o.light_rate:
                await self.pacta_run(
                    f"light-paced-{o.light_rate:g}", 16, 1, o.duration, rate=o.light_rate
                )

    async def _am_runs(self) -> None:
        """Each shape against a fresh Alertmanager: it keeps every alert in memory, in one
        aggregation group here, and slows down as they pile up (hundreds of thousands per run),
        so a shape measured after another would be measured against a fuller store."""
        o = self.opts
        shapes: list[tuple[str, int, int, float]] = []
        if "single" in o.shapes:
            shapes += [(f"am-single-c{c}", c, 1, 0.0) for c in o.single_connections]
        if "batch" in o.shapes:
            shapes.append(
                (
                    f"am-batch{o.batch_size}-c{o.batch_connections}",
                    o.batch_connections,
                    o.batch_size,
                    0.0,
                )
            )
        if "paced" in o.shapes:
            # The same paced generator against a server that keeps up: shows the pacing holds
            # the rate, and gives Alertmanager's p99 at that rate.
            shapes.append((f"am-paced-{o.paced_rate:g}", o.paced_connections, 1, o.paced_rate))
        for label, conns, batch, rate in shapes:
            if self.am is not None:
                self.am.stop()
            self.am = await self.start_alertmanager(self.stack)
            await self.am_run(f"{label}-warmup", min(conns, 16), batch, o.warmup)
            await self.am_run(label, conns, batch, o.duration, rate=rate)
        if self.am is not None:
            self.am.stop()  # it keeps working on its alerts for a while: not during profiles
            self.am = None

    def _check_run(self, run: WrkRun) -> None:
        """Acknowledged events must all have landed. More may land only from requests wrk left
        unanswered when it stopped, or from requests answered 5xx whose produce Kafka
        acknowledged after the ingest's deadline (by design: the claim is rolled back, and a
        sender's retry is deduplicated downstream by id)."""
        where = "Kafka" if run.target == "pacta" else "Alertmanager's received counter"
        acked, unanswered, failed = run.acked_events, run.in_flight_events, run.failed_events
        if run.landed is None:
            pass
        elif run.landed < acked:
            self._problem(
                f"MISMATCH in {run.label}: {acked} events acknowledged but only {run.landed} "
                f"landed in {where}: {acked - run.landed} ACKNOWLEDGED EVENTS LOST"
            )
        elif run.landed > acked + unanswered + failed:
            self._problem(
                f"MISMATCH in {run.label}: {acked} events acknowledged, {unanswered} unanswered "
                f"at stop, {failed} answered 5xx, but {run.landed} landed in {where}: "
                f"{run.landed - acked - unanswered - failed} unexplained extra records"
            )
        elif run.landed > acked + unanswered:
            msg = (
                f"{run.label}: {run.landed - acked - unanswered} of the {failed} events answered "
                f"5xx landed in {where} anyway (Kafka acknowledged after the ingest's produce "
                "deadline); a sender's retry puts them on the topic twice, for the consumers' "
                "dedup by id"
            )
            self.warnings.append(msg)
            print(f"\n!!!!! {msg} !!!!!\n", flush=True)
        if run.non_2xx or any(run.socket_errors.values()):
            msg = (
                f"{run.label}: {run.non_2xx} non-2xx answers {run.statuses}, socket errors "
                f"{run.socket_errors}; first: {run.error_samples[:1]}"
            )
            self.warnings.append(msg)
            print(f"!! {msg}", flush=True)
        other = run.cpu.get("other", 0.0)
        if other > self.opts.quiet_threshold and not run.label.endswith("warmup"):
            msg = (
                f"{run.label}: other processes used {other:.0f}% of a core during the run; "
                "its numbers are depressed"
            )
            self.warnings.append(msg)
            print(f"!! {msg}", flush=True)

    def _print_run(self, run: WrkRun) -> None:
        lat = run.latency_ms
        extra = ""
        if run.rate:
            extra = (
                f", paced {run.requests_per_s:,.0f}/{run.rate:,.0f} req/s, "
                f"{run.pacing.get('late_1ms_pct')}% sends >1 ms late"
            )
        print(
            f"[bench] {run.label:<22} {run.events_per_s:>10,.0f} ev/s  "
            f"p50 {ms(lat.get('p50'))} ms  p99 {ms(lat.get('p99'))} ms  "
            f"2xx {run.ok:,}/{run.responses:,}  landed {num(run.landed)}{extra}  "
            f"server {num(run.server_cpu_us_per_event)} us/ev  "
            f"cpu {_cpu_brief(run.cpu)}",
            flush=True,
        )

    def _problem(self, msg: str) -> None:
        self.problems.append(msg)
        print(f"\n!!!!! {msg} !!!!!\n", flush=True)

    async def _final_check(self) -> dict[str, Any]:
        """Over all Pacta runs: nothing acknowledged is missing from Kafka or from the dedup
        table, and every extra record is explained by an unanswered or a 5xx request."""
        pacta = [r for r in self.runs if r.target == "pacta"]
        acked = sum(r.acked_events for r in pacta)
        in_flight = sum(r.in_flight_events for r in pacta)
        failed = sum(r.failed_events for r in pacta)
        kafka = await self.env.kafka_settled()
        seen = await self.env.seen_events()
        ok = True
        if kafka < acked or seen < acked:
            ok = False
            self._problem(
                f"MISMATCH overall: {acked} events acknowledged, but Kafka holds {kafka} and "
                f"ingest.seen_events {seen}: ACKNOWLEDGED EVENTS LOST"
            )
        if kafka > acked + in_flight + failed or seen > kafka:
            ok = False
            self._problem(
                f"MISMATCH overall: acknowledged {acked}, unanswered at stop {in_flight}, "
                f"answered 5xx {failed}, but Kafka holds {kafka} and ingest.seen_events {seen}"
            )
        # Kafka - seen: records whose claim was rolled back after a late acknowledgement
        return {
            "acked_events": acked,
            "unanswered_at_stop_events": in_flight,
            "answered_5xx_events": failed,
            "kafka_records": kafka,
            "seen_events_rows": seen,
            "landed_after_5xx": max(0, kafka - seen),
            "ok": ok,
        }

    async def _profiles(self) -> dict[str, Any] | None:
        """Extra runs under py-spy, not counted in the table: single events (the connections of
        the best single run) and batches."""
        if profile.py_spy() is None:
            print(
                "[bench] py-spy is missing: `uv pip install --target /tmp/pyspy py-spy` and "
                "PACTA_BENCH_PY_SPY=/tmp/pyspy/bin/py-spy (measurement only, not a dependency)"
            )
            return None
        o = self.opts
        best = self._best("pacta", "single-")
        out: dict[str, Any] = {}
        if "single" in o.shapes:
            conns = best.connections if best else 16
            out["single"] = await self._profile(f"single-c{conns}", conns, 1)
        if "batch" in o.shapes:
            out["batch"] = await self._profile(
                f"batch{o.batch_size}-c{o.batch_connections}", o.batch_connections, o.batch_size
            )
        return out

    async def _profile(self, shape: str, conns: int, batch: int) -> dict[str, Any]:
        out = OUT_DIR / f"ingest-{self.stamp}-profile-{shape}"
        samplers: list[profile.Sampler] = []

        async def attach() -> None:
            sampler = await profile.start(self.ingest_pid, out, self.opts.duration + 1)
            assert sampler is not None
            samplers.append(sampler)

        try:
            run = await self.pacta_run(
                f"profiled-{shape}", conns, batch, self.opts.duration, just_before=attach
            )
        finally:
            if samplers:
                raw = await profile.finish(samplers[0])
        summary = profile.summarise(raw, out)
        summary["run"] = {
            "label": run.label,
            "events_per_s": round(run.events_per_s),
            "p99_ms": run.latency_ms["p99"],
            "ingest_cpu_pct": run.server.get("ingest_cpu_pct"),
            "server_cpu_us_per_event": run.server_cpu_us_per_event,
        }
        print(profile.save(summary), flush=True)
        return summary

    # results --------------------------------------------------------------------------------

    def _best(self, target: str, prefix: str) -> WrkRun | None:
        runs = [
            r
            for r in self.runs
            if r.target == target and r.label.startswith(prefix) and not r.label.endswith("warmup")
        ]
        return max(runs, key=lambda r: r.events_per_s, default=None)

    def _result(
        self, meta: dict[str, Any], correctness: dict[str, Any], prof: dict[str, Any] | None
    ) -> dict[str, Any]:
        o = self.opts
        single = self._best("pacta", "single-")
        batch = self._best("pacta", "batch")
        paced = next((r for r in self.runs if r.label.startswith("paced-")), None)
        am_paced = next((r for r in self.runs if r.label.startswith("am-paced-") and r.rate), None)
        am_single = self._best("alertmanager", "am-single-")
        am_batch = self._best("alertmanager", "am-batch")

        calib = next((r for r in self.runs if r.label == "calibration"), None)
        rows: list[dict[str, Any]] = []

        def row(what: str, measured: str, target: str, ok: bool | None, note: str = "") -> None:
            rows.append(target_row(what, measured, target, ok, note))

        if calib:
            row(
                "box speed: minimal FastAPI app, req/s",
                num(calib.requests_per_s),
                f"(anchor {ANCHOR_CALIBRATION:,})",
                None,
                f"{100 * calib.requests_per_s / ANCHOR_CALIBRATION:.0f}% of the anchor's box "
                "(reference box: no auth, PG or Kafka; wrk -c32)",
            )
        if single:
            row(
                "ingest single, events/s",
                num(single.events_per_s),
                f">= {TARGET_SINGLE_EPS:,}",
                single.events_per_s >= TARGET_SINGLE_EPS,
                f"{single.label}, p99 {ms(single.latency_ms['p99'])} ms at saturation",
            )
        if paced:
            achieved = paced.requests_per_s
            sustained = achieved >= 0.97 * paced.rate
            row(
                f"ingest single, p99 at {paced.rate:,.0f}/s",
                f"{ms(paced.latency_ms['p99'])} ms",
                f"<= {TARGET_P99_MS:g} ms",
                sustained and paced.latency_ms["p99"] <= TARGET_P99_MS,
                f"achieved {achieved:,.0f} req/s (2xx/duration); "
                f"{paced.pacing.get('late_1ms_pct')}% of sends >1 ms behind schedule"
                + ("" if sustained else "; RATE NOT SUSTAINED")
                + (
                    f"; Alertmanager paced the same: {am_paced.requests_per_s:,.0f} req/s, "
                    f"p99 {ms(am_paced.latency_ms['p99'])} ms"
                    if am_paced
                    else ""
                ),
            )
        light = next((r for r in self.runs if r.label.startswith("light-paced-")), None)
        if light:
            srv = light.server.get("http", {})
            kafka = light.server.get("kafka_produce", {})
            row(
                f"ingest single, p99 at {light.rate:,.0f}/s (light load)",
                f"{ms(light.latency_ms['p99'])} ms",
                "(no target)",
                None,
                f"achieved {light.requests_per_s:,.0f} req/s; p50 {ms(light.latency_ms['p50'])} "
                f"ms; server mean {ms(srv.get('mean_ms'))} ms of which Kafka ack "
                f"{ms(kafka.get('mean_ms'))} ms",
            )
        if single and am_single:
            ratio = single.events_per_s / am_single.events_per_s
            row(
                "single vs Alertmanager single",
                f"{ratio:.2f}x",
                f">= {TARGET_SINGLE_RATIO:g}x",
                ratio >= TARGET_SINGLE_RATIO,
                f"Alertmanager {num(am_single.events_per_s)} alerts/s ({am_single.label})",
            )
        if batch:
            row(
                f"ingest batched ({o.batch_size}/request), events/s",
                num(batch.events_per_s),
                f">= {TARGET_BATCH_EPS:,}",
                batch.events_per_s >= TARGET_BATCH_EPS,
                f"{batch.label}, {num(batch.requests_per_s)} req/s, "
                f"p99 {ms(batch.latency_ms['p99'])} ms",
            )
        if batch and am_batch:
            ratio = batch.events_per_s / am_batch.events_per_s
            row(
                "batched vs Alertmanager batched",
                f"{ratio:.2f}x",
                f">= {TARGET_BATCH_RATIO:g}x",
                ratio >= TARGET_BATCH_RATIO,
                f"Alertmanager {num(am_batch.events_per_s)} alerts/s ({am_batch.label})",
            )
        for stack_row in stack_rows(
            self, single_target=TARGET_SINGLE_RATIO, batch_target=TARGET_BATCH_RATIO
        ):
            row(*stack_row)
        row(
            "acknowledged == landed in Kafka",
            f"{correctness['kafka_records']:,} / {correctness['acked_events']:,}",
            "none lost; extras explained",
            correctness["ok"],
            f"seen_events {correctness['seen_events_rows']:,}; unanswered at stop "
            f"{correctness['unanswered_at_stop_events']:,} events; answered 5xx "
            f"{correctness['answered_5xx_events']:,}, of which on Kafka anyway "
            f"{correctness['landed_after_5xx']:,}",
        )
        return {
            "benchmark": "ingest",
            "meta": {
                **meta,
                "wrk": wrk_version(),
                "alertmanager": _am_version() if o.alertmanager else None,
                "kafka": KAFKA,
            },
            "options": {k: getattr(o, k) for k in o.__dataclass_fields__},
            "targets": rows,
            "runs": [r.as_dict() for r in self.runs],
            "correctness": correctness,
            "problems": self.problems,
            "warnings": self.warnings,
            "profile": prof,
        }


def _am_version() -> str:
    import subprocess

    try:
        out = subprocess.run([ALERTMANAGER, "--version"], capture_output=True, text=True, timeout=5)
        return (out.stdout + out.stderr).splitlines()[0]
    except (OSError, subprocess.TimeoutExpired, IndexError):
        return "unknown"


def _cpu_brief(cpu: dict[str, float]) -> str:
    keys = ("ingest", "calibration", "wrk", "kafka", "postgres", "alertmanager", "other", "idle")
    return " ".join(
        f"{k} {cpu[k]:.0f}%"
        for k in keys
        if k in cpu and (cpu[k] >= 0.5 or k in ("other", "idle", "wrk"))
    )


def render(result: dict[str, Any]) -> str:
    """The human summary: targets with PASS/MISS, then every run."""
    t = [[r["what"], r["measured"], r["target"], r["result"], r["note"]] for r in result["targets"]]
    parts = [
        "Ingest against its targets (one 2-core box: Kafka, PostgreSQL, wrk and the service on it)",
        "",
        table(["what", "measured", "target", "result", "note"], t, right={1}),
        "",
    ]
    runs = []
    for r in result["runs"]:
        lat = r["latency_ms"]
        srv = r.get("server") or {}
        runs.append(
            [
                r["label"],
                r["target"],
                str(r["connections"]),
                str(r["batch"]),
                num(r["requests_per_s"]),
                num(r["events_per_s"]),
                ms(lat.get("p50")),
                ms(lat.get("p99")),
                ms(lat.get("p99.9")),
                ms(srv.get("http", {}).get("mean_ms")),
                ms(srv.get("kafka_produce", {}).get("mean_ms")),
                str(r["non_2xx"]),
                num(r["server_cpu_us_per_event"]),
                _cpu_brief(r["cpu"]),
            ]
        )
    parts += [
        "Runs (wrk -t1; latency in ms as wrk saw it; srv = server-side mean of the request, "
        "kafka = mean wait for Kafka's ack; us/ev = server CPU microseconds per acknowledged "
        "event; cpu in % of one core)",
        "",
        table(
            [
                "run",
                "target",
                "conns",
                "batch",
                "req/s",
                "events/s",
                "p50",
                "p99",
                "p99.9",
                "srv",
                "kafka",
                "non2xx",
                "us/ev",
                "cpu",
            ],
            runs,
            right=set(range(2, 13)),
        ),
    ]
    parts += notes(result)
    return "\n".join(parts)


async def run(opts: Options) -> dict[str, Any]:
    bench = IngestBench(opts)
    result = await bench.main()
    publish("ingest", result, render(result))
    if figures := ingest_results.entries(bench.runs):
        record_and_render(figures)
    return result
