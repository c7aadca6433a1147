"""What people do to alerts (acknowledge, resolve by hand) and to silences (expire), each in
one transaction with its consequences (escalation stops, receivers told, groups woken)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from alerting import direct, flushing, pipeline, store
from alerting.context import Context
from alerting.domain.alerts import Alert, acknowledge, resolve_by_hand
from alerting.store.alerts import HistoryEntry
from pacta.durations import ms_to_datetime


async def ack(
    conn: AsyncConnection, ctx: Context, alert_id: str, by: str, now_ms: int
) -> Alert | None:
    """Acknowledge: escalation and repeats stop; a resolved alert stays resolved."""
    alert = await store.alerts.get(conn, alert_id=alert_id, lock=True)
    if alert is None:
        return None
    acked = acknowledge(alert, by, now_ms)
    if acked is not alert:
        await store.alerts.save(conn, alerts=[(acked, [])])
        entry = HistoryEntry(alert.id, now_ms, "acknowledged", {"by": by})
        await store.alerts.add_history(conn, entries=[entry])
    return acked


async def resolve(
    conn: AsyncConnection, ctx: Context, alert_id: str, by: str, now_ms: int
) -> Alert | None:
    """Resolve by hand: the receivers that were told it fired are told it resolved."""
    alert = await store.alerts.get(conn, alert_id=alert_id, lock=True)
    if alert is None:
        return None
    done = resolve_by_hand(alert, now_ms)
    if done is not alert:
        await store.alerts.save(conn, alerts=[(done, [])])
        entry = HistoryEntry(alert.id, now_ms, "resolved", {"by": by})
        await store.alerts.add_history(conn, entries=[entry])
        touched = await pipeline.close(conn, ctx, done, now_ms)
        await flushing.flush_due(conn, ctx, now_ms, keys=sorted(touched))
    return done


async def expire_silence(conn: AsyncConnection, ctx: Context, silence_id: str, now_ms: int) -> bool:
    ended = await store.silences.end(conn, ids=[silence_id], at=ms_to_datetime(now_ms))
    if ended:
        await direct.wake_silenced(conn, ctx, ended)
    return bool(ended)
