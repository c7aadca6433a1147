"""The durable delivery queue: a delivery row per notification to one receiver, written in the
transaction that decided it, claimed with a lease, every attempt recorded; nothing is deleted."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from alerting.store import jsonb, recordset

OUTCOMES = ("pending", "sending", "delivered", "failed")
LEASE_MS = 120_000  # a row leased to a worker: longer than any send, short enough to resume


async def enqueue(
    conn: AsyncConnection,
    *,
    idempotency_key: str,
    receiver: str,
    group_key: str,
    status: str,
    alerts: Sequence[Mapping[str, Any]],
    now: datetime,
    detected_at: datetime | None,
) -> int | None:
    """Queue one notification; None if this idempotency key is queued already (a replay of
    the decision that made it)."""
    row = await conn.execute(
        sa.text(
            "INSERT INTO alerting.deliveries (idempotency_key, receiver, group_key, status, "
            "alert_ids, alerts, state, next_attempt_at, detected_at, created_at) VALUES "
            "(:key, :receiver, :group_key, :status, :ids, CAST(:alerts AS jsonb), 'pending', "
            ":now, :detected_at, :now) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id"
        ),
        {
            "key": idempotency_key,
            "receiver": receiver,
            "group_key": group_key,
            "status": status,
            "ids": [str(a["alert_id"]) for a in alerts],
            "alerts": jsonb(list(alerts)),
            "now": now,
            "detected_at": detected_at,
        },
    )
    return row.scalar()


async def enqueue_many(
    conn: AsyncConnection,
    deliveries: Sequence[Mapping[str, Any]],
    *,
    lease_until: datetime | None = None,
    leased: int = 0,
) -> list[Any]:
    """Queue notifications (key, receiver, group_key, status, alerts, now, detected_at, lease);
    a key queued already is left as it is (a replay of the decision that made it). Those with
    `lease` true are written leased until `lease_until` (their first attempt begun: a claim
    without the round trip) and returned; if any."""
    if not deliveries:
        return []
    rows = [
        {
            **{k: d[k] for k in ("key", "receiver", "group_key", "status", "now")},
            "detected_at": d["detected_at"],
            "ids": [str(a["alert_id"]) for a in d["alerts"]],
            "alerts": list(d["alerts"]),
            "lease": bool(d.get("lease")),
        }
        for d in deliveries
    ]
    result = await conn.execute(
        sa.text(
            "INSERT INTO alerting.deliveries (idempotency_key, receiver, group_key, status, "
            "alert_ids, alerts, state, next_attempt_at, detected_at, created_at, lease_until, "
            "attempts) SELECT key, receiver, group_key, status, ids, alerts, CASE WHEN lease "
            "THEN 'sending' ELSE 'pending' END, now, detected_at, now, CASE WHEN lease THEN "
            "CAST(:lease AS timestamptz) END, CASE WHEN lease THEN 1 ELSE 0 END FROM "
            + recordset(
                "key text, receiver text, group_key text, status text, ids text[], "
                "alerts jsonb, now timestamptz, detected_at timestamptz, lease boolean"
            )
            + " ORDER BY ord ON CONFLICT (idempotency_key) DO NOTHING "
            + ("RETURNING *" if leased else "")
        ),
        {"rows": jsonb(rows), "lease": lease_until},
    )
    return [r for r in result if r.state == "sending"] if leased else []


async def claim(
    conn: AsyncConnection,
    *,
    now: datetime,
    lease_until: datetime,
    free: Mapping[str, int],
    default_free: int,
) -> list[Any]:
    """Take due deliveries (pending, or sending whose lease ran out: the worker that had them
    died) up to each receiver's free slots, and lease them."""
    # each receiver's due rows on their own: a receiver with a long backlog (one that was
    # down) takes only its share and cannot hide the others' deliveries behind it
    rows = (
        await conn.execute(
            sa.text(
                "SELECT d.id, d.receiver FROM (SELECT DISTINCT receiver FROM alerting.deliveries "
                "WHERE state IN ('pending', 'sending') AND next_attempt_at <= :now) r "
                "CROSS JOIN LATERAL (SELECT id, receiver FROM alerting.deliveries x "
                "WHERE x.receiver = r.receiver AND x.state IN ('pending', 'sending') "
                "AND x.next_attempt_at <= :now AND (x.lease_until IS NULL OR x.lease_until <= :now) "
                "ORDER BY x.next_attempt_at, x.id LIMIT :n FOR UPDATE SKIP LOCKED) d"
            ),
            {"now": now, "n": max(default_free, *free.values(), 1)},
        )
    ).all()
    taken: list[int] = []
    counts: dict[str, int] = {}
    for delivery_id, receiver in rows:
        if counts.get(receiver, 0) < free.get(receiver, default_free):
            counts[receiver] = counts.get(receiver, 0) + 1
            taken.append(delivery_id)
    if not taken:
        return []
    result = await conn.execute(
        sa.text(
            "UPDATE alerting.deliveries SET state = 'sending', lease_until = :lease, "
            "attempts = attempts + 1 WHERE id = ANY(:ids) RETURNING *"
        ),
        {"ids": taken, "lease": lease_until},
    )
    return list(result)


async def record_attempts(conn: AsyncConnection, outcomes: Sequence[Mapping[str, Any]]) -> None:
    """Write attempts (id, attempt, started_at, finished_at, outcome, detail, next_attempt_at)
    and move each delivery on: delivered, back to pending, or failed. One statement per kind
    for a whole round of sends."""
    if not outcomes:
        return
    await conn.execute(
        sa.text(
            "INSERT INTO alerting.delivery_attempts (delivery_id, attempt, started_at, "
            "finished_at, outcome, detail) SELECT id, attempt, started_at, finished_at, "
            "outcome, detail FROM "
            + recordset(
                "id bigint, attempt integer, started_at timestamptz, finished_at timestamptz, "
                "outcome text, detail text"
            )
            + " ORDER BY ord"
        ),
        {"rows": jsonb([{**o, "detail": str(o["detail"])[:2000]} for o in outcomes])},
    )
    states = {"delivered": "delivered", "retry": "pending", "failed": "failed"}
    await conn.execute(
        sa.text(
            "UPDATE alerting.deliveries d SET state = x.state, lease_until = NULL, "
            "next_attempt_at = COALESCE(x.next, d.next_attempt_at), last_error = x.err, "
            "delivered_at = CASE WHEN x.state = 'delivered' THEN x.f ELSE d.delivered_at END "
            "FROM "
            + recordset("id bigint, state text, next timestamptz, f timestamptz, err text")
            + " WHERE d.id = x.id"
        ),
        {
            "rows": jsonb(
                [
                    {
                        "state": states[o["outcome"]],
                        "next": o["next_attempt_at"],
                        "f": o["finished_at"],
                        "id": o["id"],
                        "err": None if o["outcome"] == "delivered" else str(o["detail"])[:2000],
                    }
                    for o in outcomes
                ]
            )
        },
    )


async def replay(conn: AsyncConnection, delivery_id: int, now: datetime) -> str | None:
    """Queue a delivery again (same idempotency key); its previous state, None if unknown."""
    row = (
        await conn.execute(
            sa.text("SELECT state FROM alerting.deliveries WHERE id = :id FOR UPDATE"),
            {"id": delivery_id},
        )
    ).first()
    if row is None:
        return None
    if row.state in ("failed", "delivered"):
        await conn.execute(
            sa.text(
                "UPDATE alerting.deliveries SET state = 'pending', next_attempt_at = :now, "
                "created_at = :now, lease_until = NULL WHERE id = :id"
            ),
            {"id": delivery_id, "now": now},
        )
    return str(row.state)


async def list_deliveries(
    conn: AsyncConnection,
    *,
    alert_id: str | None,
    receiver: str | None,
    outcome: str | None,
    limit: int,
) -> list[Any]:
    where: list[str] = []
    params: dict[str, object] = {"n": limit}
    if alert_id:
        where.append(":alert = ANY(alert_ids)")
        params["alert"] = alert_id
    if receiver:
        where.append("receiver = :receiver")
        params["receiver"] = receiver
    if outcome:
        where.append("state = :state")
        params["state"] = outcome
    clause = ("WHERE " + " AND ".join(where)) if where else ""
    rows = await conn.execute(
        sa.text(f"SELECT * FROM alerting.deliveries {clause} ORDER BY id DESC LIMIT :n"), params
    )
    return list(rows)


async def attempts_of(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, list[Any]]:
    rows = await conn.execute(
        sa.text(
            "SELECT * FROM alerting.delivery_attempts WHERE delivery_id = ANY(:ids) ORDER BY seq"
        ),
        {"ids": list(ids)},
    )
    out: dict[int, list[Any]] = {}
    for r in rows:
        out.setdefault(r.delivery_id, []).append(r)
    return out


async def depth(conn: AsyncConnection) -> int:
    row = await conn.execute(
        sa.text("SELECT count(*) FROM alerting.deliveries WHERE state IN ('pending', 'sending')")
    )
    return int(row.scalar_one())


async def release_leases(conn: AsyncConnection) -> int:
    """At start-up: deliveries left `sending` by a crash come due again at once (the receiver
    may see one twice, with the same Idempotency-Key; at least once, never lost)."""
    row = await conn.execute(
        sa.text(
            "UPDATE alerting.deliveries SET lease_until = NULL WHERE state = 'sending' RETURNING 1"
        )
    )
    return len(row.all())


async def release(conn: AsyncConnection, ids: Sequence[int]) -> None:
    """Hand back leases this instance holds (a planned stop): due again at once."""
    await conn.execute(
        sa.text(
            "UPDATE alerting.deliveries SET lease_until = NULL "
            "WHERE id = ANY(:ids) AND state = 'sending'"
        ),
        {"ids": list(ids)},
    )
