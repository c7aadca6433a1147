"""The durable delivery queue: a delivery row per notification to one receiver, written in the
transaction that decided it, claimed with a lease, every attempt recorded; nothing is deleted."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from alerting.store.sql import build, jsonb, recordset
from pacta.db import driver_connection

LEASE_MS = 120_000  # a row leased to a worker: longer than any send, short enough to resume
State = Literal["pending", "sending", "delivered", "failed"]
Outcome = Literal["delivered", "retry", "failed"]
Status = Literal["firing", "resolved"]


class NewDelivery(NamedTuple):
    """A notification decided: queued in the deciding transaction. With `lease`, it is written
    leased to this process's worker (its first attempt begun: a claim without the round trip)."""

    idempotency_key: str
    receiver: str
    group_key: str
    status: Status
    alerts: tuple[Mapping[str, Any], ...]  # the webhook body's `alerts` entries
    now: datetime
    detected_at: datetime | None
    lease: bool = False


class DeliveryRow(NamedTuple):
    """A delivery as stored (a tuple: one is built per notification a batch leases, where a
    frozen dataclass of these fields cost a few microseconds)."""

    id: int
    idempotency_key: str
    receiver: str
    group_key: str
    status: Status
    alert_ids: tuple[str, ...]
    alerts: tuple[Mapping[str, Any], ...]
    state: State
    attempts: int
    next_attempt_at: datetime
    detected_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
    last_error: str | None

    @classmethod
    def of(cls, row: Row[Any]) -> DeliveryRow:
        return cls(
            id=row.id,
            idempotency_key=row.idempotency_key,
            receiver=row.receiver,
            group_key=row.group_key,
            status=row.status,
            alert_ids=tuple(row.alert_ids),
            alerts=tuple(row.alerts),
            state=row.state,
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            detected_at=row.detected_at,
            created_at=row.created_at,
            delivered_at=row.delivered_at,
            last_error=row.last_error,
        )


@dataclass(frozen=True)
class Attempt:
    """One attempt of a delivery and what it came to; `next_attempt_at` is set for a retry
    (it is not kept with the attempt: read back, it is None)."""

    delivery_id: int
    attempt: int
    started_at: datetime
    finished_at: datetime
    outcome: Outcome
    detail: str
    next_attempt_at: datetime | None = None

    @classmethod
    def of(cls, row: Row[Any]) -> Attempt:
        return build(cls, row)


class NewAttempt(NamedTuple):
    """A finished attempt as the worker records it (`record_attempts`), its instants in epoch
    milliseconds; read back, it is an `Attempt`. `next_attempt_ms` is set for a retry."""

    delivery_id: int
    attempt: int
    started_ms: int
    finished_ms: int
    outcome: Outcome
    detail: str
    next_attempt_ms: int | None = None


async def enqueue(conn: AsyncConnection, *, delivery: NewDelivery) -> int | None:
    """Queue one notification; its id, None if its idempotency key is queued already (a
    replay of the decision that made it)."""
    row = await conn.execute(
        sa.text(
            "INSERT INTO alerting.deliveries (idempotency_key, receiver, group_key, status, "
            "alert_ids, alerts, state, next_attempt_at, detected_at, created_at) VALUES "
            "(:key, :receiver, :group_key, :status, :ids, CAST(:alerts AS jsonb), 'pending', "
            ":now, :detected_at, :now) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id"
        ),
        {
            "key": delivery.idempotency_key,
            "receiver": delivery.receiver,
            "group_key": delivery.group_key,
            "status": delivery.status,
            "ids": [str(a["alert_id"]) for a in delivery.alerts],
            "alerts": jsonb(list(delivery.alerts)),
            "now": delivery.now,
            "detected_at": delivery.detected_at,
        },
    )
    found: int | None = row.scalar()
    return found


def enqueue_sql(rows: int = 1, lease_until: int = 2) -> str:
    """The insert of `enqueue_many`, its rows (`enqueue_rows`) and lease the parameters
    numbered `rows` and `lease_until`; it returns each written row's id, key and state."""
    return (
        "INSERT INTO alerting.deliveries (idempotency_key, receiver, group_key, status, "
        "alert_ids, alerts, state, next_attempt_at, detected_at, created_at, lease_until, "
        "attempts) SELECT key, receiver, group_key, status, ids, alerts, CASE WHEN lease "
        f"THEN 'sending' ELSE 'pending' END, now, detected_at, now, CASE WHEN lease THEN "
        f"CAST(${lease_until} AS timestamptz) END, CASE WHEN lease THEN 1 ELSE 0 END FROM "
        + recordset(
            "key text, receiver text, group_key text, status text, ids text[], "
            "alerts jsonb, now timestamptz, detected_at timestamptz, lease boolean",
            rows,
        )
        + " ORDER BY ord ON CONFLICT (idempotency_key) DO NOTHING "
        "RETURNING id, idempotency_key, state"
    )


_ENQUEUE_MANY = enqueue_sql()


async def enqueue_many(
    conn: AsyncConnection, *, deliveries: Sequence[NewDelivery], lease_until: datetime
) -> list[DeliveryRow]:
    """Queue notifications; a key queued already is left as it is (a replay of the decision
    that made it). Those with `lease` are written leased until `lease_until` and returned."""
    if not deliveries:
        return []
    raw = await driver_connection(conn)
    written = await raw.fetch(_ENQUEUE_MANY, enqueue_rows(deliveries), lease_until)
    return leased_rows(deliveries, [(r[0], r[1], r[2]) for r in written])


def enqueue_rows(deliveries: Sequence[NewDelivery]) -> str:
    """The deliveries of `enqueue_many` as its statement takes them."""
    rows = [
        {
            "key": d.idempotency_key,
            "receiver": d.receiver,
            "group_key": d.group_key,
            "status": d.status,
            "now": d.now,
            "detected_at": d.detected_at,
            "ids": [str(a["alert_id"]) for a in d.alerts],
            "alerts": list(d.alerts),
            "lease": d.lease,
        }
        for d in deliveries
    ]
    return jsonb(rows)


def leased_rows(
    deliveries: Sequence[NewDelivery], written: Sequence[tuple[int, str, str]]
) -> list[DeliveryRow]:
    """The rows written leased, of the (id, key, state) the insert returned: built from what
    was written (not read back: the alerts' jsonb would be decoded again); a key queued before
    is not among them (nothing was written)."""
    if not any(d.lease for d in deliveries):
        return []
    by_key = {d.idempotency_key: d for d in deliveries}
    out = []
    for delivery_id, key, state in written:
        if state != "sending":
            continue
        d = by_key[key]
        out.append(
            DeliveryRow(
                id=delivery_id,
                idempotency_key=d.idempotency_key,
                receiver=d.receiver,
                group_key=d.group_key,
                status=d.status,
                alert_ids=tuple(str(a["alert_id"]) for a in d.alerts),
                alerts=d.alerts,
                state="sending",
                attempts=1,
                next_attempt_at=d.now,
                detected_at=d.detected_at,
                created_at=d.now,
                delivered_at=None,
                last_error=None,
            )
        )
    return out


async def claim(
    conn: AsyncConnection,
    *,
    now: datetime,
    lease_until: datetime,
    free: Mapping[str, int],
    default_free: int,
) -> list[DeliveryRow]:
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
    for r in rows:
        if counts.get(r.receiver, 0) < free.get(r.receiver, default_free):
            counts[r.receiver] = counts.get(r.receiver, 0) + 1
            taken.append(r.id)
    if not taken:
        return []
    result = await conn.execute(
        sa.text(
            "UPDATE alerting.deliveries SET state = 'sending', lease_until = :lease, "
            "attempts = attempts + 1 WHERE id = ANY(:ids) RETURNING *"
        ),
        {"ids": taken, "lease": lease_until},
    )
    return [DeliveryRow.of(r) for r in result]


# an attempt's outcome and the state it moves its delivery to: a retry is pending again
_RECORD_ATTEMPTS = (
    "WITH r AS (SELECT id, attempt, to_timestamp(started / 1000.0) AS started_at, "
    "to_timestamp(finished / 1000.0) AS finished_at, outcome, detail, "
    "CASE outcome WHEN 'retry' THEN 'pending' ELSE outcome END AS state, "
    "to_timestamp(next / 1000.0) AS next, ord FROM "
    + recordset(
        "id bigint, attempt integer, started bigint, finished bigint, outcome text, "
        "detail text, next bigint"
    )
    + "), written AS (INSERT INTO alerting.delivery_attempts (delivery_id, attempt, "
    "started_at, finished_at, outcome, detail) SELECT id, attempt, started_at, finished_at, "
    "outcome, detail FROM r ORDER BY ord) "
    "UPDATE alerting.deliveries d SET state = r.state, lease_until = NULL, "
    "next_attempt_at = COALESCE(r.next, d.next_attempt_at), "
    "last_error = CASE WHEN r.outcome = 'delivered' THEN NULL ELSE r.detail END, "
    "delivered_at = CASE WHEN r.state = 'delivered' THEN r.finished_at ELSE d.delivered_at END "
    "FROM r WHERE d.id = r.id"
)


async def record_attempts(conn: AsyncConnection, *, attempts: Sequence[NewAttempt]) -> None:
    """Write attempts and move each delivery on: delivered, back to pending (a retry, due at
    its `next_attempt_ms`), or failed. One statement for a whole round of sends."""
    if not attempts:
        return
    rows = [
        {
            "id": a.delivery_id,
            "attempt": a.attempt,
            "started": a.started_ms,
            "finished": a.finished_ms,
            "outcome": a.outcome,
            "detail": a.detail[:2000],
            "next": a.next_attempt_ms,
        }
        for a in attempts
    ]
    await (await driver_connection(conn)).execute(_RECORD_ATTEMPTS, jsonb(rows))


async def replay(conn: AsyncConnection, *, delivery_id: int, now: datetime) -> str | None:
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


async def listing(
    conn: AsyncConnection,
    *,
    alert_id: str | None,
    receiver: str | None,
    state: State | None,
    limit: int,
) -> list[DeliveryRow]:
    """Deliveries newest first, of one alert, receiver or state if given."""
    where: list[str] = []
    params: dict[str, object] = {"n": limit}
    if alert_id:
        where.append(":alert = ANY(alert_ids)")
        params["alert"] = alert_id
    if receiver:
        where.append("receiver = :receiver")
        params["receiver"] = receiver
    if state:
        where.append("state = :state")
        params["state"] = state
    clause = ("WHERE " + " AND ".join(where)) if where else ""
    rows = await conn.execute(
        sa.text(f"SELECT * FROM alerting.deliveries {clause} ORDER BY id DESC LIMIT :n"), params
    )
    return [DeliveryRow.of(r) for r in rows]


async def attempts_of(conn: AsyncConnection, *, ids: Sequence[int]) -> dict[int, list[Attempt]]:
    rows = await conn.execute(
        sa.text(
            "SELECT * FROM alerting.delivery_attempts WHERE delivery_id = ANY(:ids) ORDER BY seq"
        ),
        {"ids": list(ids)},
    )
    out: dict[int, list[Attempt]] = {}
    for r in rows:
        out.setdefault(r.delivery_id, []).append(Attempt.of(r))
    return out


async def depth(conn: AsyncConnection) -> int:
    """Deliveries pending or being sent."""
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


async def renew(conn: AsyncConnection, *, ids: Sequence[int], lease_until: datetime) -> None:
    """Extend the leases this instance holds (rows waiting in its worker for a free slot):
    they stay its own while it lives, and come due again when it stops renewing them."""
    await conn.execute(
        sa.text(
            "UPDATE alerting.deliveries SET lease_until = :lease "
            "WHERE id = ANY(:ids) AND state = 'sending' AND lease_until IS NOT NULL"
        ),
        {"ids": list(ids), "lease": lease_until},
    )


async def release(conn: AsyncConnection, *, ids: Sequence[int]) -> None:
    """Hand back leases this instance holds (a planned stop): due again at once."""
    await conn.execute(
        sa.text(
            "UPDATE alerting.deliveries SET lease_until = NULL "
            "WHERE id = ANY(:ids) AND state = 'sending'"
        ),
        {"ids": list(ids)},
    )
