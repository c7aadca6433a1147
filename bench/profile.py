"""Where the ingest's CPU goes: py-spy samples of the running service, grouped by component.

py-spy is pinned in the workspace's dev dependencies (`make setup` puts it in the venv) for
`python -m bench --profile`. Samples are taken with --nonblocking (the service is not
paused), 100 times a second, idle time excluded, so the sample count over the window also says
how busy the service's one thread was.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.procs import with_parent
from bench.report import table

RATE = 100

# Every sample goes to exactly one component. First, the first rule (in this order) with a
# marker anywhere in the stack wins: a sample inside claim_ids is "PG dedup" however deep.
# Samples no rule claims go by their innermost frame's package (LEAF below).
RULES: list[tuple[str, tuple[str, ...]]] = [
    (
        "PG: TLS to PostgreSQL (ssl.py encrypt/decrypt; libpq's sslmode=prefer default)",
        ("(ssl.py:",),
    ),
    (
        "PG: new connections (TCP + TLS handshake + auth, close)",
        (
            "connect_utils.py",
            "Connection.close (asyncpg",
            "do_handshake (ssl",
            "SSLContext",
            "__connect (sqlalchemy/pool",
            "_ConnectionRecord.__init__",
        ),
    ),
    (
        "PG: pool_pre_ping (BEGIN; ';'; ROLLBACK on every checkout)",
        (
            "_async_ping (",
            "_do_ping",
            "do_ping (sqlalchemy",
        ),
    ),
    ("PG: dedup INSERT ... ON CONFLICT (claim_ids, incl. its BEGIN)", ("claim_ids (",)),
    (
        "PG: COMMIT / ROLLBACK and returning the connection",
        (
            "commit (",
            "rollback (",
            "_finalize_fairy",
            "_checkin",
            "AsyncConnection.close",
        ),
    ),
    (
        "PG: engine.begin / pool checkout / other driver work",
        (
            "sqlalchemy/",
            "asyncpg/",
            "AsyncEngine.begin",
        ),
    ),
    ("event -> Kafka record (to_record, model_dump_json, headers)", ("to_record (",)),
    (
        "Kafka: produce (send_all, aiokafka batching, sender, acks)",
        (
            "send_all (",
            "publish (ingest",
            "aiokafka/",
        ),
    ),
    ("parse + validate (orjson.loads, pydantic TypeAdapter)", ("parse_events (",)),
    (
        "auth: sync dependency run in anyio's thread pool (hop + key check)",
        (
            "authenticate (",
            "_ingester (",
            "run_in_threadpool",
            "WorkerThread",
            "to_thread",
        ),
    ),
    ("signature check", ("signature", "SignatureGuard")),
    (
        "logging (structlog; log.info runs its processors even at WARNING)",
        (
            "structlog/",
            "logging/__init__",
        ),
    ),
    ("metrics (prometheus_client counters and histograms)", ("prometheus_client/",)),
    ("with_identity (model_copy per event)", ("with_identity (",)),
]
LEAF: list[tuple[str, tuple[str, ...]]] = [
    (
        "FastAPI's telemetry middleware (OpenTelemetry lookups per request)",
        ("fastapi/telemetry", "opentelemetry", "trace/__init__.py"),
    ),
    (
        "BaseHTTPMiddleware (@app.middleware timer) + anyio task/stream plumbing",
        (
            "starlette/middleware/base.py",
            "anyio/",
        ),
    ),
    ("middlewares' own code (BodyLimit, request timer)", ("pacta/web.py",)),
    ("FastAPI / Starlette routing, request and response objects", ("fastapi/", "starlette/")),
    ("uvicorn + httptools (HTTP parsing, response writes)", ("uvicorn/", "h11")),
    ("ingest handler's own code", ("ingest/",)),
    (
        "event loop (uvloop in C: socket syscalls, scheduling, callbacks)",
        (
            "asyncio/",
            "Runner.run",
            "uvloop",
        ),
    ),
]
NO_FRAME = "no Python frame (native code, GC)"

_FRAME = re.compile(r"^(?P<func>.+?) \((?P<file>[^()]*?):(?P<line>\d+)\)$")


@dataclass
class Sampler:
    proc: asyncio.subprocess.Process
    out: Path
    duration: float


def py_spy() -> str | None:
    """$PACTA_BENCH_PY_SPY, else the venv's (a dev dependency), else PATH's."""
    named = os.environ.get("PACTA_BENCH_PY_SPY")
    if named:
        return named
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


async def start(pid: int, out: Path, duration: float) -> Sampler | None:
    exe = py_spy()
    if exe is None:
        return None
    raw = out.with_suffix(".collapsed.txt")
    raw.parent.mkdir(parents=True, exist_ok=True)
    proc = await asyncio.create_subprocess_exec(
        *with_parent(
            [
                exe,
                "record",
                "-p",
                str(pid),
                "-d",
                str(int(duration + 0.999)),
                "-r",
                str(RATE),
                "--nonblocking",
                "--subprocesses",  # the ingest's workers
                "-f",
                "raw",
                "-o",
                str(raw),
            ]
        ),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        stdin=asyncio.subprocess.DEVNULL,
    )
    await asyncio.sleep(0.5)  # attach before the load starts
    return Sampler(proc, raw, duration)


async def finish(sampler: Sampler) -> Path:
    try:
        async with asyncio.timeout(sampler.duration + 30):
            out, _ = await sampler.proc.communicate()
    finally:
        if sampler.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                sampler.proc.kill()
            await sampler.proc.wait()
    if not sampler.out.exists():
        raise RuntimeError(f"py-spy wrote nothing: {out.decode(errors='replace')[-1000:]}")
    return sampler.out


def _short(frame: str) -> str:
    m = _FRAME.match(frame)
    if not m:
        return frame
    file = m["file"]
    for marker in ("site-packages/", "/shared/", "/services/ingest/", "/lib/python3.11/"):
        if marker in file:
            file = file.split(marker, 1)[1]
            break
    return f"{m['func']} ({file}:{m['line']})"


def classify(frames: list[str]) -> str:
    for name, markers in RULES:
        if any(m in f for f in frames for m in markers):
            return name
    for frame in reversed(frames):
        for name, markers in LEAF:
            if any(m in frame for m in markers):
                return name
    return NO_FRAME if not any(frames) else "other: " + frames[-1]


def summarise(raw: Path, out: Path) -> dict[str, Any]:
    """Group py-spy's collapsed stacks into components (RULES, LEAF) and the hottest frames."""
    stacks: list[tuple[list[str], int]] = []
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = [_short(f) for f in stack.split(";")]
        stacks.append((frames, int(count)))
    # Worker threads (anyio's pool, where FastAPI runs sync dependencies) mostly sleep; with
    # --nonblocking py-spy often samples them as busy, so they are counted apart from the
    # event-loop thread, whose samples are the ones that decide throughput.
    workers = sum(n for frames, n in stacks if frames and frames[0].startswith("Thread._bootstrap"))
    stacks = [(f, n) for f, n in stacks if not (f and f[0].startswith("Thread._bootstrap"))]
    total = sum(n for _, n in stacks) or 1
    components: Counter[str] = Counter()
    for frames, n in stacks:
        components[classify(frames)] += n
    self_frames: Counter[str] = Counter()
    for frames, n in stacks:
        self_frames[frames[-1] or NO_FRAME] += n
    out_path = out.with_suffix(".summary.txt")
    summary = {
        "samples": total,
        "worker_thread_samples": workers,
        "rate_hz": RATE,
        "collapsed": str(raw),
        "components_pct": {k: round(100 * v / total, 1) for k, v in components.most_common()},
        "top_self_pct": {k: round(100 * v / total, 1) for k, v in self_frames.most_common(25)},
        "summary_file": str(out_path),
    }
    out_path.write_text(render(summary) + "\n")
    return summary


def render(summary: dict[str, Any]) -> str:
    inc = [[k, f"{v:.1f}%"] for k, v in summary["components_pct"].items()]
    top = [[k, f"{v:.1f}%"] for k, v in summary["top_self_pct"].items()]
    run = summary.get("run") or {}
    threads = run.get("ingest_cpu_pct") or {}
    head = []
    if run:
        head = [
            f"Profiled run {run.get('label')}: {run.get('events_per_s')} events/s, ingest "
            f"event-loop thread {threads.get('main_thread')}% of a core, other threads "
            f"{threads.get('other_threads')}%, {run.get('server_cpu_us_per_event') or 0:.0f} "
            "CPU us per event",
        ]
    return "\n".join(
        [
            *head,
            f"Ingest CPU profile of the event-loop thread: {summary['samples']} samples at "
            f"{summary['rate_hz']} Hz (py-spy, idle excluded; {summary['worker_thread_samples']} "
            f"more from worker threads left out; stacks in {summary['collapsed']})",
            "",
            table(["component (each sample counted once)", "% of samples"], inc),
            "",
            table(["hottest frames (self)", "% of samples"], top),
        ]
    )


def save(summary: dict[str, Any]) -> str:
    """Write the rendered summary next to the stacks; return it."""
    text = render(summary)
    Path(summary["summary_file"]).write_text(text + "\n")
    return text
