"""The service each PagerDuty alert (routing_key, dedup_key) fired for: a resolve carries only
the dedup_key, and PagerDuty clients send nothing else to find the service by."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

#: An alert not triggered again for this long is forgotten (the events' 400-day window), so
#: the table stays bounded; re-triggers (Alertmanager's repeat_interval) keep an alert fresh.
RETENTION_DAYS = 400


async def remember(conn: AsyncConnection, routing_key: str, dedup_key: str, service: str) -> None:
    await conn.execute(
        sa.text(
            "INSERT INTO ingest.pagerduty_alerts (routing_key, dedup_key, service) "
            "VALUES (:r, :d, :s) ON CONFLICT (routing_key, dedup_key) "
            "DO UPDATE SET service = EXCLUDED.service, updated_at = now()"
        ),
        {"r": _digest(routing_key), "d": dedup_key, "s": service},
    )
    # PagerDuty senders are slow (PagerDuty allows 120 events a minute per key): an indexed
    # delete per trigger is cheap enough to need no pruning task of its own
    await conn.execute(
        sa.text(
            "DELETE FROM ingest.pagerduty_alerts "
            "WHERE updated_at < now() - make_interval(days => :days)"
        ),
        {"days": RETENTION_DAYS},
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
