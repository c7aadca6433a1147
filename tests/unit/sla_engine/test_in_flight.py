"""`store.in_flight`: a statement left running while the caller computes, awaited whatever
the block does."""

from __future__ import annotations

import asyncio

import pytest

from sla_engine.store import OVERLAP_FROM, in_flight


async def statement(log: list[str], fail: bool = False) -> int:
    log.append("sent")
    await asyncio.sleep(0.01)  # PostgreSQL at work
    log.append("answered")
    if fail:
        raise OSError("connection lost")
    return 7


async def test_the_block_runs_while_the_statement_is_in_flight() -> None:
    log: list[str] = []
    async with in_flight(statement(log), rows=OVERLAP_FROM) as running:
        log.append("computed")
    assert running.result() == 7
    assert log == ["sent", "computed", "answered"]


async def test_a_small_batch_awaits_the_statement_first() -> None:
    log: list[str] = []
    async with in_flight(statement(log), rows=OVERLAP_FROM - 1) as running:
        log.append("computed")
    assert running.result() == 7
    assert log == ["sent", "answered", "computed"]


async def test_the_statement_s_error_is_raised_by_its_result() -> None:
    async with in_flight(statement([], fail=True), rows=OVERLAP_FROM) as running:
        pass
    with pytest.raises(OSError, match="connection lost"):
        running.result()


async def test_a_block_that_raises_still_waits_for_the_statement() -> None:
    log: list[str] = []
    with pytest.raises(ValueError, match="computation failed"):
        async with in_flight(statement(log), rows=OVERLAP_FROM):
            raise ValueError("the engine's computation failed")
    assert log == ["sent", "answered"]  # the connection is free again before the rollback
