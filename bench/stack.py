"""Issue 9's measurement: the ingest on the stack as `make up` runs it, next to Alertmanager.

`deploy/local/services.sh start` (what `make up` runs) starts the four services on the run's
database and topics, with the ingest's defaults (PACTA_INGEST_WORKERS one per core, INFO logs,
the default rate limit), so the sla-engine, alerting and reporting consume while the ingest is
measured. wrk -t1 with 16 connections, every event with an id of its own: single events, then
batches of 100. Alertmanager's `/api/v2/alerts` gets the same two shapes in the same run
(each against a fresh Alertmanager, before the stack starts, so the consumers' backlog does
not slow it), and the ratios the targets ask for are printed. This phase runs first, on empty
topics, so the consumers start caught up as they do under `make up`; the wait for a quiet box
before the batch run lets them finish the single run's events.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from bench.env import BenchEnv
from bench.procs import CpuMeter, Proc, family, free_port, wait_all_serving, wait_http
from bench.report import num
from bench.wrk import WrkRun

ROOT = Path(__file__).resolve().parents[1]
SERVICES_SH = ROOT / "deploy/local/services.sh"
CONNECTIONS = 16
BATCH = 100
PORT_VARS = ("INGEST", "SLA_ENGINE", "ALERTING", "REPORTING")
# What the bench's lone ingest runs with but `make up` does not: the stack keeps the defaults.
NOT_MAKE_UP = ("PACTA_LOG_LEVEL", "PACTA_INGEST_RATE_LIMIT")


class StackOptions(Protocol):
    """The ingest bench's options the stack phase reads."""

    @property
    def alertmanager(self) -> bool: ...
    @property
    def warmup(self) -> float: ...
    @property
    def duration(self) -> float: ...
    @property
    def ingest_env(self) -> tuple[tuple[str, str], ...]: ...


class IngestBench(Protocol):
    """What the stack phase drives of the ingest bench (`bench.ingest.IngestBench`): its run's
    environment and meters, its Alertmanager, and its wrk runs against either."""

    am: Proc | None
    ingest_url: str
    ingest_pids: Callable[[], list[int]]

    @property
    def opts(self) -> StackOptions: ...
    @property
    def log_dir(self) -> Path: ...
    @property
    def stamp(self) -> str: ...
    @property
    def env(self) -> BenchEnv: ...
    @property
    def stack(self) -> contextlib.AsyncExitStack: ...
    @property
    def meter(self) -> CpuMeter: ...
    @property
    def runs(self) -> list[WrkRun]: ...
    def lone_ingest_pids(self) -> list[int]: ...
    async def start_alertmanager(self, stack: contextlib.AsyncExitStack) -> Proc: ...
    async def am_run(self, label: str, conns: int, batch: int, duration: float) -> WrkRun: ...
    async def pacta_run(self, label: str, conns: int, batch: int, duration: float) -> WrkRun: ...


class Stack:
    """The four services started and stopped by services.sh, in a var/ directory of their own."""

    def __init__(
        self, var: Path, service_env: dict[str, str], extra: tuple[tuple[str, str], ...] = ()
    ) -> None:
        self.var = var
        env = {k: v for k, v in service_env.items() if k not in NOT_MAKE_UP}
        self.ports = {name: free_port() for name in PORT_VARS}
        self.env = {
            **os.environ,
            **env,
            **dict(extra),
            "PACTA_VAR_DIR": str(self.var),
            **{f"PACTA_{name}_PORT": str(port) for name, port in self.ports.items()},
        }

    @property
    def ingest_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['INGEST']}"

    def _run(self, action: str, timeout: float) -> None:
        out = subprocess.run(
            ["bash", str(SERVICES_SH), action],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(f"services.sh {action} failed:\n{out.stdout}{out.stderr}")

    def start(self) -> None:
        self._run("start", 150)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._run("stop", 60)

    def pids(self, service: str) -> list[int]:
        """The service's process and its children (the ingest's workers)."""
        try:
            pid = int((self.var / "run" / f"{service}.pid").read_text())
        except (OSError, ValueError):
            return []
        return family(pid)


async def run_stack(bench: IngestBench) -> None:
    """Alertmanager first (quiet box), then the stack: single events, then batches. Runs before
    the bench's own ingest starts (it sets `bench.ingest_url` afterwards)."""
    o = bench.opts
    if o.alertmanager:
        for label, batch in (
            (f"am-stack-single-c{CONNECTIONS}", 1),
            (f"am-stack-batch{BATCH}-c{CONNECTIONS}", BATCH),
        ):
            if bench.am is not None:
                bench.am.stop()
            bench.am = await bench.start_alertmanager(bench.stack)
            await bench.am_run(f"{label}-warmup", CONNECTIONS, batch, o.warmup)
            await bench.am_run(label, CONNECTIONS, batch, o.duration)
        if bench.am is not None:
            bench.am.stop()
            bench.am = None
    stack = Stack(bench.log_dir / f"stack-{bench.stamp}", bench.env.service_env(), o.ingest_env)
    bench.stack.callback(stack.stop)
    print(f"[bench] starting the make-up stack (services.sh, var in {stack.var})", flush=True)
    await asyncio.to_thread(stack.start)
    await asyncio.to_thread(wait_http, stack.ingest_url + "/readyz", 60)
    port = stack.ports["INGEST"]
    workers = await asyncio.to_thread(wait_all_serving, port, lambda: stack.pids("ingest"), 60)
    print(f"[bench] the stack's ingest serves with {workers} worker(s)", flush=True)
    bench.ingest_url = stack.ingest_url
    bench.ingest_pids = lambda: stack.pids("ingest")
    bench.meter.groups.update(
        engine=lambda: stack.pids("sla-engine"),
        alerting=lambda: stack.pids("alerting"),
        reporting=lambda: stack.pids("reporting"),
    )
    try:
        await bench.pacta_run("stack-warmup", CONNECTIONS, 1, o.warmup)
        await bench.pacta_run(f"stack-single-c{CONNECTIONS}", CONNECTIONS, 1, o.duration)
        await bench.pacta_run(f"stack-batch{BATCH}-c{CONNECTIONS}", CONNECTIONS, BATCH, o.duration)
    finally:
        bench.ingest_pids = bench.lone_ingest_pids
        await asyncio.to_thread(stack.stop)


def stack_rows(
    bench: IngestBench, *, single_target: float, batch_target: float
) -> list[tuple[str, str, str, bool | None, str]]:
    """The side-by-side rows: Pacta's rate, Alertmanager's, and the ratio the target asks for
    (`single_target` for single events, `batch_target` for batches)."""

    def run(label: str) -> WrkRun | None:
        return next((r for r in bench.runs if r.label == label), None)

    rows: list[tuple[str, str, str, bool | None, str]] = []
    for shape, batch, target in (
        (f"single-c{CONNECTIONS}", 1, single_target),
        (f"batch{BATCH}-c{CONNECTIONS}", BATCH, batch_target),
    ):
        pacta, am = run(f"stack-{shape}"), run(f"am-stack-{shape}")
        if pacta is None:
            continue
        what = "single events" if batch == 1 else f"batches of {batch}"
        note = (
            f"p99 {pacta.latency_ms['p99']:.1f} ms; make-up stack (4 services consuming), "
            f"wrk -t1 -c{CONNECTIONS}, unique ids; cpu {_cpu(pacta.cpu)}"
        )
        rows.append((f"stack: {what}, events/s", num(pacta.events_per_s), "", None, note))
        floor = cpu_floor(pacta)
        if floor:
            us, ceiling = floor
            rows.append(
                (
                    f"stack: {what}, CPU per event (all of the stack)",
                    f"{us:,.0f} us",
                    "(the floor)",
                    None,
                    f"ingest, consumers, Kafka, PostgreSQL and wrk together: at most "
                    f"{ceiling:,.0f} events/s on {os.cpu_count()} cores at this cost "
                    "(Kafka and PostgreSQL also serve whatever else runs on the box)",
                )
            )
        if am is None or not am.events_per_s:
            continue
        ratio = pacta.events_per_s / am.events_per_s
        rows.append(
            (
                f"stack: {what}, Pacta / Alertmanager",
                f"{ratio:.2f}x",
                f">= {target:g}x",
                ratio >= target,
                f"Alertmanager {num(am.events_per_s)} alerts/s, p99 "
                f"{am.latency_ms['p99']:.1f} ms (same run, same shape)",
            )
        )
    return rows


def cpu_floor(run: WrkRun) -> tuple[float, float] | None:
    """(CPU µs per acknowledged event over the stack's processes, the events/s the machine's
    cores would carry at that cost): the ceiling the run itself measured."""
    groups = ("ingest", "engine", "alerting", "reporting", "kafka", "postgres", "wrk")
    pct = sum(float(run.cpu.get(g, 0.0)) for g in groups)
    if not run.acked_events or not pct:
        return None
    us = pct / 100 * float(run.cpu["window_s"]) / run.acked_events * 1e6
    return us, (os.cpu_count() or 1) * 1e6 / us


def _cpu(cpu: dict[str, Any]) -> str:
    keys = ("ingest", "engine", "alerting", "reporting", "kafka", "postgres", "wrk", "other")
    return " ".join(f"{k} {cpu[k]:.0f}%" for k in keys if k in cpu)
