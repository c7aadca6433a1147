"""A webhook receiver in a process of its own, so that receiving is never what a benchmark measures.

    python -m bench.receiver PORT

Plain asyncio streams on uvloop, HTTP/1.1 keep-alive: every POST is answered 200 at once and its
body kept unparsed with the wall time it was read. `GET /count` answers how many bodies arrived
(cheap, for polling during a run); `GET /dump?from=N` answers the arrivals from the N-th on as
JSON `[[at, path, idempotency_key, body], ...]` (after the run). `Receiver` starts it as a
child and reads it back as `bench.alerting_http.Arrival`s.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson

from bench.alerting_http import Arrival, _read_message
from bench.procs import Proc, free_port


class _Server:
    def __init__(self) -> None:
        self.arrivals: list[tuple[float, str, str, bytes]] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                start, headers, body = await _read_message(reader)
                at = time.time()
                method, _, rest = start.decode("latin-1").partition(" ")
                target = rest.split(" ", 1)[0]
                if method == "GET":
                    writer.write(self._answer(target))
                else:
                    self.arrivals.append((at, target, headers.get("idempotency-key", ""), body))
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

    def _answer(self, target: str) -> bytes:
        if target == "/count":
            body = str(len(self.arrivals)).encode()
        elif target.startswith("/dump"):
            first = int(target.partition("from=")[2] or 0)
            body = orjson.dumps(
                [(at, p, key, b.decode()) for at, p, key, b in self.arrivals[first:]]
            )
        else:
            body = b"ok"
        return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


async def _main(port: int) -> None:
    server = await asyncio.start_server(_Server().serve, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


@dataclass
class Receiver:
    """The receiver as a child process of the benchmark, on a free port."""

    log_path: Path
    port: int = field(default_factory=free_port)
    proc: Proc | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> Receiver:
        self.proc = Proc(
            "receiver", [sys.executable, "-m", "bench.receiver", str(self.port)], self.log_path
        ).start()
        self.proc.wait_http(self.url("/count"), 30)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def count(self) -> int:
        async with httpx.AsyncClient(timeout=10) as http:
            return int((await http.get(self.url("/count"))).text)

    async def arrivals(self, first: int = 0) -> list[Arrival]:
        async with httpx.AsyncClient(timeout=60) as http:
            raw = orjson.loads((await http.get(self.url(f"/dump?from={first}"))).content)
        return [Arrival(at, path, key, body.encode()) for at, path, key, body in raw]

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()


def main() -> None:
    port = int(sys.argv[1])
    try:
        import uvloop
    except ImportError:  # plain asyncio is slower, still its own core
        asyncio.run(_main(port))
        return
    uvloop.run(_main(port))


if __name__ == "__main__":
    main()
