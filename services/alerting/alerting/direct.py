"""Notifications of one alert outside any group: escalation steps, the resolve that reaches
whom an escalation paged, and waking the groups a silence held back once it ends."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from alerting import store
from alerting.context import Context
from alerting.domain.alerts import Alert
from alerting.flushing import idempotency_key, newest_detected
from alerting.live import load_silences
from alerting.store.alerts import HistoryEntry
from alerting.store.deliveries import NewDelivery, Status
from pacta.durations import ms_to_datetime


async def enqueue_direct(
    conn: AsyncConnection,
    ctx: Context,
    *,
    alert: Alert,
    receiver: str,
    status: Status,
    key_parts: Sequence[object],
    group_key: str,
    now_ms: int,
    event: str,
) -> None:
    """A notification of one alert outside any group (escalation steps and their resolve)."""
    state = "resolved" if status == "resolved" else alert.state
    delivery = NewDelivery(
        idempotency_key=idempotency_key(*key_parts),
        receiver=receiver,
        group_key=group_key,
        status=status,
        alerts=(ctx.entry(alert, state, now_ms),),
        now=ms_to_datetime(now_ms),
        detected_at=newest_detected([alert], {alert.id}) if event == "escalated" else None,
    )
    delivery_id = await store.deliveries.enqueue(conn, delivery=delivery)
    if delivery_id is not None:
        await store.alerts.add_receivers(conn, pairs=[(receiver, [alert.id])])
        detail = {"receiver": receiver, "delivery_id": delivery_id}
        await store.alerts.add_history(
            conn, entries=[HistoryEntry(alert.id, now_ms, event, detail)]
        )


async def close_escalations(
    conn: AsyncConnection, ctx: Context, alerts: Sequence[Alert], now_ms: int
) -> None:
    """The alerts resolved: escalation stops, and every receiver each reached hears so (alert
    after alert, in the order given: one statement for all of them)."""
    by_id = {a.id: a for a in alerts}
    order = {alert_id: n for n, alert_id in enumerate(by_id)}
    rows = await store.escalations.close(conn, alert_ids=list(by_id))
    for row in sorted(rows, key=lambda r: order[r.alert_id]):
        alert = by_id[row.alert_id]
        for receiver in row.notified:
            await enqueue_direct(
                conn,
                ctx,
                alert=alert,
                receiver=receiver,
                status="resolved",
                key_parts=("escalation-resolved", alert.id, row.route, receiver),
                group_key=f"escalation:{row.policy}:{alert.id}",
                now_ms=now_ms,
                event="resolve notified",
            )


async def wake_silenced(conn: AsyncConnection, ctx: Context, silence_ids: Sequence[str]) -> None:
    """Silences ended early: reload them and flush the groups they held back now."""
    generation = await store.config.generation(conn)
    silences = await load_silences(conn)
    # before the commit (the consumer's transaction ends elsewhere): a rollback leaves this
    # instance ahead until the next change, and the signal's redelivery does it again anyway
    ctx.live.patch(generation, ("silences", "all"), lambda: setattr(ctx.live, "silences", silences))
    await store.groups.wake_held_by(conn, silence_ids=silence_ids)
    ctx.dispatch_wake.set()
