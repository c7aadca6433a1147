"""`python -m bench` (`make bench`): run the benchmarks against their targets and print PASS/MISS.

    python -m bench                       # every benchmark
    python -m bench --only ingest --duration 10
    python -m bench --only ingest --profile   # + py-spy profiles of the ingest (needs py-spy)
    python -m bench --only engine
    python -m bench --only alerting       # event in -> webhook out, next to Alertmanager
    python -m bench --only drain          # breach signals/s through one alerting instance
    python -m bench --only cost           # CPU per event of every process, at 1,000 events/s

Needs Kafka and PostgreSQL up (`make setup`) and wrk + prometheus-alertmanager
(`bash deploy/local/tools.sh`). Results: a table on stdout, the details as JSON in var/bench/, each service level's latest
figure in bench/results.json and the table at the top of docs/benchmarks.md (`python -m bench.render`).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

from bench import alerting, cost, drain, engine, ingest, reporting
from pacta.logs import configure_logging

RERUN = (
    "Re-run: `make bench`, or one phase: `.venv/bin/python -m bench --only ingest --duration 10` "
    "(add --profile for py-spy profiles), `--only engine`, `--only cost`, `--only drain`, "
    "`--only alerting`; figures in bench/results.json, table in docs/benchmarks.md"
)


def _ingest(args: argparse.Namespace) -> Awaitable[dict[str, Any]]:
    opts = ingest.Options(
        duration=args.duration,
        single_connections=tuple(args.connections),
        batch_connections=args.batch_connections,
        paced_rate=args.rate,
        alertmanager=not args.no_alertmanager,
        profile=args.profile,
        quiet_wait=args.quiet_wait,
        ingest_module=args.ingest_module,
        ingest_env=tuple(tuple(kv.split("=", 1)) for kv in args.ingest_env),
        database_query=args.database_query,
        shapes=tuple(args.shapes.split(",")),
    )
    return ingest.run(opts)


BENCHMARKS: dict[str, Callable[[argparse.Namespace], Awaitable[dict[str, Any]]]] = {
    "ingest": _ingest,
    "engine": engine.from_args,
    "reporting": reporting.from_args,
    "alerting": alerting.from_args,
    "drain": drain.from_args,
    "cost": cost.from_args,
}


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    p.add_argument("--only", action="append", choices=sorted(BENCHMARKS), help="run only this")
    p.add_argument("--duration", type=float, default=10.0, help="seconds per measured run")
    p.add_argument(
        "--connections",
        type=int,
        nargs="+",
        default=[16, 32, 64],
        help="connections of the closed-loop single-event runs",
    )
    p.add_argument("--batch-connections", type=int, default=8)
    p.add_argument(
        "--alerting-mode",
        choices=("storm", "latency"),
        default="storm",
        help="alerting: the alert storm (deadline -> webhook) or POST -> webhook of due breaches",
    )
    p.add_argument(
        "--no-cost-profile", action="store_true", help="the cost phase without py-spy profiles"
    )
    p.add_argument(
        "--drain-signals", type=int, default=50_000, help="breach signals of the drain phase"
    )
    p.add_argument("--rate", type=float, default=5000.0, help="requests/s of the paced run")
    p.add_argument(
        "--shapes",
        default="single,batch,paced,stack",
        help="which load shapes (comma-separated); stack = the make-up stack next to "
        "Alertmanager, 16 connections (issue 9)",
    )
    p.add_argument("--no-alertmanager", action="store_true", help="skip the comparison")
    p.add_argument("--profile", action="store_true", help="also profile the ingest with py-spy")
    p.add_argument(
        "--quiet-wait",
        type=float,
        default=120.0,
        help="seconds to wait, before each run, for other work on the machine to stop",
    )
    what_if = p.add_argument_group("what-if runs (compare a configuration; see docs)")
    what_if.add_argument(
        "--ingest-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for the ingest process, e.g. PACTA_INGEST_PRODUCE_TIMEOUT=5",
    )
    what_if.add_argument(
        "--database-query",
        default="",
        metavar="QUERY",
        help="appended to the ingest's database URL, e.g. ssl=disable",
    )
    what_if.add_argument(
        "--ingest-module", default="ingest", help="module run as the ingest (python -m MODULE)"
    )
    args = p.parse_args(argv)
    if not 1 <= args.duration <= 300:
        p.error("--duration must be between 1 and 300 seconds")
    if not set(args.shapes.split(",")) <= {"single", "batch", "paced", "stack"}:
        p.error("--shapes takes a comma list of single, batch, paced, stack")
    if any("=" not in kv for kv in args.ingest_env):
        p.error("--ingest-env takes KEY=VALUE")
    return args


async def _main(args: argparse.Namespace) -> int:
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    failed = False
    # Everything is bounded: a run that hangs past this budget is cancelled and cleaned up.
    runs = 17 + 2 * len(args.connections) + (2 if args.profile else 0)
    budget = runs * (args.duration + args.quiet_wait + 20) + 240 + engine.BUDGET_S
    budget += reporting.BUDGET_S + alerting.BUDGET_S + drain.BUDGET_S
    budget += cost.BUDGET_S
    async with asyncio.timeout(budget):
        for name in args.only or sorted(BENCHMARKS):
            print(f"[bench] {name}: {args.duration:g} s per run", flush=True)
            result = await BENCHMARKS[name](args)
            failed |= bool(result.get("problems"))
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    configure_logging("WARNING", "bench")
    try:
        code = asyncio.run(_main(args))
    except (asyncio.CancelledError, KeyboardInterrupt):
        print("[bench] interrupted; processes stopped and the database dropped", file=sys.stderr)
        code = 130
    except TimeoutError:
        traceback.print_exc()
        print("[bench] a step overran its time limit; cleaned up", file=sys.stderr)
        code = 124
    print(RERUN)
    return code


if __name__ == "__main__":
    sys.exit(main())
