"""Requests that arrive within a cycle's wait share its one produce and its one claim."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from ingest.committer import Committer
from ingest.parsing import Event


class FakePool:
    """The claim pool: every id is new; counts the claims (one statement each)."""

    def __init__(self) -> None:
        self.claims: list[list[str]] = []

    async def fetch(self, _query: str, ids: list[str]) -> list[tuple[str]]:
        self.claims.append(list(ids))
        return [(i,) for i in ids]

    async def acquire(self) -> FakePool:  # the pool is its own one connection
        return self

    async def release(self, _conn: FakePool) -> None:
        pass

    def terminate(self) -> None:
        pass

    def is_closed(self) -> bool:
        return False


class Ev:
    def __init__(self, event_id: str) -> None:
        self.id = event_id


def committer(
    pool: FakePool, produced: list[int], gather: float, connections: int | None = None
) -> Committer:
    c = Committer(
        lambda: pool,
        lambda: cast(Any, object()),
        prefix="t",
        timeout=5,
        gather=gather,
        connections=None if connections is None else (lambda: connections),
    )

    async def publish(_producer: Any, events: Any, *, timeout: float) -> None:
        produced.append(len(events))

    c.publisher.publish = publish  # type: ignore[method-assign]
    return c


async def submit_apart(c: Committer, n: int, apart: float) -> list[list[Event]]:
    """`n` requests of one event each, `apart` seconds apart (as requests arrive), all awaited."""

    async def one(i: int) -> list[Event]:
        await asyncio.sleep(i * apart)
        return await c.submit(cast(list[Event], [Ev(f"e{i}")]))

    return await asyncio.gather(*(one(i) for i in range(n)))


async def test_requests_within_the_wait_share_one_produce_and_one_claim() -> None:
    pool, produced = FakePool(), []
    answers = await submit_apart(committer(pool, produced, gather=0.2), 5, apart=0.002)
    assert produced == [5]
    assert pool.claims == [[f"e{i}" for i in range(5)]]
    assert [[e.id for e in a] for a in answers] == [[f"e{i}"] for i in range(5)]


async def test_without_a_wait_each_request_has_a_cycle_of_its_own() -> None:
    pool, produced = FakePool(), []
    await submit_apart(committer(pool, produced, gather=0), 5, apart=0.05)
    assert produced == [1] * 5
    assert len(pool.claims) == 5


async def test_the_wait_ends_once_every_open_connection_has_a_request_waiting() -> None:
    pool, produced = FakePool(), []
    c = committer(pool, produced, gather=5.0, connections=3)
    started = asyncio.get_running_loop().time()
    answers = await submit_apart(c, 3, apart=0.002)
    # three connections, three requests waiting: none can come before an answer
    assert asyncio.get_running_loop().time() - started < 1.0
    assert produced == [3]
    assert [[e.id for e in a] for a in answers] == [[f"e{i}"] for i in range(3)]


async def test_one_client_alone_is_answered_without_a_wait() -> None:
    pool, produced = FakePool(), []
    c = committer(pool, produced, gather=5.0, connections=1)
    started = asyncio.get_running_loop().time()
    for i in range(3):
        await c.submit(cast(list[Event], [Ev(f"e{i}")]))
    assert asyncio.get_running_loop().time() - started < 1.0
    assert produced == [1, 1, 1]


async def test_with_idle_connections_open_the_cycle_waits_for_more() -> None:
    pool, produced = FakePool(), []
    answers = await submit_apart(committer(pool, produced, gather=0.2, connections=16), 4, 0.002)
    assert produced == [4]
    assert len(answers) == 4


async def test_requests_queued_behind_busy_cycles_ride_in_the_next_free_one() -> None:
    pool, produced = FakePool(), []
    c = committer(pool, produced, gather=0, connections=None)
    c.cycles = 1
    release = asyncio.Event()

    async def publish(_producer: Any, events: Any, *, timeout: float) -> None:
        produced.append(len(events))
        await release.wait()

    c.publisher.publish = publish  # type: ignore[method-assign]
    first = asyncio.ensure_future(c.submit(cast(list[Event], [Ev("a")])))
    await asyncio.sleep(0.01)
    rest = [asyncio.ensure_future(c.submit(cast(list[Event], [Ev(f"b{i}")]))) for i in range(3)]
    await asyncio.sleep(0.01)
    assert produced == [1]  # the one slot is busy: the three wait
    release.set()
    await asyncio.gather(first, *rest)
    assert produced == [1, 3]
    assert (c.waiting, c.pending, c.running) == (0, [], set())


async def test_a_batch_of_a_hundred_events_goes_without_waiting() -> None:
    pool, produced = FakePool(), []
    c = committer(pool, produced, gather=5.0, connections=16)
    started = asyncio.get_running_loop().time()
    await c.submit(cast(list[Event], [Ev(f"e{i}") for i in range(100)]))
    assert asyncio.get_running_loop().time() - started < 1.0
    assert produced == [100]


async def test_sixteen_single_events_go_without_waiting() -> None:
    pool, produced = FakePool(), []
    c = committer(pool, produced, gather=5.0, connections=64)
    started = asyncio.get_running_loop().time()
    await submit_apart(c, 16, apart=0.001)
    assert asyncio.get_running_loop().time() - started < 1.0
    assert produced == [16]
