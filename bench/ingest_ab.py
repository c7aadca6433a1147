"""Alternate ingest variants on one box: the ingest alone (one worker), paced single events and
batches of 100 at 1,000 events/s, and a closed loop of 16 connections; each variant's CPU per
acknowledged event and the server's mean time per request.

    .venv/bin/python -m bench.ingest_ab --variant base=/tmp/base --variant new= --rounds 2

A variant is a directory put first on PYTHONPATH (holding an `ingest` package: another
version's `services/ingest`), or empty for this worktree's, then optional `|KEY=VALUE`
settings for its process (`new=|PACTA_INGEST_CYCLE_WAIT_MS=8`). Every variant runs in every
round, in turn, against one database and one topic prefix, so they share the box's conditions.
`--module bench.ingest_stub` runs each with its produce-and-claim cycle stubbed (the HTTP
path's own cost).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from bench import profile
from bench.env import API_KEY, BenchEnv
from bench.ingest import _delta, _iso_now, _scrape
from bench.procs import CpuMeter, Proc, family, free_port, wait_http
from bench.wrk import WrkRun, run_wrk

SHAPES = {
    "single": (16, 1, 1000.0),
    "batch100": (4, 100, 10.0),
    "closed16": (16, 1, 0.0),
    "closedbatch": (4, 100, 0.0),
}


async def measure(
    variant: str,
    path: str,
    shape: str,
    env: BenchEnv,
    secs: float,
    profiled: bool,
    module: str = "ingest",
) -> dict[str, Any]:
    conns, batch, rate = SHAPES[shape]
    port = free_port()
    path, *settings = path.split("|")
    extra = dict(kv.split("=", 1) for kv in settings)
    if path:
        extra["PYTHONPATH"] = path
    proc = Proc(
        f"ingest-{variant}",
        [sys.executable, "-m", module],
        Path(f"/tmp/ab/ingest-{variant}.log"),
        {**env.service_env(), **extra, "PACTA_INGEST_WORKERS": "1", "PACTA_INGEST_PORT": str(port)},
    ).start()
    url = f"http://127.0.0.1:{port}"
    try:
        await asyncio.to_thread(wait_http, url + "/readyz", 60, proc)
        meter = CpuMeter({"ingest": lambda: family(proc.pid)})
        run = WrkRun(
            label=shape,
            target="pacta",
            url=url + "/v1/events/monitoring",
            connections=conns,
            threads=1,
            batch=batch,
            rate=rate,
        )
        wenv = {
            "BENCH_PREFIX": f"{env.rand}{variant}{shape}",
            "BENCH_OCCURRED": _iso_now(),
            "BENCH_TOKEN": API_KEY,
        }
        await run_wrk(
            WrkRun(
                label="w",
                target="pacta",
                url=run.url,
                connections=conns,
                threads=1,
                batch=batch,
                rate=rate,
            ),
            duration=2,
            env={**wenv, "BENCH_PREFIX": wenv["BENCH_PREFIX"] + "w"},
        )
        topic = env.monitoring_topic
        m0 = await asyncio.to_thread(_scrape, url, topic)
        load = os.getloadavg()[0]
        raw = Path(f"/tmp/ab/profile-{variant}-{shape}")
        sampler = await profile.start(proc.pid, raw, secs) if profiled else None
        perf = None
        if os.environ.get("AB_PERF"):
            perf = await asyncio.create_subprocess_exec(
                "perf",
                "record",
                "-g",
                "-o",
                f"/tmp/ab/perf-{variant}-{shape}.data",
                "-p",
                str(proc.pid),
                "--",
                "sleep",
                str(secs - 1),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
        meter.start()
        await run_wrk(run, duration=secs, env=wenv)
        cpu = meter.stop()
        if perf is not None:
            await perf.wait()
        if sampler is not None:
            profile.summarise(await profile.finish(sampler), raw)
        m1 = await asyncio.to_thread(_scrape, url, topic)
        http, claim, produce = (_delta(m0[k], m1[k]) for k in ("http", "claim", "produce"))
        ev = max(1, run.acked_events)
        return {
            "variant": variant,
            "shape": shape,
            "events_per_s": round(run.events_per_s),
            "us_per_event": round(cpu["ingest"] / 100 * cpu["window_s"] / ev * 1e6, 1),
            "p99_ms": run.latency_ms.get("p99"),
            "srv_ms": http.get("mean_ms"),
            "kafka_ms": produce.get("mean_ms"),
            "claim_ms": claim.get("mean_ms"),
            "claims": claim.get("count"),
            "non2xx": run.non_2xx,
            "load": round(load, 2),
        }
    finally:
        proc.stop()


async def main(args: argparse.Namespace) -> None:
    variants = [v.split("=", 1) for v in args.variant]
    rows = []
    async with BenchEnv() as env:
        for _ in range(args.rounds):
            for shape in args.shapes.split(","):
                for name, path in variants:
                    row = await measure(
                        name, path, shape, env, args.duration, args.profile, args.module
                    )
                    rows.append(row)
                    print(" ".join(f"{k}={v}" for k, v in row.items()), flush=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--variant", action="append", required=True, help="name=PYTHONPATH dir")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--duration", type=float, default=8.0)
    p.add_argument("--shapes", default="single,batch100,closed16")
    p.add_argument("--profile", action="store_true", help="py-spy each run: /tmp/ab/profile-*")
    p.add_argument(
        "--module",
        default="ingest",
        help="run as the ingest (python -m MODULE); bench.ingest_stub: the cycle stubbed",
    )
    asyncio.run(main(p.parse_args()))
