"""Groups formed on the real PostgreSQL: written once with their state after the flush that
formed them, and a group formed meanwhile by another transaction is never overwritten."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from alerting.app import MIGRATIONS
from alerting.domain import grouping
from alerting.store import SCHEMA, groups
from alerting.store.groups import GroupFormedElsewhere, NewGroup, RouteOptions
from tests.conftest import RUN_ID
from tests.support.postgres import migrated_engine

pytestmark = pytest.mark.integration
T0 = 1_796_619_600_000  # 2026-12-07 05:00 UTC, in ms
OPTIONS = RouteOptions("root", 0, 300_000, 14_400_000, (), ())


@pytest.fixture
async def engine() -> AsyncIterator[AsyncEngine]:
    async with migrated_engine(f"pacta_test_{RUN_ID}_groups", SCHEMA, MIGRATIONS) as eng:
        yield eng


def new(key: str) -> NewGroup:
    return NewGroup(key, "hook", {"service": key}, OPTIONS, T0, T0)


async def test_a_group_is_written_with_its_state_and_never_formed_twice(
    engine: AsyncEngine,
) -> None:
    flushed = grouping.GroupState(
        created_at_ms=T0,
        next_flush_at_ms=T0 + 300_000,
        first_flush_at_ms=T0,
        last_sent_at_ms=T0,
        notified=frozenset({"al-1:s-1"}),
        seq=1,
    )
    async with engine.begin() as conn:
        await groups.create(conn, groups=[new("a"), new("b")], states={"a": flushed})
    async with engine.connect() as conn:
        rows = {g.key: g for g in await groups.lock(conn, keys=["a", "b"])}
    assert rows["a"].state == flushed
    assert rows["b"].state == grouping.GroupState(created_at_ms=T0, next_flush_at_ms=T0)

    # another instance found "c" missing too, but "a" was formed meanwhile: nothing is written
    with pytest.raises(GroupFormedElsewhere):
        async with engine.begin() as conn:
            await groups.create(conn, groups=[new("a"), new("c")], states={})
    async with engine.connect() as conn:
        rows = {g.key: g for g in await groups.lock(conn, keys=["a", "c"])}
    assert set(rows) == {"a"}
    assert rows["a"].state == flushed
