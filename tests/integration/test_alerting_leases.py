"""Delivery leases on the real PostgreSQL: rows leased in the queuing transaction, renewed while
their worker holds them, and only then out of another claim's reach."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from alerting.app import MIGRATIONS
from alerting.store import SCHEMA, deliveries
from pacta.durations import datetime_to_ms
from tests.conftest import RUN_ID
from tests.support.postgres import migrated_engine

pytestmark = pytest.mark.integration
T0 = datetime(2026, 12, 7, 5, tzinfo=UTC)
LEASE = timedelta(milliseconds=deliveries.LEASE_MS)


@pytest.fixture
async def engine() -> AsyncIterator[AsyncEngine]:
    async with migrated_engine(f"pacta_test_{RUN_ID}_leases", SCHEMA, MIGRATIONS) as eng:
        yield eng


def new(key: str, *, lease: bool) -> deliveries.NewDelivery:
    return deliveries.NewDelivery(
        idempotency_key=key,
        receiver="hook",
        group_key="{}:{}",
        status="firing",
        alerts=({"alert_id": f"al-{key}"},),
        now=T0,
        detected_at=T0,
        lease=lease,
    )


async def test_renewed_leases_stay_out_of_a_claim_until_they_run_out(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        held = await deliveries.enqueue_many(
            conn,
            deliveries=[new("a", lease=True), new("b", lease=True), new("c", lease=False)],
            lease_until=T0 + LEASE,
        )
    assert [r.idempotency_key for r in held] == ["a", "b"]
    after = T0 + LEASE + timedelta(seconds=1)

    # unrenewed, a lease that ran out comes due for any claim (its worker died)
    async with engine.connect() as conn:
        tx = await conn.begin()
        taken = await deliveries.claim(
            conn, now=after, lease_until=after + LEASE, free={}, default_free=10
        )
        await tx.rollback()
    assert sorted(r.idempotency_key for r in taken) == ["a", "b", "c"]

    # renewed before it ran out ("a" only): that row stays with its worker
    async with engine.begin() as conn:
        await deliveries.renew(conn, ids=[held[0].id], lease_until=after + LEASE)
    async with engine.begin() as conn:
        taken = await deliveries.claim(
            conn, now=after, lease_until=after + LEASE, free={}, default_free=10
        )
    assert sorted(r.idempotency_key for r in taken) == ["b", "c"]


async def test_a_renewal_leaves_finished_and_handed_back_rows_alone(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        held = await deliveries.enqueue_many(
            conn,
            deliveries=[new("d", lease=True), new("e", lease=True)],
            lease_until=T0 + LEASE,
        )
        done = deliveries.NewAttempt(
            delivery_id=held[0].id,
            attempt=1,
            started_ms=datetime_to_ms(T0),
            finished_ms=datetime_to_ms(T0),
            outcome="delivered",
            detail="HTTP 200",
        )
        await deliveries.record_attempts(conn, attempts=[done])
        await deliveries.release(conn, ids=[held[1].id])
        await deliveries.renew(conn, ids=[r.id for r in held], lease_until=T0 + 2 * LEASE)
        rows = await conn.exec_driver_sql(
            "SELECT idempotency_key, state, lease_until FROM alerting.deliveries "
            "WHERE idempotency_key IN ('d', 'e') ORDER BY idempotency_key"
        )
        found = [(r.idempotency_key, r.state, r.lease_until) for r in rows]
    # delivered stays delivered; a lease handed back stays handed back (due at once)
    assert found == [("d", "delivered", None), ("e", "sending", None)]
