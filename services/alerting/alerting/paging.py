"""The on-call half of an escalation step: page whoever each schedule names at that moment,
through their own receivers, and say in the alert's history who was paged (or that nobody
was on call)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from alerting import direct, store
from alerting.context import Context
from alerting.domain.alerts import Alert
from alerting.domain.schedules import on_call
from alerting.metrics import ONCALL_PAGES
from alerting.store.alerts import HistoryEntry


async def page_schedules(
    conn: AsyncConnection,
    ctx: Context,
    *,
    alert: Alert,
    schedules: Sequence[str],
    route: str,
    policy: str,
    cycle: int,
    step: int,
    at_ms: int,
) -> set[str]:
    """The receivers reached through the users on call in `schedules` at `at_ms`."""
    reached: set[str] = set()
    for name in schedules:
        schedule = ctx.live.schedules.get(name)
        users = on_call(schedule, ctx.live.calendars, at_ms)[0] if schedule is not None else []
        if not users:
            # never a silent drop: the history says so, and the caller moves on at once
            detail = {"schedule": name, "step": step, "cycle": cycle}
            await store.alerts.add_history(
                conn, entries=[HistoryEntry(alert.id, at_ms, "nobody on call", detail)]
            )
            continue
        for user in users:
            receivers = ctx.live.users.get(user, ())
            for receiver in receivers:
                await direct.enqueue_direct(
                    conn,
                    ctx,
                    alert=alert,
                    receiver=receiver,
                    status="firing",
                    key_parts=("escalation", alert.id, route, cycle, step, receiver),
                    group_key=f"escalation:{policy}:{alert.id}",
                    now_ms=at_ms,
                    event="escalated",
                )
                reached.add(receiver)
            detail = {"schedule": name, "user": user, "receivers": list(receivers), "step": step}
            await store.alerts.add_history(
                conn, entries=[HistoryEntry(alert.id, at_ms, "paged", detail)]
            )
            ONCALL_PAGES.labels(name, user).inc()
    return reached
