"""The cost of an event: CPU time per event of every process of the stack at a steady 1,000/s.

    python -m bench --only cost                     # 20 s per shape, + py-spy profiles
    python -m bench.cost --duration 5 --no-profile  # a short check

The four services run as `make up` runs them (`deploy/local/services.sh start`, their defaults)
on a database and topic prefix of the run's own. wrk -t1 (bench/load.lua) posts monitoring
events paced at 1,000 events/s: one per request (1,000 requests/s, 16 connections), then in
batches of 100 (10 requests/s). Each process's CPU (utime + stime from /proc/<pid>/stat, the
ingest's workers included, every PostgreSQL backend summed) is read over the window from the
first request until the consumers are done with the run's events, and divided by the events
acknowledged. The idle CPU of each process (read before the load) is reported beside it: it is
paid whether events come or not. With profiles, a third run of single events is sampled by
py-spy in every service, and the top frames are written to docs/benchmarks/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from bench import profile
from bench.env import API_KEY, KAFKA, RetryingEnv
from bench.procs import CpuMeter, listener_pid, wait_all_serving, wait_http, wait_quiet
from bench.render import publish
from bench.report import OUT_DIR, ROOT, machine, stamp, table, write_json
from bench.results import entry
from bench.stack import Stack
from bench.wrk import WrkRun, run_wrk

BUDGET_S = 480.0
RATE = 1_000.0  # events/s
# services.sh's name of each service -> its CPU group
SERVICES = {
    "ingest": "ingest",
    "sla-engine": "engine",
    "alerting": "alerting",
    "reporting": "reporting",
}
STACK = ("ingest", "kafka", "postgres", "engine", "alerting", "reporting")
PROFILE_DIR = ROOT / "docs" / "benchmarks"
COMMAND = "python -m bench --only cost"
LEVEL = {1: "cost of an event, single", 100: "cost of an event, batches of 100"}


def _iso_now() -> str:
    from bench.ingest import _iso_now as now

    return now()


class CostBench:
    def __init__(self, duration: float, profiles: bool, quiet_wait: float) -> None:
        self.duration, self.profiles, self.quiet_wait = duration, profiles, quiet_wait
        self.stamp = stamp()
        self.shapes: list[dict[str, Any]] = []
        self.warnings: list[str] = []  # not the steady rate asked for: the figure is suspect

    async def main(self) -> dict[str, Any]:
        meta = machine()
        async with RetryingEnv() as env, contextlib.AsyncExitStack() as stack_cm:
            self.env = env
            stack = Stack(OUT_DIR / "logs" / f"cost-{self.stamp}", env.service_env())
            stack_cm.callback(stack.stop)
            print(f"[bench] cost: starting the make-up stack (var in {stack.var})", flush=True)
            await asyncio.to_thread(stack.start)
            await asyncio.to_thread(wait_http, stack.ingest_url + "/readyz", 60)
            port = stack.ports["INGEST"]
            await asyncio.to_thread(wait_all_serving, port, lambda: stack.pids("ingest"), 60)
            self.stack = stack
            kafka_pid = listener_pid(int(KAFKA.rsplit(":", 1)[1]))
            groups: dict[str, Any] = {
                group: (lambda s=service: stack.pids(s)) for service, group in SERVICES.items()
            }
            groups["kafka"] = lambda: [kafka_pid] if kafka_pid else []
            groups["postgres"] = CpuMeter.postgres_pids
            self.meter = CpuMeter(groups)
            await self._load("warmup", 1, 2.0)
            idle = await self._idle()
            for batch in (1, 100):
                self.shapes.append(await self._shape(batch, idle))
            profiles = await self._profile() if self.profiles else {}
        result = {
            "benchmark": "cost",
            "meta": meta,
            "rate": RATE,
            "duration_s": self.duration,
            "idle_cpu_pct": idle,
            "shapes": self.shapes,
            "profiles": profiles,
            "warnings": self.warnings,
            "problems": [],
        }
        write_json("cost", result)
        self._publish(result)
        return result

    # ---- measuring ----------------------------------------------------------------------------

    async def _load(self, label: str, batch: int, duration: float) -> WrkRun:
        run = WrkRun(
            label=label,
            target="pacta",
            url=self.stack.ingest_url + "/v1/events/monitoring",
            connections=16 if batch == 1 else 4,
            threads=1,
            batch=batch,
            rate=RATE / batch,
        )
        env = {
            "BENCH_PREFIX": f"{self.env.rand}{label}",
            "BENCH_OCCURRED": _iso_now(),
            "BENCH_TOKEN": API_KEY,
        }
        return await run_wrk(run, duration=duration, env=env)

    async def _idle(self, seconds: float = 3.0) -> dict[str, float]:
        """Each process's CPU (% of one core) with no events coming: timers, polls, heartbeats."""
        await self._settle()
        self.meter.start()
        await asyncio.sleep(seconds)
        cpu = self.meter.stop()
        return {g: cpu.get(g, 0.0) for g in STACK}

    async def _settle(self, limit: float = 90.0) -> float:
        """Wait until the consumers have nothing left to do: their CPU, over half a second, is
        below 15 % of one core together twice in a row. Returns the seconds waited."""
        started, calm = time.monotonic(), 0
        probe = CpuMeter({g: self.meter.groups[g] for g in ("engine", "alerting", "reporting")})
        while time.monotonic() - started < limit and calm < 2:
            probe.start()
            await asyncio.sleep(0.5)
            cpu = probe.stop()
            busy = sum(cpu[g] for g in ("engine", "alerting", "reporting"))
            calm = calm + 1 if busy < 15 else 0
        return time.monotonic() - started

    async def _shape(self, batch: int, idle: dict[str, float]) -> dict[str, Any]:
        label = "single" if batch == 1 else f"batch{batch}"
        busy, _ = await asyncio.to_thread(wait_quiet, self.quiet_wait, 35.0)
        load = os.getloadavg()[0]
        seen0 = await self.env.seen_events()
        batches0 = await asyncio.to_thread(self._engine_batches)
        self.meter.start()
        run = await self._load(label, batch, self.duration)
        settle = await self._settle()
        cpu = self.meter.stop(child_name="wrk")
        seen = await self.env.seen_events() - seen0
        batches1 = await asyncio.to_thread(self._engine_batches)
        engine_batches = batches1[0] - batches0[0]
        events = run.acked_events
        window = float(cpu["window_s"])
        per = {g: round(cpu[g] / 100 * window / max(1, events) * 1e6, 1) for g in STACK}
        idle_per = {g: round(idle[g] / 100 * window / max(1, events) * 1e6, 1) for g in STACK}
        shape = {
            "shape": label,
            "batch": batch,
            "requested_events_per_s": RATE,
            "achieved_events_per_s": round(run.events_per_s, 1),
            "acked_events": events,
            "non_2xx": run.non_2xx,
            "ingest_seen_events": seen,
            "p99_ms": run.latency_ms.get("p99"),
            "window_s": window,
            "settle_s": round(settle, 1),
            "cpu_pct_of_one_core": cpu,
            "us_per_event": per,
            "us_per_event_total": round(sum(per.values()), 1),
            "idle_us_per_event": idle_per,
            "idle_us_per_event_total": round(sum(idle_per.values()), 1),
            "wrk_us_per_event": round(cpu["wrk"] / 100 * window / max(1, events) * 1e6, 1),
            "engine_batches": engine_batches,
            "engine_records_per_batch": round(
                (batches1[1] - batches0[1]) / max(1, engine_batches), 1
            ),
            "machine_busy_before_pct": round(busy, 1),
            "load_before": round(load, 2),
        }
        if events < 0.95 * RATE * self.duration or run.non_2xx:
            self.warnings.append(
                f"{label}: {events:,} events acknowledged of {RATE * self.duration:,.0f} "
                f"({run.non_2xx} non-2xx): not the steady 1,000/s asked for"
            )
        print(render_shape(shape), flush=True)
        return shape

    def _engine_batches(self) -> tuple[int, float]:
        """The engine's consumed batches so far and the records they held (its
        `pacta_kafka_batch_records` histogram); zeros if its metrics do not answer."""
        url = f"http://127.0.0.1:{self.stack.ports['SLA_ENGINE']}/metrics"
        count, total = 0, 0.0
        with contextlib.suppress(httpx.HTTPError):
            for line in httpx.get(url, timeout=5).text.splitlines():
                if line.startswith("pacta_kafka_batch_records_count{"):
                    count += int(float(line.rpartition(" ")[2]))
                elif line.startswith("pacta_kafka_batch_records_sum{"):
                    total += float(line.rpartition(" ")[2])
        return count, total

    async def _profile(self) -> dict[str, Any]:
        """py-spy on every service (the ingest's workers too) during a run of single events."""
        await self._settle()
        duration = self.duration
        samplers: dict[str, profile.Sampler] = {}
        raw_dir = OUT_DIR / f"cost-{self.stamp}-profiles"
        for service in SERVICES:
            pids = self.stack.pids(service)
            if not pids:
                continue
            sampler = await profile.start(pids[0], raw_dir / service, duration + 2)
            if sampler is None:
                print("[bench] cost: py-spy is missing, no profiles", flush=True)
                return {}
            samplers[service] = sampler
        self.meter.start()
        run = await self._load("profiled", 1, duration)
        cpu = self.meter.stop()
        out: dict[str, Any] = {}
        PROFILE_DIR.mkdir(parents=True, exist_ok=True)
        for service, sampler in samplers.items():
            raw = await profile.finish(sampler)
            text = top_frames(raw, service, cpu.get(SERVICES[service], 0.0), run.events_per_s)
            path = PROFILE_DIR / f"profile-{service}-single-1000.txt"
            path.write_text(text)
            out[service] = {"collapsed": str(raw), "top": str(path.relative_to(ROOT))}
        print(f"[bench] cost: profiles in {PROFILE_DIR}", flush=True)
        return out

    def _publish(self, result: dict[str, Any]) -> None:
        rows = []
        for shape in result["shapes"]:
            per = shape["us_per_event"]
            note = ", ".join(f"{g} {per[g]:,.0f}" for g in STACK) + (
                f"; of which idle {shape['idle_us_per_event_total']:,.0f};"
                f" at {shape['achieved_events_per_s']:,.0f} events/s"
            )
            row = entry(
                LEVEL[shape["batch"]],
                shape["us_per_event_total"],
                command=COMMAND,
                note=note,
                detail=shape,
            )
            row.met = bool(row.met) and not result["warnings"]
            rows.append(row)
        if rows:
            publish(rows)


def render_shape(shape: dict[str, Any]) -> str:
    per, idle, cpu = shape["us_per_event"], shape["idle_us_per_event"], shape["cpu_pct_of_one_core"]
    rows = [[g, f"{cpu[g]:.1f}", f"{per[g]:,.1f}", f"{idle[g]:,.1f}"] for g in STACK]
    rows.append(
        [
            "stack",
            "",
            f"{shape['us_per_event_total']:,.1f}",
            f"{shape['idle_us_per_event_total']:,.1f}",
        ]
    )
    return (
        f"\n[bench] cost of an event, {shape['shape']}: {shape['acked_events']:,} events at "
        f"{shape['achieved_events_per_s']:,.0f}/s over {shape['window_s']:.1f} s (consumers done "
        f"{shape['settle_s']:.1f} s after the load; wrk {shape['wrk_us_per_event']:,.0f} us/event "
        f"not counted; the engine consumed {shape['engine_batches']:,} batches of "
        f"{shape['engine_records_per_batch']:,.1f} records)\n"
        + table(["process", "% of a core", "us CPU/event", "of which idle"], rows)
    )


# Each sample goes to the first component whose marker is anywhere in its stack (a sample inside
# asyncpg is PostgreSQL's however the service reached it); else by its innermost frame (LEAF).
COMPONENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("PostgreSQL client (asyncpg, SQLAlchemy)", ("asyncpg/", "sqlalchemy/")),
    ("Kafka client (aiokafka)", ("aiokafka/",)),
    ("HTTP client (aiohttp, httpx)", ("aiohttp/", "httpx/", "httpcore/")),
    ("logging (structlog, logging)", ("structlog/", "logging/")),
    ("metrics (prometheus_client)", ("prometheus_client/",)),
    ("JSON and validation (pydantic, orjson, json)", ("pydantic", "orjson", "json/")),
)
LEAF: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("HTTP serving (uvicorn, Starlette, FastAPI)", ("uvicorn/", "starlette/", "fastapi/", "h11")),
    ("the service's own code", ("ingest/", "sla_engine/", "alerting/", "reporting/", "pacta/")),
    ("event loop (uvloop in C, asyncio)", ("asyncio/", "Runner.run", "uvloop")),
)
OWN = ("ingest/", "sla_engine/", "alerting/", "reporting/", "pacta/")
WRAPPERS = ("__main__.py", "pacta/serve.py")


def component(frames: list[str]) -> str:
    for name, markers in COMPONENTS:
        if any(m in f for f in frames for m in markers):
            return name
    for frame in reversed(frames):
        for name, markers in LEAF:
            if any(m in frame for m in markers):
                return name
    return "native code, no Python frame" if not frames else "other: " + frames[-1]


def _own(frame: str) -> bool:
    where = frame.rpartition("(")[2]
    return where.startswith(OWN) and not any(w in where for w in WRAPPERS)


def top_frames(raw: Path, service: str, cpu_pct: float, rate: float, n: int = 20) -> str:
    """Where a service's samples went: by component, by function (self), and by the project's
    own functions (inclusive: the sample is inside them somewhere)."""
    comps: Counter[str] = Counter()
    self_count: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        # py-spy --subprocesses puts a "process N:..." frame at the root of every stack
        frames = [profile._short(f) for f in stack.split(";") if f and not f.startswith("process ")]
        k = int(count)
        total += k
        comps[component(frames)] += k
        self_count[frames[-1] if frames else "native code, no Python frame"] += k
        for f in {f for f in frames if _own(f)}:
            incl[f] += k
    total = total or 1

    def rows(c: Counter[str]) -> list[list[str]]:
        return [[f, f"{100 * v / total:.1f}%"] for f, v in c.most_common(n)]

    return "\n".join(
        [
            f"py-spy profile of {service} during single events at {rate:,.0f}/s on the make-up "
            f"stack ({COMMAND}): {total} samples at {profile.RATE} Hz, idle excluded; "
            f"{service} used {cpu_pct:.0f} % of one core",
            "",
            table(["component (each sample counted once)", "% of samples"], rows(comps)),
            "",
            table(["hottest functions (self)", "% of samples"], rows(self_count)),
            "",
            table(["the service's own functions (inclusive)", "% of samples"], rows(incl)),
            "",
        ]
    )


def from_args(args: argparse.Namespace) -> Any:
    bench = CostBench(min(args.duration * 2, 60.0), not args.no_cost_profile, args.quiet_wait)

    async def go() -> dict[str, Any]:
        async with asyncio.timeout(BUDGET_S):
            return await bench.main()

    return go()


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.cost", description=__doc__.split("\n")[0])
    p.add_argument("--duration", type=float, default=20.0, help="seconds of load per shape")
    p.add_argument("--no-profile", action="store_true")
    p.add_argument("--quiet-wait", type=float, default=60.0)
    args = p.parse_args()
    asyncio.run(CostBench(args.duration, not args.no_profile, args.quiet_wait).main())


if __name__ == "__main__":
    main()
