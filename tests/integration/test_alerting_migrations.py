"""Alerting's migrations run up, down and up again on one schema: the newest revision's
downgrades put back what their upgrades took (the delivery queue's indexes, the record tables'
keys and indexes)."""

from __future__ import annotations

import asyncio
import uuid

import sqlalchemy as sa
from alembic import command

from alerting.app import MIGRATIONS
from pacta.db import create_engine
from pacta.settings import CommonSettings
from tests.support.postgres import alembic_config


async def _indexes(url: str, schema: str, table: str = "deliveries") -> set[str]:
    """The table's indexes, each as its name and definition (without the schema)."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                sa.text(
                    "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = :s "
                    "AND tablename = :t"
                ),
                {"s": schema, "t": table},
            )
            if table == "deliveries":
                return {str(r[0]) for r in rows}
            return {f"{r[0]} {r[1].split(' USING ')[1]}" for r in rows}
    finally:
        await engine.dispose()


RECORDS_BEFORE = {
    "signals": {
        "signals_pkey btree (signal_id)",
        "signals_service_time btree (service, occurred_at)",
    },
    "alert_history": {
        "alert_history_pkey btree (seq)",
        "alert_history_alert btree (alert_id, seq)",
    },
    "delivery_attempts": {
        "delivery_attempts_pkey btree (seq)",
        "delivery_attempts_delivery btree (delivery_id)",
    },
}
RECORDS_AFTER = {
    "signals": {"signals_pkey btree (signal_id)"},
    "alert_history": {"alert_history_pkey btree (alert_id, seq)"},
    "delivery_attempts": {"delivery_attempts_pkey btree (delivery_id, seq)"},
}


async def _records(url: str, schema: str) -> dict[str, set[str]]:
    return {t: await _indexes(url, schema, t) for t in RECORDS_BEFORE}


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
        assert await _records(url, schema) == RECORDS_AFTER
        await asyncio.to_thread(command.downgrade, cfg, "0007")
        assert await _records(url, schema) == RECORDS_BEFORE
        await asyncio.to_thread(command.downgrade, cfg, "0006")
        assert await _indexes(url, schema) == lean | {"deliveries_due", "deliveries_alerts"}
        await asyncio.to_thread(command.upgrade, cfg, "head")
        assert await _indexes(url, schema) == lean
        assert await _records(url, schema) == RECORDS_AFTER
    finally:
        engine = create_engine(url)
        async with engine.begin() as conn:
            await conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        await engine.dispose()
