"""Databases of a test's own on the real PostgreSQL: created, and dropped however the test ends.

Dropping races autovacuum: `DROP DATABASE ... WITH (FORCE)` terminates every other session on
the database, and a role that is not a superuser may not terminate an autovacuum worker that
happens to be working there ("must be a member of the role whose process is being
terminated"). The worker is done (or cancelled by a plain drop) within moments, so the drop is
tried again until a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine

from pacta.db import create_engine, migrate
from pacta.settings import CommonSettings

ADMIN_DSN = os.environ.get("PACTA_TEST_ADMIN_DSN", "postgresql://pacta:pacta@127.0.0.1:5432/pacta")
DROP_DEADLINE_SECONDS = 30.0


def alembic_config(migrations: Path, url: str, schema: str) -> Config:
    """Alembic's configuration of a service's migrations on `schema`, for `alembic.command`."""
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations))
    cfg.attributes["url"] = url
    cfg.attributes["schema"] = schema
    return cfg


def url_of(name: str) -> str:
    """The URL of database `name` on the admin DSN's server, with its credentials."""
    return ADMIN_DSN.rsplit("/", 1)[0] + "/" + name


async def create_database(name: str) -> str:
    """Create database `name` and return its URL."""
    admin = await asyncpg.connect(ADMIN_DSN, timeout=10)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return url_of(name)


async def drop_database(name: str) -> None:
    """Drop database `name` and every session still on it; absent already is fine."""
    deadline = time.monotonic() + DROP_DEADLINE_SECONDS
    admin = await asyncpg.connect(ADMIN_DSN, timeout=10)
    try:
        while True:
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                return
            except asyncpg.InsufficientPrivilegeError:
                # an autovacuum worker is on the database; it finishes or is cancelled shortly
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
    finally:
        await admin.close()


@contextlib.asynccontextmanager
async def database_named(name: str) -> AsyncIterator[str]:
    """Database `name`, its URL, dropped on exit."""
    url = await create_database(name)
    try:
        yield url
    finally:
        await drop_database(name)


@contextlib.asynccontextmanager
async def migrated_engine(name: str, schema: str, migrations: Path) -> AsyncIterator[AsyncEngine]:
    """An engine on database `name` of its own, migrated to one service's schema."""
    async with database_named(name) as database_url:
        url = CommonSettings(database_url=database_url).database_url
        await migrate(url, schema, migrations)
        engine = create_engine(url)
        try:
            yield engine
        finally:
            await engine.dispose()
