"""The webhook's HTTP/1.1 client against a raw asyncio server: the request as written, each way
an answer's body can end, keep-alive reuse, and a connection the server closed while idle."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from alerting.receivers.http1 import Pool, Target

Answerer = Callable[[bytes], bytes]


@asynccontextmanager
async def server(answer: Answerer, *, close_after: bool = False) -> AsyncIterator[list[bytes]]:
    """Answers each request with `answer(request)`; the requests seen (head and body)."""
    seen: list[bytes] = []
    writers: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                seen.append(head + await reader.readexactly(length))
                writer.write(answer(head))
                await writer.drain()
                if close_after:
                    break
        except asyncio.IncompleteReadError:
            pass
        writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    seen.append(str(port).encode())
    try:
        yield seen
    finally:
        srv.close()
        for writer in writers:  # the server's ends of the connections (close() leaves them)
            writer.close()
        await srv.wait_closed()


def target(seen: list[bytes], path: str = "/hook?a=1") -> Target:
    return Target.of(f"http://127.0.0.1:{int(seen.pop(0))}{path}")


async def test_a_post_is_written_as_given_and_its_connection_reused() -> None:
    pool = Pool()
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    async with server(lambda _: answer) as seen:
        t = target(seen)
        first = await pool.post(t, [("X-Key", "k1")], b'{"a":1}', 5)
        second = await pool.post(t, [("X-Key", "k2")], b"{}", 5)
        idle = len(pool.idle[("http", "127.0.0.1", t.port)])
    pool.close()
    assert (first.status, first.body, second.body) == (200, b"ok", b"ok")
    assert seen[0].startswith(b"POST /hook?a=1 HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"\r\nX-Key: k1\r\n" in seen[0]
    assert seen[0].endswith(b'\r\n\r\n{"a":1}')
    assert idle == 1  # one connection for both


@pytest.mark.parametrize(
    ("answer", "body"),
    [
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n1\r\n!\r\n0\r\n\r\n",
            b"ok!",
        ),
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", b""),
        (b"HTTP/1.0 503 Busy\r\nRetry-After: 7\r\n\r\ndown", b"down"),
    ],
)
async def test_each_way_an_answer_ends(answer: bytes, body: bytes) -> None:
    pool = Pool()
    async with server(lambda _: answer, close_after=True) as seen:
        got = await pool.post(target(seen), [], b"x", 5)
    pool.close()
    assert got.body == body
    if got.status == 503:
        assert got.headers["retry-after"] == "7"


async def test_a_connection_closed_while_idle_is_replaced() -> None:
    pool = Pool()
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    async with server(lambda _: answer, close_after=True) as seen:
        t = target(seen)
        await pool.post(t, [], b"1", 5)  # kept: the answer did not say close
        await asyncio.sleep(0.05)  # the server has closed it meanwhile
        again = await pool.post(t, [], b"2", 5)
    pool.close()
    assert again.status == 200
    assert [s[-1:] for s in seen] == [b"1", b"2"]


async def test_a_silent_server_times_out() -> None:
    pool = Pool()
    async with server(lambda _: b"", close_after=False) as seen:
        with pytest.raises(TimeoutError):
            await pool.post(target(seen), [], b"x", 0.2)
    pool.close()


async def test_an_answer_that_stops_halfway_times_out() -> None:
    pool = Pool()
    async with server(lambda _: b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nok") as seen:
        t = target(seen)
        with pytest.raises(TimeoutError):
            await pool.post(t, [], b"x", 0.2)
    assert not pool.idle.get(("http", "127.0.0.1", t.port))  # closed, not kept
    pool.close()


async def test_an_answer_without_length_ends_with_its_connection() -> None:
    pool = Pool()
    async with server(lambda _: b"HTTP/1.1 500 Oops\r\n\r\nbroken", close_after=True) as seen:
        t = target(seen)
        got = await pool.post(t, [], b"x", 5)
    assert (got.status, got.body) == (500, b"broken")
    assert not pool.idle.get(("http", "127.0.0.1", t.port))  # not reusable
    pool.close()


def test_targets_keep_the_url_and_quote_what_must_be() -> None:
    t = Target.of("https://user:p%40ss@Example.com/a b/c?q=x y")
    assert (t.scheme, t.host, t.port, t.host_header) == ("https", "example.com", 443, "example.com")
    assert t.path == "/a%20b/c?q=x%20y"
    assert t.authorization == "Basic dXNlcjpwQHNz"
    assert Target.of("http://[::1]:8080/").host_header == "[::1]:8080"
