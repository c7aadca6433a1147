"""The service each PagerDuty alert (routing_key, dedup_key) fired for: a resolve carries only
the dedup_key, and PagerDuty clients send nothing else to find the service by."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection


async def remember(conn: AsyncConnection, routing_key: str, dedup_key: str, service: str) -> None:
    await conn.execute(
        sa.text(
            "INSERT INTO ingest.pagerduty_alerts (routing_key, dedup_key, service) "
            "VALUES (:r, :d, :s) ON CONFLICT (routing_key, dedup_key) "
            "DO UPDATE SET service = EXCLUDED.service, updated_at = now()"
        ),
        {"r": _digest(routing_key), "d": dedup_key, "s": service},
    )


async def service_of(conn: AsyncConnection, routing_key: str, dedup_key: str) -> str | None:
    row = await conn.execute(
        sa.text(
            "SELECT service FROM ingest.pagerduty_alerts WHERE routing_key = :r AND dedup_key = :d"
        ),
        {"r": _digest(routing_key), "d": dedup_key},
    )
    value = row.scalar_one_or_none()
    return str(value) if value is not None else None


def _digest(routing_key: str) -> str:
    # the routing_key may be the sender's API key: keep only a digest of it at rest
    return hashlib.sha256(routing_key.encode()).hexdigest()
