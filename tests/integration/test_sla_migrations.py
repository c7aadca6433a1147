"""The sla-engine's migrations run up, down and up again on one schema: 0008 leaves in the
inbox only the ids no journal holds (the journals are the inbox since), and its downgrade writes
the journals' ids back into it."""

from __future__ import annotations

import asyncio
import uuid

import sqlalchemy as sa
from alembic import command

from pacta.db import create_engine
from pacta.settings import CommonSettings
from sla_engine.app import MIGRATIONS
from tests.support.postgres import alembic_config


async def _run(url: str, *statements: str) -> set[str]:
    """Run the statements in one transaction; the inbox's ids after them."""
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            for statement in statements:
                await conn.execute(sa.text(statement))
            return set((await conn.scalars(sa.text("SELECT event_id FROM inbox"))).all())
    finally:
        await engine.dispose()


async def test_the_journals_become_the_inbox_and_back(settings: CommonSettings) -> None:
    url, schema = settings.database_url, f"sla_mig_{uuid.uuid4().hex[:6]}"
    cfg = alembic_config(MIGRATIONS, url, schema)
    at = f"SET LOCAL search_path TO {schema}"
    try:
        await asyncio.to_thread(command.upgrade, cfg, "0007")
        # as an engine before 0008 left them: every journaled id claimed in the inbox, and
        # one claimed there alone
        before = await _run(
            url,
            at,
            "INSERT INTO inbox (event_id) VALUES ('t1'), ('m1'), ('old')",
            "INSERT INTO ticket_events (event_id, ticket_id, occurred_at, body) "
            "VALUES ('t1', 'T-1', now(), '{}')",
            "INSERT INTO monitoring_events (event_id, service, check_name, occurred_at, body) "
            "VALUES ('m1', 's', 'c', now(), '{}')",
        )
        assert before == {"t1", "m1", "old"}
        await asyncio.to_thread(command.upgrade, cfg, "head")
        assert await _run(url, at) == {"old"}
        await asyncio.to_thread(command.downgrade, cfg, "0007")
        assert await _run(url, at) == {"t1", "m1", "old"}
        await asyncio.to_thread(command.upgrade, cfg, "head")
        assert await _run(url, at) == {"old"}
    finally:
        engine = create_engine(url)
        async with engine.begin() as conn:
            await conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        await engine.dispose()
