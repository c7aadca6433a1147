"""The management review's actions, kept per month, service and nonconformity, and the
report's `nonconformities` lists built with them (docs/reporting.md, "Management review")."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from pacta.durations import ms_to_datetime
from reporting.domain.review import nonconformities
from reporting.store import q


async def actions(
    conn: AsyncConnection, schema: str, month: str, services: list[str]
) -> dict[str, dict[str, str]]:
    rows = await conn.execute(
        sa.text(
            f"SELECT service, item, action FROM {q(schema)}.annotations "
            "WHERE month = :m AND service = ANY(:s)"
        ),
        {"m": month, "s": services},
    )
    out: dict[str, dict[str, str]] = {}
    for service, item, action in rows:
        out.setdefault(service, {})[item] = action
    return out


async def annotate(
    conn: AsyncConnection,
    schema: str,
    *,
    month: str,
    service: str,
    item: str,
    action: str | None,
    now_ms: int,
) -> None:
    """Record (or, with None, withdraw) the action decided for one nonconformity."""
    s = q(schema)
    if action is None:
        await conn.execute(
            sa.text(f"DELETE FROM {s}.annotations WHERE month = :m AND service = :s AND item = :i"),
            {"m": month, "s": service, "i": item},
        )
        return
    await conn.execute(
        sa.text(
            f"INSERT INTO {s}.annotations (month, service, item, action, updated_at) "
            "VALUES (:m, :s, :i, :a, :at) ON CONFLICT (month, service, item) "
            "DO UPDATE SET action = EXCLUDED.action, updated_at = EXCLUDED.updated_at"
        ),
        {"m": month, "s": service, "i": item, "a": action, "at": ms_to_datetime(now_ms)},
    )


async def with_review(conn: AsyncConnection, schema: str, report: dict[str, Any]) -> dict[str, Any]:
    """Each service's `nonconformities`, with the actions recorded so far."""
    services = [s["service"] for s in report["services"]]
    found = await actions(conn, schema, report["month"], services)
    restated = report.get("restatements") or []
    for svc in report["services"]:
        svc["nonconformities"] = nonconformities(svc, restated, found.get(svc["service"], {}))
    return report
