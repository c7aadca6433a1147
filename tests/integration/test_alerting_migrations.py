"""Alerting's migrations run up, down and up again on one schema: the newest revision's
downgrade puts back what its upgrade took (the delivery queue's indexes)."""

from __future__ import annotations

import asyncio
import uuid

import sqlalchemy as sa
from alembic import command

from alerting.app import MIGRATIONS
from pacta.db import create_engine
from pacta.settings import CommonSettings
from tests.support.postgres import alembic_config


async def _indexes(url: str, schema: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                sa.text(
                    "SELECT indexname FROM pg_indexes WHERE schemaname = :s "
                    "AND tablename = 'deliveries'"
                ),
                {"s": schema},
            )
            return {str(r[0]) for r in rows}
    finally:
        await engine.dispose()


async def test_deliveries_indexes_go_up_down_and_up_again(settings: CommonSettings) -> None:
    url, schema = settings.database_url, f"alr_mig_{uuid.uuid4().hex[:6]}"
    cfg = alembic_config(MIGRATIONS, url, schema)
    lean = {
        "deliveries_pkey",
        "deliveries_idempotency_key_key",
        "deliveries_receiver",
        "deliveries_due_by_receiver",
    }
    try:
        await asyncio.to_thread(command.upgrade, cfg, "head")
        assert await _indexes(url, schema) == lean
        await asyncio.to_thread(command.downgrade, cfg, "0006")
        assert await _indexes(url, schema) == lean | {"deliveries_due", "deliveries_alerts"}
        await asyncio.to_thread(command.upgrade, cfg, "head")
        assert await _indexes(url, schema) == lean
    finally:
        engine = create_engine(url)
        async with engine.begin() as conn:
            await conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        await engine.dispose()
