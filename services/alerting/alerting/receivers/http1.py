"""A small HTTP/1.1 client for the webhook's POST, the hot path of every notification: keep-alive
connections per origin, each request written as one buffer, the answer read with plain stream
reads. aiohttp spent about five times the CPU per request on generality a webhook never uses."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple
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
        return cls(scheme, host, port, host_header, path, authorization)


class _Conn:
    __slots__ = ("reader", "used_at", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer, self.used_at = reader, writer, time.monotonic()

    def usable(self, now: float) -> bool:
        return (
            now - self.used_at < IDLE_S
            and not self.reader.at_eof()
            and not self.writer.transport.is_closing()
        )

    def close(self) -> None:
        self.writer.transport.close()


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
        lines = [
            f"POST {target.path} HTTP/1.1",
            f"Host: {target.host_header}",
            f"Content-Length: {len(body)}",
        ]
        if target.authorization is not None:
            lines.append(f"Authorization: {target.authorization}")
        lines += [f"{name}: {value}" for name, value in headers]
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        origin = (target.scheme, target.host, target.port)
        async with asyncio.timeout(timeout):
            conn = self._take(origin)
            if conn is not None:
                try:
                    return await self._exchange(origin, conn, request, reused=True)
                except _Stale:
                    pass  # the server closed it while idle: once more, on a new connection
            conn = await self._open(target)
            return await self._exchange(origin, conn, request, reused=False)

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
        reader, writer = await asyncio.open_connection(
            target.host, target.port, ssl=tls, limit=MAX_HEAD
        )
        sock = writer.get_extra_info("socket")
        with contextlib.suppress(OSError, AttributeError):
            # the request is one write: nothing to coalesce, and Nagle would hold the next one
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _Conn(reader, writer)

    async def _exchange(
        self, origin: tuple[str, str, int], conn: _Conn, request: bytes, *, reused: bool
    ) -> Answer:
        keep = False
        try:
            try:
                conn.writer.write(request)
                await conn.writer.drain()
                head = await conn.reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError as exc:
                if reused and not exc.partial:
                    raise _Stale from None
                raise
            except ConnectionError:
                if reused:
                    raise _Stale from None
                raise
            except asyncio.LimitOverrunError:
                raise ProtocolError("answer head too long") from None
            status, version, headers = _head(head)
            while 100 <= status < 200:  # an interim answer: the final one follows
                head = await conn.reader.readuntil(b"\r\n\r\n")
                status, version, headers = _head(head)
            body, complete = await _body(conn.reader, status, headers)
            connection = headers.get("connection", "").lower()
            keep = complete and (
                "close" not in connection if version == "HTTP/1.1" else "keep-alive" in connection
            )
            return Answer(status, headers, body)
        finally:
            if keep:
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


async def _body(
    reader: asyncio.StreamReader, status: int, headers: dict[str, str]
) -> tuple[bytes, bool]:
    """The answer's body (up to MAX_BODY), and whether it was read to its end (else the
    connection cannot be reused)."""
    if status in (204, 304):
        return b"", True
    if "chunked" in headers.get("transfer-encoding", "").lower():
        parts: list[bytes] = []
        size_read = 0
        while True:
            line = await reader.readuntil(b"\r\n")
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise ProtocolError("bad chunk size") from None
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                    pass
                return b"".join(parts), True
            if size_read + size > MAX_BODY:
                return b"".join(parts), False
            parts.append(await reader.readexactly(size))
            size_read += size
            await reader.readexactly(2)
    length = headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise ProtocolError("bad Content-Length")
        n = int(length)
        if n > MAX_BODY:
            return await reader.read(4096), False
        return await reader.readexactly(n), True
    # no length: the body runs to the end of the connection
    parts, size_read = [], 0
    while size_read < MAX_BODY:
        data = await reader.read(MAX_BODY - size_read)
        if not data:
            break
        parts.append(data)
        size_read += len(data)
    return b"".join(parts), False
