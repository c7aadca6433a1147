"""The alerting benchmark's two ends on plain asyncio streams: a paced HTTP/1.1 sender that
records when each request left, and a webhook collector that records when each body arrived.

Both live in the benchmark process and stamp `time.time()` (one clock for both ends). Neither
uses an HTTP library: httpx costs about a millisecond of CPU per request, which at 1,000
requests/s each way would be a core the services under test do not get.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Arrival:
    at: float  # wall time the whole body was read
    path: str
    idempotency_key: str
    body: bytes


async def _read_message(reader: asyncio.StreamReader) -> tuple[bytes, dict[str, str], bytes]:
    """One HTTP/1.1 message: (start line, lower-cased headers, body); Content-Length or chunked."""
    head = await reader.readuntil(b"\r\n\r\n")
    start, *lines = head[:-4].split(b"\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunks.append(await reader.readexactly(size + 2))
            if size == 0:
                break
        return start, headers, b"".join(c[:-2] for c in chunks)
    return start, headers, await reader.readexactly(int(headers.get("content-length", "0")))


@dataclass
class Collector:
    """A webhook receiver on 127.0.0.1: answers 200 to every POST, keeps each body unparsed
    (parsing waits until the run is over)."""

    arrivals: list[Arrival] = field(default_factory=list)
    server: asyncio.Server | None = None
    port: int = 0

    async def start(self) -> Collector:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=512)
        self.port = int(self.server.sockets[0].getsockname()[1])
        return self

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                start, headers, body = await _read_message(reader)
                at = time.time()
                path = start.split(b" ")[1].decode("latin-1") if b" " in start else ""
                self.arrivals.append(Arrival(at, path, headers.get("idempotency-key", ""), body))
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass  # the client closed its keep-alive connection
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 5)


@dataclass
class Sent:
    at: float  # wall time just before the request was written
    status: int = 0  # 0: no answer (connection error or cut off at the end)
    answered_ms: float = 0.0


@dataclass
class PacedRun:
    rate: float
    count: int
    sent: list[Sent] = field(default_factory=list)
    late_1ms: int = 0  # sends more than 1 ms behind their slot
    lag_max_ms: float = 0.0
    duration_s: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> int:
        return sum(1 for s in self.sent if 200 <= s.status < 300)

    @property
    def achieved_rate(self) -> float:
        return len(self.sent) / self.duration_s if self.duration_s else 0.0


async def paced_post(
    url: str,
    body: Callable[[int], bytes],
    *,
    rate: float,
    count: int,
    headers: dict[str, str],
    connections: int = 32,
) -> PacedRun:
    """POST body(k) for k in 0..count-1, request k due at t0 + k/rate (an absolute schedule, so
    a slow answer delays no later slot while a connection is free), over keep-alive
    connections. Each request's send time and status are recorded in `sent[k]`."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    head = f"POST {parts.path} HTTP/1.1\r\nHost: {host}:{port}\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in headers.items()
    )
    run = PacedRun(rate=rate, count=count, sent=[Sent(0.0) for _ in range(count)])
    next_slot = 0
    t0 = time.monotonic() + 0.05

    async def worker() -> None:
        nonlocal next_slot
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while next_slot < count:
                k = next_slot
                next_slot += 1
                wait = t0 + k / rate - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                elif -wait > 0.001:
                    run.late_1ms += 1
                    run.lag_max_ms = max(run.lag_max_ms, -wait * 1000)
                payload = body(k)
                msg = head.encode() + f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload
                run.sent[k].at = time.time()
                sent_mono = time.monotonic()
                writer.write(msg)
                start, _, _ = await _read_message(reader)
                run.sent[k].status = int(start.split(b" ")[1])
                run.sent[k].answered_ms = (time.monotonic() - sent_mono) * 1000
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    started = time.monotonic()
    results = await asyncio.gather(*(worker() for _ in range(connections)), return_exceptions=True)
    run.duration_s = time.monotonic() - started
    run.errors = [repr(r) for r in results if isinstance(r, BaseException)][:5]
    return run
