"""End to end: several ingest workers on one port, crashes, restarts, and the dedup guarantees.

The ingest answers 202 only once Kafka acknowledged and the id's claim committed: these tests
kill workers and whole ingests mid-stream and check that every acknowledged event reached the
consumers once, that a retry of an acknowledged id is a duplicate after a restart, and that an
id whose claim failed is never remembered as seen.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from ingest.signatures import sign
from tests.support.client import INGEST_KEY, SLA_ENGINE_APPLIED, ago, poll_value, post
from tests.support.processes import ServiceProcess, wait_for

pytestmark = pytest.mark.e2e
MONITORING = "/v1/events/monitoring"


def event(tag: str, n: int | str) -> dict[str, Any]:
    return {
        "id": f"w-{tag}-{n}",
        "service": f"svc-{tag}-{n}",  # many keys: every partition gets traffic
        "check": "http_5xx",
        "status": "firing",
        "occurred_at": ago(minutes=1),
    }


def workers_of(pid: int) -> list[int]:
    """The uvicorn worker processes under the ingest's supervisor (not the resource tracker)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_bytes()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        if ppid == pid and b"spawn_main" in cmdline:
            out.append(int(entry))
    return sorted(out)


def established_inodes(port: int) -> set[str]:
    """Socket inodes of established TCP connections whose local port is `port`."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        local, state, inode = parts[1], parts[3], parts[9]
        if state == "01" and int(local.rsplit(":", 1)[1], 16) == port:
            inodes.add(inode)
    return inodes


def socket_inodes(pid: int) -> set[str]:
    out = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    out.add(target[8:-1])
    return out


@pytest.fixture
def two_workers(service_env: dict[str, str], log_dir: Path) -> Iterator[ServiceProcess]:
    ingest = ServiceProcess("ingest", {**service_env, "PACTA_INGEST_WORKERS": "2"}, log_dir)
    ingest.start()
    assert ingest.proc is not None
    pid = ingest.proc.pid
    wait_for("two ingest workers", lambda: len(workers_of(pid)) == 2, timeout=30)
    try:
        yield ingest
    finally:
        ingest.stop()


def test_two_workers_share_the_port_and_both_serve(two_workers: ServiceProcess) -> None:
    assert two_workers.proc is not None
    workers = workers_of(two_workers.proc.pid)
    serving: set[int] = set()

    def both_serve() -> bool:
        # kept-alive connections: the kernel hands each to one worker, which answers on it (a
        # worker still starting does not accept yet, so this polls until both do)
        conns = []
        try:
            for _ in range(16):
                s = socket.create_connection(("127.0.0.1", two_workers.port), timeout=10)
                conns.append(s)
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                assert s.recv(4096).startswith(b"HTTP/1.1 200"), "a worker did not answer"
            ours = established_inodes(two_workers.port)
            serving.update(w for w in workers if socket_inodes(w) & ours)
        finally:
            for s in conns:
                s.close()
        return serving == set(workers)

    wait_for(f"both workers {workers} to hold connections", both_serve, timeout=60, every=0.2)
    # and both answer events: a new id is accepted once, its retry is a duplicate
    tag = uuid.uuid4().hex[:8]
    bodies = [post(two_workers.url, MONITORING, event(tag, 1)).json() for _ in range(4)]
    assert [b["accepted"] for b in bodies] == [1, 0, 0, 0]
    assert [b["duplicates"] for b in bodies] == [0, 1, 1, 1]


async def test_kill_9_of_a_worker_mid_burst_loses_nothing_acknowledged(
    stack: dict[str, ServiceProcess], two_workers: ServiceProcess, db: asyncpg.Connection
) -> None:
    assert two_workers.proc is not None
    supervisor = two_workers.proc.pid
    victim = workers_of(supervisor)[0]
    tag = uuid.uuid4().hex[:8]
    acked: list[str] = []
    refused: list[str] = []
    lock = threading.Lock()

    def sender(thread: int) -> None:
        # each request is retried as a sender would until it is acknowledged
        with httpx.Client(headers={"Authorization": f"Bearer {INGEST_KEY}"}) as client:
            for n in range(40):
                batch = [event(tag, f"{thread}-{n}-{i}") for i in range(10)]
                for _ in range(50):
                    try:
                        r = client.post(two_workers.url + MONITORING, json=batch, timeout=10)
                    except httpx.HTTPError:
                        with lock:
                            refused.append(batch[0]["id"])
                        continue
                    if r.status_code == 202:
                        with lock:
                            acked.extend(r.json()["ids"])
                        break
                    with lock:
                        refused.append(batch[0]["id"])

    threads = [threading.Thread(target=sender, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    wait_for("a first part of the burst", lambda: len(acked) >= 400, timeout=60, every=0.01)
    os.kill(victim, signal.SIGKILL)  # a crash mid-burst: nothing of its shutdown runs
    for t in threads:
        await asyncio.to_thread(t.join, 120)
    assert len(set(acked)) == 1600, f"{len(set(acked))} of 1600 acknowledged"
    # the supervisor brought a new worker up in the killed one's place
    wait_for(
        "a replacement worker",
        lambda: len(w := workers_of(supervisor)) == 2 and victim not in w,
        timeout=30,
    )
    # every acknowledged event reached the engine exactly once, and reporting (which keeps no
    # monitoring ids, only the services they name: one service per event here)
    await poll_value(
        db,
        f"SELECT count(*) FROM {SLA_ENGINE_APPLIED} WHERE event_id = ANY($1::text[])",
        acked,
        expect=len(acked),
        timeout=120,
    )
    await poll_value(
        db,
        "SELECT count(*) FROM reporting.services WHERE service = ANY($1::text[])",
        [f"svc-{i.removeprefix('w-')}" for i in acked],
        expect=len(acked),
        timeout=120,
    )
    seen = await db.fetchval(
        "SELECT count(*) FROM ingest.seen_events WHERE event_id = ANY($1::text[])", acked
    )
    assert seen == len(acked)


async def test_a_retry_after_a_crash_and_restart_is_a_duplicate(
    stack: dict[str, ServiceProcess],
    service_env: dict[str, str],
    log_dir: Path,
    db: asyncpg.Connection,
) -> None:
    tag = uuid.uuid4().hex[:8]
    first = ServiceProcess("ingest", {**service_env, "PACTA_INGEST_WORKERS": "2"}, log_dir).start()
    assert first.proc is not None
    workers = workers_of(first.proc.pid)
    try:
        r = post(first.url, MONITORING, [event(tag, 1), event(tag, 2)])
        assert r.json() == {"accepted": 2, "duplicates": 0, "ids": [f"w-{tag}-1", f"w-{tag}-2"]}
    finally:
        for pid in [first.proc.pid, *workers]:  # all at once, right after the 202
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        first.proc.wait(10)
    again = ServiceProcess("ingest", {**service_env, "PACTA_INGEST_WORKERS": "2"}, log_dir).start()
    try:
        r = post(again.url, MONITORING, [event(tag, 1), event(tag, 2), event(tag, 3)])
        assert r.json() == {
            "accepted": 1,
            "duplicates": 2,
            "ids": [f"w-{tag}-1", f"w-{tag}-2", f"w-{tag}-3"],
        }
    finally:
        again.stop()
    for n in (1, 2, 3):
        await poll_value(
            db,
            f"SELECT count(*) FROM {SLA_ENGINE_APPLIED} WHERE event_id = $1",
            f"w-{tag}-{n}",
            expect=1,
        )


class Proxy:
    """A TCP relay to PostgreSQL that the test can cut: `cut()` drops every relayed connection
    and refuses new ones (nothing half-sent reaches the server), `mend()` relays again."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.open = threading.Event()
        self.open.set()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if not self.open.is_set():
                client.close()
                continue
            upstream = socket.create_connection(self.upstream)
            with self.lock:
                self.pairs.append((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.open.clear()
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for pair in pairs:
            for s in pair:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def mend(self) -> None:
        self.open.set()

    def close(self) -> None:
        self.cut()
        self.server.close()


async def test_an_id_whose_claim_failed_is_not_a_duplicate_on_retry(
    stack: dict[str, ServiceProcess],
    service_env: dict[str, str],
    log_dir: Path,
    db: asyncpg.Connection,
) -> None:
    """Kafka acknowledged, then PostgreSQL failed the claim: the answer is 503, and the retry
    is accepted as new (the worker's recent-id set never took the id), yet counted once."""
    url = httpx.URL(service_env["PACTA_DATABASE_URL"].replace("+asyncpg", ""))
    proxy = Proxy((url.host, url.port or 5432))
    proxied = service_env["PACTA_DATABASE_URL"].replace(
        f"{url.host}:{url.port or 5432}", f"127.0.0.1:{proxy.port}"
    )
    env = {
        **service_env,
        "PACTA_DATABASE_URL": proxied,
        "PACTA_INGEST_WORKERS": "1",  # one process: the retry meets the same recent-id set
        "PACTA_INGEST_PRODUCE_TIMEOUT": "2",
    }
    ingest = ServiceProcess("ingest", env, log_dir).start()
    tag = uuid.uuid4().hex[:8]
    try:
        assert post(ingest.url, MONITORING, event(tag, 0)).json()["accepted"] == 1
        proxy.cut()
        refused = post(ingest.url, MONITORING, event(tag, 1))
        assert refused.status_code == 503, refused.text
        assert int(refused.headers["Retry-After"]) >= 1
        proxy.mend()

        def accepted() -> httpx.Response | None:
            r = post(ingest.url, MONITORING, event(tag, 1))
            return r if r.status_code == 202 else None

        retried = wait_for("the ingest to accept again", accepted, timeout=60, every=0.5)
        assert retried.json() == {"accepted": 1, "duplicates": 0, "ids": [f"w-{tag}-1"]}
        again = post(ingest.url, MONITORING, event(tag, 1)).json()
        assert (again["accepted"], again["duplicates"]) == (0, 1)
    finally:
        ingest.stop()
        proxy.close()
    # on Kafka twice (the refused attempt's record landed), applied once (reporting keeps no
    # monitoring ids: it has the service the event names)
    await poll_value(
        db, f"SELECT count(*) FROM {SLA_ENGINE_APPLIED} WHERE event_id = $1", f"w-{tag}-1", expect=1
    )
    await poll_value(
        db, "SELECT count(*) FROM reporting.services WHERE service = $1", f"svc-{tag}-1", expect=1
    )


async def test_a_signed_request_replayed_after_a_restart_is_refused(
    service_env: dict[str, str], log_dir: Path
) -> None:
    """A used signature is recorded in PostgreSQL: neither the other worker nor a restarted
    ingest accepts it again within its window (the in-memory guard of each worker would)."""
    secret = "workers-signing-secret"
    env = {
        **service_env,
        "PACTA_INGEST_WORKERS": "2",
        "PACTA_INGEST_HMAC_SECRETS": f"{INGEST_KEY}:{secret}",
    }
    body = orjson.dumps(event(uuid.uuid4().hex[:8], 1))
    stamp = int(time.time())
    headers = {
        "Authorization": f"Bearer {INGEST_KEY}",
        "X-Pacta-Signature": sign(secret.encode(), stamp, body),
        "X-Pacta-Timestamp": str(stamp),
    }
    first = ServiceProcess("ingest", env, log_dir).start()
    try:
        assert httpx.post(first.url + MONITORING, content=body, headers=headers).status_code == 202
    finally:
        first.stop()
    again = ServiceProcess("ingest", env, log_dir).start()
    try:
        replay = httpx.post(again.url + MONITORING, content=body, headers=headers)
        assert replay.status_code == 401, replay.text
        assert "already used" in replay.json()["detail"]
    finally:
        again.stop()
