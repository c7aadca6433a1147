"""Run a service's app under uvicorn with Pacta's JSON logging (one worker per process), and
the HTTP protocol that bounds a request's head before anything reads it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, cast

import orjson
import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from pacta.logs import configure_logging, get_logger
from pacta.settings import CommonSettings

log = get_logger(__name__)
MAX_HEAD_BYTES = 64 * 1024
"""The request line and every header of one request, in all (431 above)."""
LINGER_S = 1.0
"""How long a refused connection is drained before it closes: closing a socket with unread
bytes resets it, and the reset can destroy the 431 before the client reads it."""


HOLD_BYTES = 64 * 1024
"""Writes of one event-loop turn held for one `send`, at most."""


class ActiveConnections:
    """Counts the HTTP connections of this process that started a request within the last
    second or two. Without pipelining, each carries at most one request at a time: a service
    that sees every such connection waiting on it knows no new request is about to arrive
    (a closed loop of clients, or one client alone). Connections idle longer (a keep-alive
    pool, a metrics scraper) are not counted; the count is an estimate, exact for a steady
    set of clients."""

    __slots__ = ("_clock", "_current", "_previous", "_second")

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._second, self._current, self._previous = 0, 0, 0

    def mark(self, connection: BoundedHttpToolsProtocol) -> None:
        """`connection` starts a request now."""
        second = self._roll()
        if connection._active_second != second:
            connection._active_second = second
            self._current += 1

    def count(self) -> int:
        """Connections that started a request in this second or the last (0: none seen, e.g.
        under a test client that does not use this protocol)."""
        self._roll()
        return max(self._current, self._previous)

    def _roll(self) -> int:
        second = int(self._clock())
        if second != self._second:
            self._previous = self._current if second == self._second + 1 else 0
            self._current, self._second = 0, second
        return second


ACTIVE = ActiveConnections()
"""This process's connections served by `BoundedHttpToolsProtocol`."""


def active_connections() -> int:
    """`ACTIVE.count()`: connections that started a request within the last second or two."""
    return ACTIVE.count()


class HeldWrites:
    """A connection's transport whose writes wait for the event loop's next turn, so the writes
    of one turn go out in one `send`: uvicorn writes a response's head and its body apart, and
    each write was a system call and a wake-up of the client (a quarter of a small request's
    serving CPU). Past `HOLD_BYTES` the writes go at once, so a large body meets the
    transport's flow control as before. Closing or ending the stream sends what is held first;
    anything else is the transport's own."""

    __slots__ = ("_held", "_held_bytes", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport, self._loop = transport, loop
        self._held: list[bytes] | None = None
        self._held_bytes = 0

    def write(self, data: bytes) -> None:
        if self._held is None:
            self._held, self._held_bytes = [data], len(data)
            self._loop.call_soon(self.flush)
        else:
            self._held.append(data)
            self._held_bytes += len(data)
        if self._held_bytes > HOLD_BYTES:
            self.flush()

    def flush(self) -> None:
        held, self._held = self._held, None
        if held and not self._transport.is_closing():
            self._transport.write(held[0] if len(held) == 1 else b"".join(held))

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a bound on the request head.

    httptools buffers a header until it ends, however long, and uvicorn sets no limit: a
    client without any key could make a service hold a 150 MB header. Bytes are counted here
    as they arrive, before the parser sees them; past `MAX_HEAD_BYTES` without the end of the
    head, the answer is 431 and the connection closes, having held at most one read's worth.
    """

    _in_head = True
    _head_bytes = 0
    _refused = False
    _active_second = -1

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        held = HeldWrites(cast(asyncio.Transport, transport), asyncio.get_running_loop())
        super().connection_made(cast(asyncio.Transport, held))

    def on_message_begin(self) -> None:
        ACTIVE.mark(self)
        super().on_message_begin()

    def data_received(self, data: bytes) -> None:
        while data:
            if self._refused:
                return  # draining until the linger ends: nothing is kept
            if not self._in_head:
                super().data_received(data)
                return
            room = MAX_HEAD_BYTES - self._head_bytes
            if len(data) <= room:
                self._head_bytes += len(data)
                super().data_received(data)
                return
            # More than the head may still hold: parse what fits, then see whether it ended
            # there (the rest is body, or the next request) or not (431).
            part, data = data[:room], data[room:]
            self._head_bytes += len(part)
            if part:
                super().data_received(part)
            if self.transport.is_closing():
                return
            if self._in_head:
                self._refuse()
                return

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head, self._head_bytes = True, 0

    def eof_received(self) -> None:
        if self._refused:
            self.transport.close()

    def _refuse(self) -> None:
        self._refused = True
        log.warning(
            "request head over the limit", limit=MAX_HEAD_BYTES, client=str(self.client or "")
        )
        body = orjson.dumps(
            {
                "type": "about:blank",
                "title": "Request header fields too large",
                "status": 431,
                "detail": f"the request line and headers may hold {MAX_HEAD_BYTES} bytes in all",
            }
        )
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: application/problem+json\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n"
            b"connection: close\r\n\r\n" + body
        )
        if self.transport.can_write_eof():
            self.transport.write_eof()
        asyncio.get_running_loop().call_later(LINGER_S, self.transport.close)


BOUNDED_HTTP = f"{__name__}:{BoundedHttpToolsProtocol.__name__}"
"""The protocol by name: a worker process imports it after it answers its supervisor's first
health check (a class in uvicorn's config would be imported before, slowing the start)."""


def serve(app: FastAPI, settings: CommonSettings, service: str, port: int) -> None:
    configure_logging(settings.log_level, service)
    # One worker per process keeps metrics and timers simple; scale out with more processes.
    uvicorn.run(
        app,
        host=settings.host,
        port=port,
        log_config=None,
        access_log=False,
        loop="uvloop",
        http=BOUNDED_HTTP,
        timeout_graceful_shutdown=10,
    )
