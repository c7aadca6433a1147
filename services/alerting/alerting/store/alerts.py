"""Alerts as stored: their state, routing labels and latest signal, the signals applied to each,
the receivers each reached, and their history."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from alerting.domain.alerts import Alert, signal_body
from alerting.store.sql import jsonb, ms, recordset, ts
from pacta.db import driver_connection
from pacta.durations import datetime_to_ms, ms_to_datetime
from pacta.events import Signal


def alert_of(row: Mapping[Any, Any]) -> Alert:
    """The one builder of an `Alert` from a row of `alerting.alerts` (a driver's record, or a
    SQLAlchemy row's `_mapping`)."""
    return Alert(
        id=row["id"],
        key=row["key"],
        state=row["state"],
        signal=Signal.model_validate(row["signal"]),
        labels=row["labels"],
        fired_at_ms=datetime_to_ms(row["fired_at"]),
        resolved_at_ms=ms(row["resolved_at"]),
        acked_at_ms=ms(row["acked_at"]),
        acked_by=row["acked_by"],
    )


@dataclass(frozen=True)
class AlertRecord:
    """An alert with what the API shows beside it: whom it reached and the signals applied."""

    alert: Alert
    receivers: tuple[str, ...]
    signals: tuple[str, ...]

    @classmethod
    def of(cls, row: Row[Any]) -> AlertRecord:
        return cls(alert_of(row._mapping), tuple(row.receivers), tuple(row.signals))


class HistoryEntry(NamedTuple):
    """One event of an alert's history, as written."""

    alert_id: str
    at_ms: int
    event: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class HistoryRow:
    """One event of an alert's history, as read."""

    at: datetime
    event: str
    detail: dict[str, Any]


async def get(conn: AsyncConnection, *, alert_id: str, lock: bool = False) -> Alert | None:
    sql = "SELECT * FROM alerting.alerts WHERE id = :id" + (" FOR UPDATE" if lock else "")
    row = (await conn.execute(sa.text(sql), {"id": alert_id})).first()
    return alert_of(row._mapping) if row else None


async def get_record(conn: AsyncConnection, *, alert_id: str) -> AlertRecord | None:
    row = (
        await conn.execute(sa.text("SELECT * FROM alerting.alerts WHERE id = :i"), {"i": alert_id})
    ).first()
    return AlertRecord.of(row) if row else None


def open_by_key_sql(param: int = 1) -> str:
    """The open alert of each key, locked for the transaction (`inbox.claim_locking` runs it
    with the inbox's claim); the keys the parameter numbered `param`."""
    return (
        f"SELECT * FROM alerting.alerts WHERE key = ANY(${param}::text[]) "
        "AND state <> 'resolved' ORDER BY key FOR UPDATE"
    )


def save_sql(param: int = 1) -> str:
    """The upsert of `save`, its rows (`save_rows`) the parameter numbered `param`."""
    return (
        "INSERT INTO alerting.alerts AS t (id, key, state, service, labels, signal, signals, "
        "receivers, fired_at, resolved_at, acked_at, acked_by, updated_at) SELECT id, key, "
        "state, service, labels, signal, sids, r, fired_at, resolved_at, acked_at, acked_by, "
        "now() FROM "
        + recordset(
            "id text, key text, state text, service text, labels jsonb, signal jsonb, "
            "sids text[], r text[], fired_at timestamptz, resolved_at timestamptz, "
            "acked_at timestamptz, acked_by text",
            param,
        )
        + _UPSERT
    )


_UPSERT = (
    " ORDER BY ord ON CONFLICT (id) DO UPDATE SET "
    "state = EXCLUDED.state, labels = EXCLUDED.labels, signal = EXCLUDED.signal, "
    "signals = t.signals || EXCLUDED.signals, "
    "receivers = t.receivers || ARRAY(SELECT n FROM unnest(EXCLUDED.receivers) WITH ORDINALITY "
    "AS u(n, o) WHERE NOT (n = ANY(t.receivers)) ORDER BY o), "
    "resolved_at = EXCLUDED.resolved_at, acked_at = EXCLUDED.acked_at, "
    "acked_by = EXCLUDED.acked_by, updated_at = now()"
)
_SAVE = save_sql()


async def save(
    conn: AsyncConnection,
    *,
    alerts: Sequence[tuple[Alert, Sequence[str]]],
    receivers: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """Upsert alerts in the order given (a resolved one before the new episode of its key),
    appending the ids of the signals applied to each and the `receivers` it reached (by alert
    id: a new alert is written with them, not written and then updated)."""
    if alerts:
        await (await driver_connection(conn)).execute(_SAVE, save_rows(alerts, receivers))


def save_rows(
    alerts: Sequence[tuple[Alert, Sequence[str]]],
    receivers: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """The rows of `save` as its statement takes them."""
    reached = receivers or {}
    rows = [
        {
            "id": a.id,
            "key": a.key,
            "state": a.state,
            "service": a.signal.service,
            "labels": dict(a.labels),
            "signal": signal_body(a.signal),
            "sids": list(sids),
            "r": list(reached.get(a.id, ())),
            "fired_at": ms_to_datetime(a.fired_at_ms),
            "resolved_at": ts(a.resolved_at_ms),
            "acked_at": ts(a.acked_at_ms),
            "acked_by": a.acked_by,
        }
        for a, sids in alerts
    ]
    return jsonb(rows)


def history_sql(param: int = 1) -> str:
    """The insert of `add_history`, its rows (`history_rows`) the parameter numbered `param`."""
    return (
        "INSERT INTO alerting.alert_history (alert_id, at, event, detail) SELECT a, at, e, d "
        "FROM " + recordset("a text, at timestamptz, e text, d jsonb", param) + " ORDER BY ord"
    )


_HISTORY = history_sql()


async def add_history(conn: AsyncConnection, *, entries: Sequence[HistoryEntry]) -> None:
    if entries:
        await (await driver_connection(conn)).execute(_HISTORY, history_rows(entries))


def history_rows(entries: Sequence[HistoryEntry]) -> str:
    """The entries of `add_history` as its statement takes them."""
    return jsonb(
        [
            {"a": e.alert_id, "at": ms_to_datetime(e.at_ms), "e": e.event, "d": e.detail}
            for e in entries
        ]
    )


_RECEIVERS = (
    "UPDATE alerting.alerts a SET receivers = a.receivers || ARRAY(SELECT n FROM "
    "unnest(x.r) WITH ORDINALITY AS u(n, o) WHERE NOT (n = ANY(a.receivers)) ORDER BY o) FROM "
    + recordset("id text, r text[]")
    + " WHERE a.id = x.id AND NOT (x.r <@ a.receivers)"
)


def reached_by(pairs: Sequence[tuple[str, Sequence[str]]]) -> dict[str, list[str]]:
    """(receiver, alert ids) pairs as each alert's receivers, in the order reached, once each."""
    wanted: dict[str, list[str]] = {}
    for receiver, ids in pairs:
        for alert_id in ids:
            names = wanted.setdefault(alert_id, [])
            if receiver not in names:
                names.append(receiver)
    return wanted


async def add_receivers(
    conn: AsyncConnection,
    *,
    pairs: Sequence[tuple[str, Sequence[str]]] = (),
    reached: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """(receiver, alert ids) pairs, or each alert's receivers (`reached_by`): note on each alert
    every receiver it reached."""
    # one row per alert, every new receiver at once: an UPDATE may touch a row only once
    wanted = reached if reached is not None else reached_by(pairs)
    if wanted:
        rows = [{"id": i, "r": list(names)} for i, names in sorted(wanted.items())]
        await (await driver_connection(conn)).execute(_RECEIVERS, jsonb(rows))


async def receivers_of(conn: AsyncConnection, *, alert_id: str) -> list[str]:
    """The receivers a notification of this alert was queued for, sorted: each was told it
    fired first (a resolved one goes only to those told it fired)."""
    found = await conn.scalar(
        sa.text("SELECT receivers FROM alerting.alerts WHERE id = :i"), {"i": alert_id}
    )
    return sorted(found or ())


async def recent(conn: AsyncConnection, *, since: datetime, limit: int = 5000) -> list[AlertRecord]:
    """Alerts fired since `since`, and any older one still open; newest first."""
    rows = await conn.execute(
        sa.text(
            "SELECT * FROM alerting.alerts WHERE (fired_at >= :since OR state <> 'resolved') "
            "ORDER BY fired_at DESC LIMIT :n"
        ),
        {"since": since, "n": limit},
    )
    return [AlertRecord.of(r) for r in rows]


async def count_by_state(conn: AsyncConnection, *, since: datetime) -> dict[str, int]:
    rows = await conn.execute(
        sa.text(
            "SELECT state, count(*) AS n FROM alerting.alerts WHERE fired_at >= :since "
            "OR state <> 'resolved' GROUP BY state"
        ),
        {"since": since},
    )
    return {str(r.state): int(r.n) for r in rows}


async def histories(
    conn: AsyncConnection, *, alert_ids: Sequence[str]
) -> dict[str, list[HistoryRow]]:
    rows = await conn.execute(
        sa.text(
            "SELECT alert_id, at, event, detail FROM alerting.alert_history "
            "WHERE alert_id = ANY(:ids) ORDER BY seq"
        ),
        {"ids": list(alert_ids)},
    )
    out: dict[str, list[HistoryRow]] = {}
    for r in rows:
        out.setdefault(r.alert_id, []).append(HistoryRow(r.at, r.event, r.detail))
    return out


async def open_labels(conn: AsyncConnection) -> list[tuple[str, dict[str, str]]]:
    """(id, labels) of every firing or acknowledged alert: the possible inhibition sources."""
    rows = await conn.execute(
        sa.text("SELECT id, labels FROM alerting.alerts WHERE state <> 'resolved'")
    )
    return [(r.id, r.labels) for r in rows]
