"""The HTTP protocol's held writes: the writes of one event-loop turn go out in one send."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

from pacta.serve import HOLD_BYTES, ActiveConnections, HeldWrites


class FakeTransport:
    """Records each write (one system call each on a real socket) and the closing calls."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.calls: list[str] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closing

    def write_eof(self) -> None:
        self.calls.append("write_eof")

    def close(self) -> None:
        self.calls.append("close")
        self.closing = True

    def get_extra_info(self, name: str) -> str:
        return f"extra:{name}"


def held() -> tuple[HeldWrites, FakeTransport]:
    fake = FakeTransport()
    return HeldWrites(cast(Any, fake), asyncio.get_running_loop()), fake


async def test_a_head_and_a_body_written_in_one_turn_go_out_in_one_send() -> None:
    writes, fake = held()
    writes.write(b"HTTP/1.1 202 Accepted\r\n\r\n")
    writes.write(b"{}")
    assert fake.writes == []
    await asyncio.sleep(0)
    assert fake.writes == [b"HTTP/1.1 202 Accepted\r\n\r\n{}"]
    writes.write(b"next")
    await asyncio.sleep(0)
    assert fake.writes[1:] == [b"next"]


async def test_closing_or_ending_sends_what_is_held_first() -> None:
    writes, fake = held()
    writes.write(b"431")
    writes.write_eof()
    assert (fake.writes, fake.calls) == ([b"431"], ["write_eof"])
    writes.write(b"bye")
    writes.close()
    assert (fake.writes, fake.calls) == ([b"431", b"bye"], ["write_eof", "close"])
    await asyncio.sleep(0)  # the turn's flush finds nothing left
    assert fake.writes == [b"431", b"bye"]


async def test_a_large_body_goes_at_once_and_in_order() -> None:
    writes, fake = held()
    writes.write(b"head")
    writes.write(b"x" * HOLD_BYTES)
    assert fake.writes == [b"head" + b"x" * HOLD_BYTES]
    writes.write(b"tail")
    await asyncio.sleep(0)
    assert fake.writes[1:] == [b"tail"]


async def test_a_closed_transport_gets_no_held_write_and_the_rest_passes_through() -> None:
    writes, fake = held()
    writes.write(b"late")
    fake.closing = True  # the peer went away before the turn ended
    await asyncio.sleep(0)
    assert fake.writes == []
    assert writes.get_extra_info("peername") == "extra:peername"


def test_active_connections_count_those_that_began_a_request_lately() -> None:
    now = [100.5]
    active = ActiveConnections(lambda: now[0])
    first, second = (cast(Any, SimpleNamespace(_active_second=-1)) for _ in range(2))
    assert active.count() == 0  # none seen: callers take it as "unknown"
    active.mark(first)
    active.mark(first)  # one connection, however many requests
    active.mark(second)
    assert active.count() == 2
    now[0] = 101.2  # the next second: both still count until they went quiet for it
    active.mark(first)
    assert active.count() == 2
    now[0] = 102.1  # `second` sent nothing for over a second: no longer counted
    active.mark(first)
    assert active.count() == 1
    now[0] = 110.0  # everyone idle for long
    assert active.count() == 0
