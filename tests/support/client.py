"""Small helpers the end-to-end tests share: posting events, polling tables, reading Kafka."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

INGEST_KEY = "test-ingest-key"
ADMIN_KEY = "test-admin-key"
# the events the sla-engine applied, one row each: its journals are its inbox (an id a ticket
# event and a monitoring event shared would be there twice), to query as a table
SLA_ENGINE_APPLIED = (
    "(SELECT event_id FROM sla_engine.ticket_events "
    "UNION ALL SELECT event_id FROM sla_engine.monitoring_events) AS applied"
)


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def ago(**kw: float) -> str:
    return iso(datetime.now(UTC) - timedelta(**kw))


def post(
    base: str, path: str, body: Any, key: str | None = INGEST_KEY, **kw: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    headers.update(kw.pop("headers", {}))
    return httpx.post(base + path, json=body, headers=headers, timeout=kw.pop("timeout", 15), **kw)


async def poll_value(
    conn: asyncpg.Connection, query: str, *args: Any, expect: Any, timeout: float = 30.0
) -> Any:
    """Run `query` until it returns `expect`; fail with the last value seen at the deadline."""
    deadline = time.monotonic() + timeout
    value: Any = None
    while time.monotonic() < deadline:
        try:
            value = await conn.fetchval(query, *args)
        except asyncpg.UndefinedTableError:
            value = None  # the service has not migrated yet
        if value == expect:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"{query!r} gave {value!r}, expected {expect!r} within {timeout}s")
