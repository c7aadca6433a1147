"""A small HTTP/1.1 client for the webhook's POST, the hot path of every notification: keep-alive
connections per origin, each request written as one buffer, the answer parsed as it arrives by a
plain protocol. aiohttp spent about five times the CPU per request on generality a webhook never
uses."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, cast
from urllib.parse import quote, unquote, urlsplit

MAX_HEAD = 64 * 1024
MAX_BODY = 1024 * 1024  # an answer longer than this is not read to its end: its connection closes
IDLE_S = 30.0  # an idle connection older than this is closed rather than reused
MAX_IDLE = 256  # idle connections kept per origin
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"


class ProtocolError(Exception):
    """The server's answer is not HTTP/1.x as this client reads it."""


class Answer(NamedTuple):
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes  # at most MAX_BODY bytes of it


@dataclass(frozen=True)
class Target:
    """Where a POST goes, parsed once per receiver config: the origin connected to, the Host
    header, the request target (quoted as a browser would), and the URL's user info as Basic
    authorization."""

    scheme: str
    host: str
    port: int
    host_header: str
    path: str
    authorization: str | None
    head: bytes  # the request's head up to Content-Length's value

    @classmethod
    def of(cls, url: str) -> Target:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        host = parts.hostname
        port = parts.port or (443 if scheme == "https" else 80)
        name = host.encode("idna").decode("ascii") if not host.isascii() else host
        shown = f"[{name}]" if ":" in name else name
        host_header = (
            shown
            if parts.port is None or port == (443 if scheme == "https" else 80)
            else (f"{shown}:{port}")
        )
        path = quote(parts.path or "/", safe=_PATH_SAFE)
        if parts.query:
            path += "?" + quote(parts.query, safe=_QUERY_SAFE)
        authorization = None
        if parts.username is not None:
            user = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            authorization = "Basic " + base64.b64encode(user.encode()).decode("ascii")
        lines = [f"POST {path} HTTP/1.1", f"Host: {host_header}"]
        if authorization is not None:
            lines.append(f"Authorization: {authorization}")
        head = ("\r\n".join(lines) + "\r\nContent-Length: ").encode("latin-1")
        return cls(scheme, host, port, host_header, path, authorization, head)


class _Conn(asyncio.Protocol):
    """One keep-alive connection: what the server sent so far, and the waiter of the request on
    it, woken as more arrives (a protocol, not asyncio's streams: their reader and writer cost
    more Python per answer than the answer's own parse)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[None] | None = None
        self.ended = False  # the server ended its side, or the connection was lost
        self.error: BaseException | None = None  # why it was lost, if not by an orderly end
        self.expired = False  # the request's time ran out
        self.used_at = time.monotonic()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._wake(None)

    def eof_received(self) -> bool:
        self.ended = True
        self._wake(None)
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.ended = True
        self.error = exc
        self._wake(None)

    def expire(self) -> None:
        """The request's time is up: its waiter raises TimeoutError, now or when it waits."""
        self.expired = True
        self._wake(TimeoutError())

    def _wake(self, exc: BaseException | None) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            if exc is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(exc)

    async def more(self) -> None:
        """Wait until more of the answer arrived, the connection ended or the time is up."""
        if self.expired:
            raise TimeoutError
        self.waiter = asyncio.get_running_loop().create_future()
        try:
            await self.waiter
        finally:
            self.waiter = None

    def usable(self, now: float) -> bool:
        return (
            now - self.used_at < IDLE_S
            and not self.ended
            and not self.buffer
            and self.transport is not None
            and not self.transport.is_closing()
        )

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class _Stale(Exception):
    """A reused connection was closed by the server before it answered anything."""


class Pool:
    """Keep-alive connections per origin; one request at a time on each. `close` ends the idle
    ones (a connection in use is closed by the request that holds it, if it is cancelled)."""

    def __init__(self) -> None:
        self.idle: dict[tuple[str, str, int], list[_Conn]] = {}
        self._tls: ssl.SSLContext | None = None

    async def post(
        self, target: Target, headers: Sequence[tuple[str, str]], body: bytes, timeout: float
    ) -> Answer:
        """POST `body` with these headers (Host, Content-Length and the URL's authorization
        are added); the answer, its body read up to MAX_BODY. Raises TimeoutError after
        `timeout` seconds, OSError, asyncio.IncompleteReadError or ProtocolError otherwise."""
        head = "".join([f"{name}: {value}\r\n" for name, value in headers])
        request = b"".join(
            (target.head, b"%d\r\n" % len(body), head.encode("latin-1"), b"\r\n", body)
        )
        origin = (target.scheme, target.host, target.port)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        conn = self._take(origin)
        if conn is not None:
            try:
                return await self._exchange(origin, conn, request, deadline, reused=True)
            except _Stale:
                pass  # the server closed it while idle: once more, on a new connection
        async with asyncio.timeout_at(deadline):
            conn = await self._open(target)
        return await self._exchange(origin, conn, request, deadline, reused=False)

    def close(self) -> None:
        for conns in self.idle.values():
            for conn in conns:
                conn.close()
        self.idle.clear()

    def _take(self, origin: tuple[str, str, int]) -> _Conn | None:
        conns = self.idle.get(origin)
        now = time.monotonic()
        while conns:
            conn = conns.pop()
            if conn.usable(now):
                return conn
            conn.close()
        return None

    async def _open(self, target: Target) -> _Conn:
        tls: ssl.SSLContext | None = None
        if target.scheme == "https":
            if self._tls is None:
                self._tls = ssl.create_default_context()
            tls = self._tls
        transport, conn = await asyncio.get_running_loop().create_connection(
            _Conn, target.host, target.port, ssl=tls
        )
        sock = transport.get_extra_info("socket")
        with contextlib.suppress(OSError, AttributeError):
            # the request is one write: nothing to coalesce, and Nagle would hold the next one
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    async def _exchange(
        self,
        origin: tuple[str, str, int],
        conn: _Conn,
        request: bytes,
        deadline: float,
        *,
        reused: bool,
    ) -> Answer:
        keep = False
        timer = asyncio.get_running_loop().call_at(deadline, conn.expire)
        try:
            assert conn.transport is not None
            conn.transport.write(request)
            while True:
                parsed = _answer(conn.buffer, conn.ended)
                if parsed is not None:
                    break
                if conn.ended:
                    if reused and not conn.buffer:
                        raise _Stale
                    if conn.error is not None:
                        raise conn.error
                    raise asyncio.IncompleteReadError(bytes(conn.buffer), None)
                await conn.more()
            answer, used = parsed
            # reused only if the answer said so and nothing followed it
            keep = used == len(conn.buffer)
            return answer
        finally:
            timer.cancel()
            if keep:
                conn.buffer.clear()
                conn.used_at = time.monotonic()
                conns = self.idle.setdefault(origin, [])
                if len(conns) < MAX_IDLE:
                    conns.append(conn)
                else:
                    conn.close()
            else:
                conn.close()


def _head(raw: bytes) -> tuple[int, str, dict[str, str]]:
    lines = raw[:-4].decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    if not version.startswith("HTTP/1.") or not rest[:3].isdigit():
        raise ProtocolError(f"not an HTTP/1.x status line: {lines[0][:100]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(rest[:3]), version, headers


def _answer(buf: bytearray, ended: bool) -> tuple[Answer, int] | None:
    """The final answer at the start of `buf` and how many bytes it used (-1: the connection
    cannot be reused: the server asked to close it, or the body was not read to its end);
    None while more is needed (`ended`: nothing more will come)."""
    at = 0
    while True:
        end = buf.find(b"\r\n\r\n", at)
        if end < 0:
            if len(buf) - at > MAX_HEAD:
                raise ProtocolError("answer head too long")
            return None
        status, version, headers = _head(bytes(buf[at : end + 4]))
        at = end + 4
        if not 100 <= status < 200:  # an interim answer: the final one follows
            break
    connection = headers.get("connection", "").lower()
    kept = "close" not in connection if version == "HTTP/1.1" else "keep-alive" in connection
    if status in (204, 304):
        return Answer(status, headers, b""), at if kept else -1
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return _chunked(buf, at, status, headers, kept)
    length = headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise ProtocolError("bad Content-Length")
        n = int(length)
        if n > MAX_BODY:  # not read to its end: what came of it, and the connection closes
            if len(buf) == at and not ended:
                return None
            return Answer(status, headers, bytes(buf[at : at + 4096])), -1
        if len(buf) - at < n:
            return None
        return Answer(status, headers, bytes(buf[at : at + n])), at + n if kept else -1
    # no length: the body runs to the end of the connection
    if ended or len(buf) - at >= MAX_BODY:
        return Answer(status, headers, bytes(buf[at : at + MAX_BODY])), -1
    return None


def _chunked(
    buf: bytearray, at: int, status: int, headers: dict[str, str], kept: bool
) -> tuple[Answer, int] | None:
    """A chunked body from `at` (up to MAX_BODY), as `_answer` answers."""
    parts: list[bytes] = []
    size_read = 0
    while True:
        eol = buf.find(b"\r\n", at)
        if eol < 0:
            return None
        try:
            size = int(bytes(buf[at:eol]).split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise ProtocolError("bad chunk size") from None
        at = eol + 2
        if size == 0:
            while True:  # trailers, up to the empty line
                eol = buf.find(b"\r\n", at)
                if eol < 0:
                    return None
                if eol == at:
                    return Answer(status, headers, b"".join(parts)), eol + 2 if kept else -1
                at = eol + 2
        if size_read + size > MAX_BODY:
            return Answer(status, headers, b"".join(parts)), -1
        if len(buf) < at + size + 2:
            return None
        parts.append(bytes(buf[at : at + size]))
        size_read += size
        at += size + 2
