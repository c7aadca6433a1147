"""What people do to alerts (acknowledge, resolve by hand) and to silences (expire), each in
one transaction with its consequences (escalation stops, receivers told, groups woken)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncConnection

from alerting import direct, flushing, pipeline, store
from alerting.context import Context
from alerting.domain.alerts import Alert, acknowledge, resolve_by_hand
from alerting.store.alerts import HistoryEntry
from pacta.durations import ms_to_datetime

Action = Callable[[AsyncConnection, Context, str, str, int], Awaitable[Alert | None]]
"""What a person does to one alert: (conn, ctx, alert id, by whom, now) -> the alert after it."""


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
        await _tell_pagerduty(conn, ctx, acked, now_ms)
    return acked


async def _tell_pagerduty(conn: AsyncConnection, ctx: Context, alert: Alert, now_ms: int) -> None:
    """PagerDuty keeps paging until it hears of the ack: every PagerDuty receiver (or receiver
    with a PagerDuty integration) that was told the alert fired is sent `acknowledge` now,
    not at the group's next notification (which may never come)."""
    for receiver in await store.alerts.receivers_of(conn, alert_id=alert.id):
        config = ctx.live.receivers.get(receiver)
        kinds = [getattr(c, "type", "") for c in getattr(config, "integrations", [config])]
        if "pagerduty" not in kinds:
            continue
        await direct.enqueue_direct(
            conn,
            ctx,
            alert=alert,
            receiver=receiver,
            status="firing",
            key_parts=("acknowledge", alert.id, receiver),
            group_key=f"acknowledge:{alert.id}",
            now_ms=now_ms,
            event="acknowledge notified",
        )


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
    at = ms_to_datetime(now_ms)
    if await store.silences.delete_pending(conn, silence_id=silence_id, at=at):
        # one that has not started is removed, as in Alertmanager: it never muted anything
        await direct.wake_silenced(conn, ctx, [])
        return True
    ended = await store.silences.end(conn, ids=[silence_id], at=at)
    if ended:
        await direct.wake_silenced(conn, ctx, ended)
    return bool(ended)
