"""Run wrk with bench/load.lua and turn its "BENCHJSON" line into a result."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.procs import with_parent

LUA = Path(__file__).with_name("load.lua")


@dataclass
class WrkRun:
    """One wrk run. Latencies are in milliseconds, rates per second of wrk's measured duration."""

    label: str
    target: str  # "pacta" | "alertmanager"
    url: str
    connections: int
    threads: int
    batch: int
    rate: float  # requested requests/s; 0 = closed loop
    duration_s: float = 0.0
    sent: int = 0  # requests written
    responses: int = 0
    ok: int = 0  # 2xx responses
    statuses: dict[str, int] = field(default_factory=dict)
    socket_errors: dict[str, int] = field(default_factory=dict)
    latency_ms: dict[str, float] = field(default_factory=dict)
    pacing: dict[str, float] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)
    server: dict[str, Any] = field(default_factory=dict)  # server-side figures (metrics, PG)
    landed: int | None = None  # events that reached Kafka during this run
    stdout: str = ""

    @property
    def requests_per_s(self) -> float:
        return self.ok / self.duration_s if self.duration_s else 0.0

    @property
    def events_per_s(self) -> float:
        return self.requests_per_s * self.batch

    @property
    def acked_events(self) -> int:
        return self.ok * self.batch

    @property
    def in_flight_events(self) -> int:
        """Events of requests written but unanswered when wrk stopped: they may or may not land."""
        return max(0, self.sent - self.responses) * self.batch

    @property
    def server_cpu_us_per_event(self) -> float | None:
        """CPU the server process spent per acknowledged event: robust to other load on the
        box, unlike the rate."""
        name = {"pacta": "ingest"}.get(self.target, self.target)
        if name not in self.cpu or not self.acked_events:
            return None
        return self.cpu[name] / 100 * self.cpu["window_s"] / self.acked_events * 1e6

    @property
    def failed_events(self) -> int:
        """Events of requests answered 5xx (not acknowledged, but possibly on Kafka)."""
        return sum(v for k, v in self.statuses.items() if k.startswith("5")) * self.batch

    @property
    def non_2xx(self) -> int:
        return self.responses - self.ok

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("stdout")
        d.update(
            requests_per_s=round(self.requests_per_s, 1),
            events_per_s=round(self.events_per_s, 1),
            acked_events=self.acked_events,
            in_flight_events=self.in_flight_events,
            non_2xx=self.non_2xx,
            server_cpu_us_per_event=self.server_cpu_us_per_event,
        )
        return d


def wrk_version() -> str:
    try:
        out = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    lines = (out.stdout + out.stderr).splitlines()
    return lines[0].split(" Copyright")[0] if lines else "unknown"


async def run_wrk(
    run: WrkRun, *, duration: float, env: dict[str, str], timeout_s: float = 5.0
) -> WrkRun:
    """Run wrk once and fill `run` from its output; raise if wrk fails or overruns."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is missing: run `bash deploy/local/tools.sh`")
    argv = [
        "wrk",
        f"-t{run.threads}",
        f"-c{run.connections}",
        f"-d{max(1, round(duration))}s",
        f"--timeout={timeout_s:g}s",
        "--latency",
        "-s",
        str(LUA),
        run.url,
    ]
    full_env = {
        **env,
        "BENCH_TARGET": run.target,
        "BENCH_BATCH": str(run.batch),
        "BENCH_RATE": f"{run.rate:g}",
        "BENCH_THREADS": str(run.threads),
    }
    proc = await asyncio.create_subprocess_exec(
        *with_parent(argv),
        env={**os.environ, **full_env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        stdin=asyncio.subprocess.DEVNULL,
    )
    try:
        async with asyncio.timeout(duration + 30):
            out, _ = await proc.communicate()
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    text = out.decode(errors="replace")
    run.stdout = text
    line = next((ln for ln in text.splitlines() if ln.startswith("BENCHJSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed (exit {proc.returncode}):\n{text[-2000:]}")
    data = json.loads(line.removeprefix("BENCHJSON "))
    run.duration_s = data["duration_us"] / 1e6
    run.responses = int(data["responses"])
    run.sent = int(data["sent"])
    run.statuses = {k: int(v) for k, v in sorted(data["statuses"].items())}
    run.ok = sum(v for k, v in run.statuses.items() if k.startswith("2"))
    run.socket_errors = {k: int(v) for k, v in data["errors"].items() if k != "status"}
    lat = data["latency_us"]
    run.latency_ms = {
        "mean": lat["mean"] / 1000,
        "stdev": lat["stdev"] / 1000,
        "max": lat["max"] / 1000,
        **{f"p{k}": v / 1000 for k, v in lat["percentiles"].items()},
    }
    run.latency_ms = {k: round(v, 3) for k, v in run.latency_ms.items()}
    samples = data.get("error_samples") or []  # load.lua encodes its list as {"1": ...}
    run.error_samples = list(samples.values() if isinstance(samples, dict) else samples)
    if run.rate:
        p = data["pacing"]
        slots = max(1, int(p["slots"]))
        run.pacing = {
            "slots": slots,
            "late_1ms_pct": round(100.0 * p["late_1ms"] / slots, 3),
            "late_5ms_pct": round(100.0 * p["late_5ms"] / slots, 3),
            "lag_max_ms": round(p["lag_max_s"] * 1000, 2),
            "lag_mean_ms": round(p["lag_sum_s"] * 1000 / slots, 4),
        }
    return run
