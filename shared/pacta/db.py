"""PostgreSQL plumbing: async engines, Alembic migrations per service schema, the inbox.

Each service owns one schema with its own Alembic version table; migrations run at start-up
under an advisory lock, so several instances of a service can start at once.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from pacta.logs import get_logger

log = get_logger(__name__)


def create_engine(url: str, pool_size: int = 10, pre_ping: bool = True) -> AsyncEngine:
    """An asyncpg engine; `pre_ping` tests each connection at checkout (a round trip that a
    caller which answers a failure with 503 + Retry-After can do without)."""
    parsed = sa.make_url(url)
    connect_args: dict[str, object] = {}
    if parsed.host in ("127.0.0.1", "localhost", "::1") and not (
        {"ssl", "sslmode"} & set(parsed.query)
    ):
        # libpq's default (sslmode=prefer) would encrypt loopback traffic: CPU for nothing
        connect_args["ssl"] = False
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=pre_ping,
        pool_recycle=1800,
        connect_args=connect_args,
        # jsonb columns decoded by orjson: the stdlib decoder showed in the engine's
        # apply path (~4% of its CPU: journals read back for replays)
        json_deserializer=orjson.loads,
    )


async def migrate(url: str, schema: str, migrations: Path) -> None:
    """Bring `schema` to the newest revision found in the service's `migrations` folder."""
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations))
    cfg.attributes["url"] = url
    cfg.attributes["schema"] = schema
    await asyncio.to_thread(command.upgrade, cfg, "head")
    log.info("migrations applied", schema=schema)


def run_migrations_env() -> None:
    """Body of every service's migrations/env.py (online mode only: we always have a database)."""
    cfg = context.config
    url: str = cfg.attributes["url"]
    schema: str = cfg.attributes["schema"]

    def run(connection: sa.Connection) -> None:
        # One migrator per schema at a time; a second instance waits, then finds nothing to do.
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": schema})
        connection.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        context.configure(connection=connection, version_table_schema=schema)
        with context.begin_transaction():
            context.run_migrations(schema=schema)

    async def main() -> None:
        engine = create_async_engine(url, poolclass=sa.NullPool)
        async with engine.begin() as conn:
            await conn.run_sync(run)
        await engine.dispose()

    asyncio.run(main())


def create_inbox(schema: str) -> None:
    """The inbox table every consumer keeps, for its first migration: the ids it has applied.

    Called from migrations, so its shape is frozen: a change is a new migration, not an edit.
    """
    from alembic import op

    op.create_table(
        "inbox",
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column(
            "applied_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        schema=schema,
    )


async def database_reachable(engine: AsyncEngine, timeout: float = 2.0) -> bool:
    try:
        async with asyncio.timeout(timeout), engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
        return True
    except Exception:
        return False


async def driver_connection(conn: AsyncConnection) -> Any:
    """The asyncpg connection under `conn`, for the statements a consumed batch runs
    (SQLAlchemy's statement and result machinery cost more than their execution there);
    nothing may run on `conn` while a statement runs on it. Inside `conn`'s transaction when it
    has begun one: SQLAlchemy's asyncpg dialect sends BEGIN only before the first statement it
    runs itself, so a first statement run on the driver would otherwise commit on its own (an
    outbox relay's delete before Kafka acknowledged the records)."""
    raw = await conn.get_raw_connection()
    adapted: Any = raw.dbapi_connection
    if conn.in_transaction() and getattr(adapted, "_transaction", None) is None:
        await adapted._start_transaction()
    return raw.driver_connection


async def claim_events(conn: AsyncConnection, schema: str, event_ids: list[str]) -> set[str]:
    """Record event ids in the service's inbox; return those seen for the first time.

    Called inside the transaction that applies the events, so an event is applied exactly once
    however often Kafka redelivers it.
    """
    if not event_ids:
        return set()
    # the new ids come back as one array, not a row each: a third of the client's CPU per id
    claimed = await conn.scalar(
        sa.text(
            f"WITH claimed AS (INSERT INTO {schema}.inbox (event_id) SELECT "
            "unnest(CAST(:ids AS text[])) ON CONFLICT DO NOTHING RETURNING event_id) "
            "SELECT array_agg(event_id) FROM claimed"
        ),
        {"ids": event_ids},
    )
    return set(claimed or ())
