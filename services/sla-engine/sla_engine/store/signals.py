"""The sla_engine.signals table: signals recorded under their ids (a signal is emitted at most
once, ever), which of them stand and which were retracted."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from sla_engine.clocks.store import OPEN_TICKETS
from sla_engine.kafka.records import json_value
from sla_engine.store import driver_connection

_CLOCK_KINDS = "kind IN ('warning', 'breach', 'met', 'stopped')"
SignalKey = tuple[str, str, str, float, int]


async def standing_keys(
    raw: Any, *, ticket_ids: list[str] | None
) -> list[tuple[SignalKey, dict[str, Any]]]:
    """(ticket_id, metric, kind, threshold, episode) of the clock signals emitted and not
    retracted, for the given tickets (None: every ticket with an open clock), each with the
    fields of its body that say what it says (`body_stamp`); the columns hold what the body
    holds (`insert_signals` fills them from it)."""
    where = f"NOT retracted AND {_CLOCK_KINDS}"
    fields = ", ".join(f"body->>'{f}'" for f in _STAMP_FIELDS)
    columns = f"ticket_id, metric, kind, threshold, episode, {fields}"
    if ticket_ids is None:
        rows = await raw.fetch(
            f"SELECT {columns} FROM sla_engine.signals "
            f"WHERE {where} AND ticket_id IN ({OPEN_TICKETS})"
        )
    else:
        rows = await raw.fetch(
            f"SELECT {columns} FROM sla_engine.signals "
            f"WHERE {where} AND ticket_id = ANY($1::text[])",
            ticket_ids,
        )
    return [
        (
            (r[0], r[1], r[2], float(r[3]), int(r[4])),
            {f: _typed(f, r[5 + n]) for n, f in enumerate(_STAMP_FIELDS)},
        )
        for r in rows
    ]


_STAMP_FIELDS = (
    "occurred_at",
    "deadline",
    "priority",
    "policy",
    "policy_version",
    "calendar_version",
    "target_seconds",
    "elapsed_seconds",
)


def _typed(field: str, text: str | None) -> Any:
    if text is None or field in ("occurred_at", "deadline", "priority", "policy"):
        return text
    return float(text) if field.endswith("_seconds") else int(text)


async def retracted_counts(conn: AsyncConnection, *, ticket_ids: list[str]) -> dict[SignalKey, int]:
    """How often each clock condition of these tickets was signalled and then retracted (the
    next occurrence of it takes the next id)."""
    if not ticket_ids:
        return {}
    # on the driver: asked by every batch or timer round that signals for a ticket it did not
    # see begin, and SQLAlchemy's execute costs more than the small statement
    raw = await driver_connection(conn)
    rows = await raw.fetch(_RETRACTED_COUNTS, ticket_ids)
    return {(r[0], r[1], r[2], float(r[3]), int(r[4])): int(r[5]) for r in rows}


_RETRACTED_COUNTS = (
    "SELECT ticket_id, metric, kind, threshold, episode, count(*) "
    f"FROM sla_engine.signals WHERE retracted AND {_CLOCK_KINDS} "
    "AND ticket_id = ANY(CAST($1 AS text[])) GROUP BY 1, 2, 3, 4, 5"
)


async def standing_signals(
    conn: AsyncConnection, *, ticket_ids: list[str]
) -> dict[str, dict[SignalKey, dict[str, Any]]]:
    """Clock signals emitted per ticket and not retracted, by key (what a replay is diffed
    against)."""
    result = await conn.execute(
        sa.text(
            "SELECT ticket_id, metric, kind, threshold, episode, body FROM sla_engine.signals "
            f"WHERE ticket_id = ANY(:ids) AND NOT retracted AND {_CLOCK_KINDS}"
        ),
        {"ids": ticket_ids},
    )
    out: dict[str, dict[SignalKey, dict[str, Any]]] = {t: {} for t in ticket_ids}
    for ticket_id, metric, kind, threshold, episode, body in result:
        out[ticket_id][(ticket_id, metric, kind, float(threshold), int(episode))] = body
    return out


class SignalRecord(NamedTuple):
    """A signal on its way to the signals table and the outbox: its body as the signals topic
    carries it (`Signal.model_dump(mode="json")`), that body's JSON (serialised once, for the
    table and the outbox alike), and its condition's key columns."""

    body: dict[str, Any]
    raw: bytes
    threshold: float | None
    """In the clock's terms (a `warn_before` mark is not the fraction the body shows); None:
    the body's."""
    episode: int

    @property
    def signal_id(self) -> str:
        return str(self.body["signal_id"])


def signal_record(
    body: dict[str, Any], *, threshold: float | None = None, episode: int = 1
) -> SignalRecord:
    return SignalRecord(body, json_value(body), threshold, episode)


_INSERT_SIGNALS = (
    # the bodies as one JSON array, whose fields the columns take (one parameter: the driver
    # encodes an array element by element, and ten arrays cost it more than the statement),
    # beside the two columns a body does not hold as such
    "INSERT INTO sla_engine.signals (signal_id, kind, service, ticket_id, metric, "
    "threshold, occurred_at, detected_at, episode, body) "
    "SELECT b ->> 'signal_id', b ->> 'kind', b ->> 'service', b ->> 'ticket_id', "
    "b ->> 'metric', x.threshold, CAST(b ->> 'occurred_at' AS timestamptz), "
    "CAST(b ->> 'detected_at' AS timestamptz), x.episode, b "
    "FROM jsonb_array_elements(CAST($1 AS jsonb)) WITH ORDINALITY AS j(b, n) "
    "JOIN unnest(CAST($2 AS float8[]), CAST($3 AS int[])) WITH ORDINALITY "
    "AS x(threshold, episode, n) USING (n) "
    "ON CONFLICT DO NOTHING RETURNING signal_id"
)


async def insert_signals(conn: AsyncConnection, *, signals: Sequence[SignalRecord]) -> set[str]:
    """Insert signals; return the ids that are new (a signal is emitted at most once, ever).
    PostgreSQL parses each body once, as the jsonb it keeps, and takes the columns from it."""
    if not signals:
        return set()
    raw = await driver_connection(conn)  # no SQLAlchemy compile or rows: the event path's
    rows = await raw.fetch(
        _INSERT_SIGNALS,
        (b"[" + b",".join([s.raw for s in signals]) + b"]").decode(),
        [s.body["threshold"] if s.threshold is None else s.threshold for s in signals],
        [s.episode for s in signals],
    )
    return {r[0] for r in rows}


async def mark_retracted(conn: AsyncConnection, *, signal_ids: list[str]) -> None:
    if signal_ids:
        await conn.execute(
            sa.text("UPDATE sla_engine.signals SET retracted = true WHERE signal_id = ANY(:ids)"),
            {"ids": signal_ids},
        )
