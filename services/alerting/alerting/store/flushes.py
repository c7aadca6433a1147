"""What a round of group flushes writes to four tables, in one statement: the deliveries queued,
the alerts the batch changed (with the receivers they reached), their history and the groups
the batch formed. One round trip and one executor run instead of four; each part is the
statement its own store module runs alone."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from alerting.domain import grouping
from alerting.domain.alerts import Alert
from alerting.store import alerts as alerts_store
from alerting.store import deliveries as deliveries_store
from alerting.store import groups as groups_store
from alerting.store.alerts import HistoryEntry
from alerting.store.deliveries import DeliveryRow, NewDelivery
from alerting.store.groups import NewGroup
from pacta.db import driver_connection


async def write(
    conn: AsyncConnection,
    *,
    deliveries: Sequence[NewDelivery],
    lease_until: datetime,
    alerts: Sequence[tuple[Alert, Sequence[str]]],
    receivers: Mapping[str, Sequence[str]],
    history: Sequence[HistoryEntry],
    groups: Sequence[NewGroup],
    states: Mapping[str, grouping.GroupState],
) -> list[DeliveryRow]:
    """As `deliveries.enqueue_many`, then `alerts.save` (with `receivers`), `alerts.add_history`
    and `groups.create` (with `states`), in one statement: the deliveries written leased, and
    `GroupFormedElsewhere` if a group exists already (the caller's transaction is rolled back).
    The parts touch different tables (the alerts' rows only in their upsert), so the snapshot
    they share sees what each would have seen alone."""
    parts: list[str] = []
    args: list[object] = []
    if deliveries:
        args += [deliveries_store.enqueue_rows(deliveries), lease_until]
        parts.append(f"d AS ({deliveries_store.enqueue_sql(len(args) - 1, len(args))})")
    if alerts:
        args.append(alerts_store.save_rows(alerts, receivers))
        parts.append(f"a AS ({alerts_store.save_sql(len(args))})")
    if history:
        args.append(alerts_store.history_rows(history))
        parts.append(f"h AS ({alerts_store.history_sql(len(args))})")
    if groups:
        args.append(groups_store.create_rows(groups, states))
        parts.append(f"g AS ({groups_store.create_sql(len(args))})")
    if not parts:
        return []
    # every part runs to its end whether the outer query reads it or not
    wanted = [
        "ARRAY(SELECT id FROM d)" if deliveries else "NULL::bigint[]",
        "ARRAY(SELECT idempotency_key FROM d)" if deliveries else "NULL::text[]",
        "ARRAY(SELECT state FROM d)" if deliveries else "NULL::text[]",
        "ARRAY(SELECT key FROM g)" if groups else "NULL::text[]",
    ]
    sql = "WITH " + ", ".join(parts) + " SELECT " + ", ".join(wanted)
    ids, keys, written, formed = await (await driver_connection(conn)).fetchrow(sql, *args)
    if groups:
        groups_store.check_formed(groups, formed)
    if not deliveries:
        return []
    return deliveries_store.leased_rows(deliveries, list(zip(ids, keys, written, strict=True)))
