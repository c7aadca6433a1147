"""The stack's idle cost: each process's CPU with no events at all, over a long window.

    python -m bench.idle --seconds 30
    python -m bench.idle --seconds 30 --env PACTA_SOME_SETTING=value

The cost bench reads each process's idle CPU for 3 s before its load (a tick of 10 ms is a
third of a percent there); this starts the `make up` stack as the cost bench does (services.sh,
a database and topics of the run's own), lets it settle, and reads the same groups over a
longer window, with the broker's threads by name (its JIT, its request handlers, its timers).
The idle CPU is paid at every rate: at the cost bench's 1,000 events/s, 1 % of a core is 10 µs
per event.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from functools import partial

from bench.env import KAFKA, RetryingEnv
from bench.procs import CLK_TCK, CpuMeter, listener_pid, thread_ticks, wait_all_serving, wait_http
from bench.report import OUT_DIR, stamp
from bench.stack import Stack

SERVICES = {
    "ingest": "ingest",
    "sla-engine": "engine",
    "alerting": "alerting",
    "reporting": "reporting",
}


def _thread_names(pid: int) -> dict[int, str]:
    names = {}
    for tid in thread_ticks(pid):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{tid}/comm") as f:
            names[tid] = re.sub(r"\d+", "N", f.read().strip())
    return names


async def main(seconds: float, settle: float, extra: tuple[tuple[str, str], ...]) -> None:
    async with RetryingEnv() as env:
        stack = Stack(OUT_DIR / "logs" / f"idle-{stamp()}", env.service_env(), extra)
        try:
            await asyncio.to_thread(stack.start)
            await asyncio.to_thread(wait_http, stack.ingest_url + "/readyz", 60)
            await asyncio.to_thread(
                wait_all_serving, stack.ports["INGEST"], lambda: stack.pids("ingest"), 60
            )
            kafka_pid = listener_pid(int(KAFKA.rsplit(":", 1)[1]))
            groups: dict[str, Callable[[], Iterable[int]]] = {
                g: partial(stack.pids, s) for s, g in SERVICES.items()
            }
            groups["kafka"] = lambda: [kafka_pid] if kafka_pid else []
            groups["postgres (this database)"] = CpuMeter.backends_of(env.db_name)
            groups["postgres (all)"] = CpuMeter.postgres_pids
            await asyncio.sleep(settle)
            meter = CpuMeter(groups)
            threads0 = thread_ticks(kafka_pid) if kafka_pid else {}
            t0 = time.monotonic()
            meter.start()
            await asyncio.sleep(seconds)
            cpu = meter.stop()
            wall = time.monotonic() - t0
            threads1 = thread_ticks(kafka_pid) if kafka_pid else {}
        finally:
            await asyncio.to_thread(stack.stop)
    print(f"idle over {seconds:.0f} s (after {settle:.0f} s settling); load {_load()}")
    print(f"{'process':26s} {'% of a core':>11s} {'us/event at 1,000/s':>20s}")
    for g in groups:
        print(f"{g:26s} {cpu[g]:11.2f} {cpu[g] * 10:20.1f}")
    print(f"{'machine (both cores)':26s} {cpu['machine_busy']:11.2f}")
    if kafka_pid:
        names = _thread_names(kafka_pid)
        by_name: Counter[str] = Counter()
        for tid, ticks in threads1.items():
            by_name[names.get(tid, "?")] += ticks - threads0.get(tid, 0)
        print("broker threads (% of a core):")
        for name, ticks in by_name.most_common(12):
            if ticks:
                print(f"  {name:28s} {100 * ticks / CLK_TCK / wall:6.2f}")


def _load() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def cli() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.idle", description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=30.0, help="the measured window")
    p.add_argument("--settle", type=float, default=15.0, help="seconds after the stack is ready")
    p.add_argument("--env", action="append", default=[], help="KEY=VALUE for the services")
    a = p.parse_args()
    extra = tuple((k, v) for k, _, v in (kv.partition("=") for kv in a.env))
    asyncio.run(main(a.seconds, a.settle, extra))


if __name__ == "__main__":
    cli()
