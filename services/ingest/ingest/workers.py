"""Several ingest processes on one port (PACTA_INGEST_WORKERS): uvicorn's worker supervisor.

The parent binds the port once and starts N workers that share the socket (the kernel hands
each new connection to one of them); it restarts a worker that dies. Each worker has its own
Kafka producer, PostgreSQL pool and recent-id set; PostgreSQL's claim makes dedup hold across
them. Prometheus counters are summed over the workers through prometheus_client's
multiprocess mode, so /metrics answers for the whole service whichever worker serves it, and the per-key rate limit holds for the
service as a whole (ratelimit.py).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import tempfile

import uvicorn
from fastapi import FastAPI

from ingest.app import SHARED_STATE_DIR
from ingest.settings import IngestSettings
from pacta.logs import configure_logging, get_logger
from pacta.serve import BOUNDED_HTTP

log = get_logger(__name__)
METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"
_PR_SET_PDEATHSIG = 1


def serve_workers(settings: IngestSettings, workers: int) -> None:
    """Run `workers` processes serving the ingest app on PACTA_INGEST_PORT; block until done."""
    configure_logging(settings.log_level, "ingest")
    shared = tempfile.mkdtemp(prefix="pacta-ingest-")
    os.environ[SHARED_STATE_DIR] = shared  # the workers' rate-limit buckets (app.py)
    own_dir = METRICS_DIR not in os.environ
    if own_dir:
        os.environ[METRICS_DIR] = tempfile.mkdtemp(prefix="pacta-ingest-metrics-")
    metrics_dir = os.environ[METRICS_DIR]
    if not own_dir:  # files of an earlier run would be summed into this one's counters
        for name in os.listdir(metrics_dir):
            if name.endswith(".db"):
                os.unlink(os.path.join(metrics_dir, name))
    log.info("ingest workers starting", workers=workers, port=settings.ingest_port)
    try:
        uvicorn.run(
            "ingest.workers:worker_app",
            factory=True,
            workers=workers,
            host=settings.host,
            port=settings.ingest_port,
            log_config=None,
            access_log=False,
            loop="uvloop",
            http=BOUNDED_HTTP,  # the request head bounded before parsing
            timeout_graceful_shutdown=10,
        )
    finally:
        shutil.rmtree(shared, ignore_errors=True)
        if own_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def worker_app() -> FastAPI:
    """The app of one worker process (uvicorn calls this in the child)."""
    _die_with_parent()
    from ingest.app import create_app

    settings = IngestSettings()
    configure_logging(settings.log_level, "ingest")
    log.info("ingest worker started", pid=os.getpid())
    return create_app(settings)


def _die_with_parent() -> None:
    """A worker gets SIGTERM (a graceful stop) when the supervisor dies, even by SIGKILL, so no
    orphan keeps serving the port after a crash of the parent."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
