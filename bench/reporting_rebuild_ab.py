"""The rebuild by replay, A against B: one stream produced once, then rebuilt by each given
version of `reporting/rebuild.py` in turn, several rounds, in one process; for each run its wall
time, the process's CPU and its PostgreSQL backends' CPU per record, the time the process sat
idle (waiting on PostgreSQL or Kafka) and the read model's digest (equal for every version).

    python -m bench.reporting_rebuild_ab --events 100000 --rounds 3 /tmp/base.py \
        services/reporting/reporting/rebuild.py

Records nothing in bench/results.json: it compares code, on whatever box it runs.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import time
from collections.abc import Awaitable, Callable
from typing import cast

from bench.env import BenchEnv, RetryingEnv
from bench.reporting_rebuild import LIVE, READ_MODEL, _watch_backends, digest
from bench.reporting_scale import _run_queue_s, _settings, produce_stream, rebuild_cpu_s
from reporting.settings import ReportingSettings

Rebuild = Callable[[ReportingSettings, str], Awaitable[int]]


def _load(path: str, n: int) -> Rebuild:
    spec = importlib.util.spec_from_file_location(f"reporting.rebuild_ab{n}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return cast(Rebuild, module.rebuild)


async def _one(env: BenchEnv, fn: Rebuild) -> str:
    seen: dict[int, int] = {}
    watch = asyncio.create_task(_watch_backends(env, seen))
    load = os.getloadavg()[0]
    started, cpu, waited = time.perf_counter(), rebuild_cpu_s(), _run_queue_s()
    own = time.process_time()
    try:
        records = await fn(_settings(env), LIVE)
    finally:
        watch.cancel()
    seconds, cpu = time.perf_counter() - started, rebuild_cpu_s() - cpu
    own = time.process_time() - own  # this process's alone: the idle time is its own
    waited = _run_queue_s() - waited
    pg = sum(seen.values()) / os.sysconf("SC_CLK_TCK")
    d = await digest(env, tables=READ_MODEL[:-1])
    return (
        f"{records / seconds:>8,.0f} records/s ({20_000_000 / records * seconds / 60:5.1f} min "
        f"for 20 M records), rebuild {cpu / records * 1e6:5.1f}, PostgreSQL "
        f"{pg / records * 1e6:5.1f} µs CPU/record, idle {seconds - own - waited:5.1f} s, "
        f"waiting for a core {waited:5.1f} s of {seconds:5.1f} s; digest {d}; load {load:.2f}"
    )


async def run(events: int, rounds: int, paths: list[str]) -> None:
    versions = [_load(p, n) for n, p in enumerate(paths)]
    async with RetryingEnv() as env:
        await produce_stream(env, events)
        for r in range(rounds):
            for path, fn in zip(paths, versions, strict=True):
                print(f"round {r} {path}: {await _one(env, fn)}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("paths", nargs="+")
    args = p.parse_args()
    asyncio.run(run(args.events, args.rounds, args.paths))


if __name__ == "__main__":
    main()
