"""The alerting schema's queries: configuration resources, silences, alerts and their history."""

from __future__ import annotations

import secrets as random_secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from alerting.domain.alerts import Alert
from pacta.durations import datetime_to_ms, ms_to_datetime

SCHEMA = "alerting"


def jsonb(value: Any) -> str:
    return orjson.dumps(value).decode()


def recordset(columns: str) -> str:
    """`FROM` a batch of rows passed as one jsonb parameter `:rows`, in the order given: one
    statement, one parse and one executor run for a whole batch (an executemany runs the
    statement once per row, on both ends)."""
    names = ", ".join(c.split()[0] for c in columns.split(","))
    return (
        f"ROWS FROM (jsonb_to_recordset(CAST(:rows AS jsonb)) AS ({columns})) "
        f"WITH ORDINALITY AS x({names}, ord)"
    )


# ---- configuration ------------------------------------------------------------------------


async def put_config(
    conn: AsyncConnection, *, kind: str, name: str, body: Any, origin: str = "api"
) -> bool:
    """Insert or replace one resource; True if it is new."""
    row = await conn.execute(
        sa.text(
            "INSERT INTO alerting.config (kind, name, body, origin) "
            "VALUES (:kind, :name, CAST(:body AS jsonb), :origin) "
            "ON CONFLICT (kind, name) DO UPDATE SET body = EXCLUDED.body, "
            "origin = EXCLUDED.origin, updated_at = now() RETURNING (xmax = 0)"
        ),
        {"kind": kind, "name": name, "body": jsonb(body), "origin": origin},
    )
    return bool(row.scalar())


async def delete_config(conn: AsyncConnection, *, kind: str, name: str) -> bool:
    row = await conn.execute(
        sa.text("DELETE FROM alerting.config WHERE kind = :kind AND name = :name RETURNING 1"),
        {"kind": kind, "name": name},
    )
    return row.first() is not None


async def config_generation(conn: AsyncConnection) -> int:
    """The configuration's generation; inside a transaction that changed configuration (and
    so holds the counter's row), the generation of that change."""
    row = await conn.execute(sa.text("SELECT n FROM alerting.config_generation WHERE id = 1"))
    return int(row.scalar_one())


async def link_secret(conn: AsyncConnection) -> bytes:
    """The key signing acknowledge links, made once and shared by every instance."""
    await conn.execute(
        sa.text(
            "INSERT INTO alerting.secrets (name, value) VALUES ('ack_links', :v) "
            "ON CONFLICT DO NOTHING"
        ),
        {"v": random_secrets.token_bytes(32)},
    )
    row = await conn.execute(sa.text("SELECT value FROM alerting.secrets WHERE name='ack_links'"))
    return bytes(row.scalar_one())


# ---- silences -----------------------------------------------------------------------------


async def add_silence(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(
        sa.text(
            "INSERT INTO alerting.silences (id, matchers, starts_at, ends_at, comment, created_by, "
            "expire_on_resolve) VALUES (:id, CAST(:matchers AS jsonb), :starts_at, :ends_at, "
            ":comment, :created_by, :expire_on_resolve)"
        ),
        {**values, "matchers": jsonb(values["matchers"])},
    )


async def end_silences(conn: AsyncConnection, ids: Sequence[str], at: datetime) -> list[str]:
    rows = await conn.execute(
        sa.text(
            "UPDATE alerting.silences SET ends_at = GREATEST(starts_at, :at) "
            "WHERE id = ANY(:ids) AND ends_at > :at RETURNING id"
        ),
        {"ids": list(ids), "at": at},
    )
    return [r[0] for r in rows]


async def delete_pending_silence(conn: AsyncConnection, silence_id: str, at: datetime) -> bool:
    rows = await conn.execute(
        sa.text("DELETE FROM alerting.silences WHERE id = :id AND starts_at > :at RETURNING id"),
        {"id": silence_id, "at": at},
    )
    return rows.first() is not None


async def note_silenced(conn: AsyncConnection, silence_ids: Sequence[str], alert_id: str) -> None:
    await conn.execute(
        sa.text(
            "UPDATE alerting.silences SET matched = array_append(matched, :a) "
            "WHERE id = ANY(:ids) AND NOT (:a = ANY(matched))"
        ),
        {"ids": list(silence_ids), "a": alert_id},
    )


async def expire_on_resolve(conn: AsyncConnection, alert_id: str, at: datetime) -> list[str]:
    """End the expire_on_resolve silences that matched this alert once none of the alerts they
    matched is open any more."""
    rows = await conn.execute(
        sa.text(
            "UPDATE alerting.silences s SET ends_at = GREATEST(s.starts_at, :at) "
            "WHERE s.expire_on_resolve AND s.ends_at > :at AND :a = ANY(s.matched) "
            "AND NOT EXISTS (SELECT 1 FROM alerting.alerts a WHERE a.id = ANY(s.matched) "
            "AND a.state <> 'resolved') RETURNING s.id"
        ),
        {"a": alert_id, "at": at},
    )
    return [r[0] for r in rows]


async def list_silences(conn: AsyncConnection) -> list[dict[str, Any]]:
    rows = await conn.execute(
        sa.text("SELECT * FROM alerting.silences ORDER BY created_at DESC LIMIT 1000")
    )
    return [dict(r._mapping) for r in rows]


# ---- alerts -------------------------------------------------------------------------------


def alert_from_row(row: Any) -> Alert:
    return Alert(
        id=row.id,
        key=row.key,
        state=row.state,
        signal=row.signal,
        labels=row.labels,
        fired_at_ms=datetime_to_ms(row.fired_at),
        resolved_at_ms=datetime_to_ms(row.resolved_at) if row.resolved_at else None,
        acked_at_ms=datetime_to_ms(row.acked_at) if row.acked_at else None,
        acked_by=row.acked_by,
    )


async def open_alert(conn: AsyncConnection, key: str) -> Alert | None:
    row = (
        await conn.execute(
            sa.text(
                "SELECT * FROM alerting.alerts WHERE key = :k AND state <> 'resolved' FOR UPDATE"
            ),
            {"k": key},
        )
    ).first()
    return alert_from_row(row) if row else None


async def get_alert(conn: AsyncConnection, alert_id: str, lock: bool = False) -> Alert | None:
    sql = "SELECT * FROM alerting.alerts WHERE id = :id" + (" FOR UPDATE" if lock else "")
    row = (await conn.execute(sa.text(sql), {"id": alert_id})).first()
    return alert_from_row(row) if row else None


_SAVE = (
    "INSERT INTO alerting.alerts AS t (id, key, state, service, labels, signal, signals, "
    "fired_at, resolved_at, acked_at, acked_by, updated_at) SELECT id, key, state, service, "
    "labels, signal, sids, fired_at, resolved_at, acked_at, acked_by, now() FROM "
    + recordset(
        "id text, key text, state text, service text, labels jsonb, signal jsonb, sids text[], "
        "fired_at timestamptz, resolved_at timestamptz, acked_at timestamptz, acked_by text"
    )
    + " ORDER BY ord ON CONFLICT (id) DO UPDATE SET "
    "state = EXCLUDED.state, labels = EXCLUDED.labels, signal = EXCLUDED.signal, "
    "signals = t.signals || EXCLUDED.signals, "
    "resolved_at = EXCLUDED.resolved_at, acked_at = EXCLUDED.acked_at, "
    "acked_by = EXCLUDED.acked_by, updated_at = now()"
)


def _ts(ms: int | None) -> datetime | None:
    return ms_to_datetime(ms) if ms is not None else None


async def save_alerts(conn: AsyncConnection, alerts: Sequence[tuple[Alert, Sequence[str]]]) -> None:
    """Upsert alerts in the order given (a resolved one before the new episode of its key),
    appending the ids of the signals applied to each."""
    if not alerts:
        return
    rows = [
        {
            "id": a.id,
            "key": a.key,
            "state": a.state,
            "service": str(a.signal.get("service", "")),
            "labels": dict(a.labels),
            "signal": dict(a.signal),
            "sids": list(sids),
            "fired_at": ms_to_datetime(a.fired_at_ms),
            "resolved_at": _ts(a.resolved_at_ms),
            "acked_at": _ts(a.acked_at_ms),
            "acked_by": a.acked_by,
        }
        for a, sids in alerts
    ]
    await conn.execute(sa.text(_SAVE), {"rows": jsonb(rows)})


async def save_alert(conn: AsyncConnection, alert: Alert, signal_id: str | None = None) -> None:
    await save_alerts(conn, [(alert, [signal_id] if signal_id else [])])


async def open_alerts(conn: AsyncConnection, keys: Sequence[str]) -> dict[str, Alert]:
    """The open alert of each key, locked for this transaction."""
    rows = await conn.execute(
        sa.text(
            "SELECT * FROM alerting.alerts WHERE key = ANY(:k) AND state <> 'resolved' "
            "ORDER BY key FOR UPDATE"
        ),
        {"k": list(keys)},
    )
    return {r.key: alert_from_row(r) for r in rows}


async def add_history(
    conn: AsyncConnection, entries: Sequence[tuple[str, int, str, dict[str, Any]]]
) -> None:
    """(alert_id, at_ms, event, detail) rows of the alerts' histories."""
    if entries:
        rows = [{"a": a, "at": ms_to_datetime(t), "e": e, "d": d} for a, t, e, d in entries]
        await conn.execute(
            sa.text(
                "INSERT INTO alerting.alert_history (alert_id, at, event, detail) "
                "SELECT a, at, e, d FROM "
                + recordset("a text, at timestamptz, e text, d jsonb")
                + " ORDER BY ord"
            ),
            {"rows": jsonb(rows)},
        )


async def receivers_told(conn: AsyncConnection, alert_id: str) -> list[str]:
    """The receivers a firing notification of this alert was queued for."""
    rows = await conn.execute(
        sa.text(
            "SELECT DISTINCT receiver FROM alerting.deliveries "
            "WHERE alert_ids @> ARRAY[CAST(:a AS text)] AND status = 'firing' ORDER BY receiver"
        ),
        {"a": alert_id},
    )
    return [r[0] for r in rows]


async def add_receivers(conn: AsyncConnection, alert_ids: Sequence[str], receiver: str) -> None:
    await add_receivers_many(conn, [(receiver, alert_ids)])


async def add_receivers_many(
    conn: AsyncConnection, pairs: Sequence[tuple[str, Sequence[str]]]
) -> None:
    """(receiver, alert ids) pairs: note on each alert every receiver it reached."""
    # one row per alert, every new receiver at once: an UPDATE may touch a row only once
    wanted: dict[str, list[str]] = {}
    for receiver, ids in pairs:
        for alert_id in ids:
            names = wanted.setdefault(alert_id, [])
            if receiver not in names:
                names.append(receiver)
    if wanted:
        rows = [{"id": i, "r": names} for i, names in sorted(wanted.items())]
        await conn.execute(
            sa.text(
                "UPDATE alerting.alerts a SET receivers = a.receivers || ARRAY(SELECT n FROM "
                "unnest(x.r) WITH ORDINALITY AS u(n, o) WHERE NOT (n = ANY(a.receivers)) "
                "ORDER BY o) FROM "
                + recordset("id text, r text[]")
                + " WHERE a.id = x.id AND NOT (x.r <@ a.receivers)"
            ),
            {"rows": jsonb(rows)},
        )


async def list_alerts(
    conn: AsyncConnection, *, since: datetime, open_only: bool = False, limit: int = 5000
) -> list[Any]:
    where = "state <> 'resolved'" if open_only else "(fired_at >= :since OR state <> 'resolved')"
    rows = await conn.execute(
        sa.text(f"SELECT * FROM alerting.alerts WHERE {where} ORDER BY fired_at DESC LIMIT :n"),
        {"since": since, "n": limit},
    )
    return list(rows)


async def count_alerts(conn: AsyncConnection, *, since: datetime) -> list[tuple[str, int]]:
    rows = await conn.execute(
        sa.text(
            "SELECT state, count(*) FROM alerting.alerts WHERE fired_at >= :since "
            "OR state <> 'resolved' GROUP BY state"
        ),
        {"since": since},
    )
    return [(r[0], int(r[1])) for r in rows]


async def histories(conn: AsyncConnection, alert_ids: Sequence[str]) -> dict[str, list[Any]]:
    rows = await conn.execute(
        sa.text(
            "SELECT alert_id, at, event, detail FROM alerting.alert_history "
            "WHERE alert_id = ANY(:ids) ORDER BY seq"
        ),
        {"ids": list(alert_ids)},
    )
    out: dict[str, list[Any]] = {}
    for r in rows:
        out.setdefault(r.alert_id, []).append({"at": r.at, "event": r.event, "detail": r.detail})
    return out


async def open_alert_labels(conn: AsyncConnection) -> list[tuple[str, dict[str, str]]]:
    """(id, labels) of every firing or acknowledged alert: the possible inhibition sources."""
    rows = await conn.execute(
        sa.text("SELECT id, labels FROM alerting.alerts WHERE state <> 'resolved'")
    )
    return [(r.id, r.labels) for r in rows]
