"""The sla_engine.signals table: signals recorded under their ids (a signal is emitted at most
once, ever), which of them stand and which were retracted."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from sla_engine.clocks.store import OPEN_TICKETS

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
    result = await conn.execute(
        sa.text(
            "SELECT ticket_id, metric, kind, threshold, episode, count(*) "
            f"FROM sla_engine.signals WHERE retracted AND {_CLOCK_KINDS} "
            "AND ticket_id = ANY(:ids) GROUP BY 1, 2, 3, 4, 5"
        ),
        {"ids": ticket_ids},
    )
    return {(r[0], r[1], r[2], float(r[3]), int(r[4])): int(r[5]) for r in result}


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
    return SignalRecord(body, orjson.dumps(body), threshold, episode)


_INSERT_SIGNALS = (
    "INSERT INTO sla_engine.signals (signal_id, kind, service, ticket_id, metric, "
    "threshold, occurred_at, detected_at, episode, body) "
    "SELECT id, kind, service, ticket_id, metric, threshold, CAST(occurred AS timestamptz), "
    "CAST(detected AS timestamptz), episode, CAST(body AS jsonb) FROM unnest("
    "CAST(:ids AS text[]), CAST(:kinds AS text[]), CAST(:services AS text[]), "
    "CAST(:tickets AS text[]), CAST(:metrics AS text[]), CAST(:thresholds AS float8[]), "
    "CAST(:occurred AS text[]), CAST(:detected AS text[]), CAST(:episodes AS int[]), "
    "CAST(:bodies AS text[])) AS s(id, kind, service, ticket_id, metric, threshold, occurred, "
    "detected, episode, body) "
    "ON CONFLICT DO NOTHING RETURNING signal_id"
)


async def insert_signals(conn: AsyncConnection, *, signals: Sequence[SignalRecord]) -> set[str]:
    """Insert signals; return the ids that are new (a signal is emitted at most once, ever).
    The columns go as arrays, so PostgreSQL parses each body once, as the jsonb it keeps."""
    if not signals:
        return set()
    bodies = [s.body for s in signals]
    result = await conn.execute(
        sa.text(_INSERT_SIGNALS),
        {
            "ids": [b["signal_id"] for b in bodies],
            "kinds": [b["kind"] for b in bodies],
            "services": [b["service"] for b in bodies],
            "tickets": [b["ticket_id"] for b in bodies],
            "metrics": [b["metric"] for b in bodies],
            "thresholds": [
                s.body["threshold"] if s.threshold is None else s.threshold for s in signals
            ],
            "occurred": [b["occurred_at"] for b in bodies],
            "detected": [b["detected_at"] for b in bodies],
            "episodes": [s.episode for s in signals],
            "bodies": [s.raw.decode() for s in signals],
        },
    )
    return {r[0] for r in result}


async def mark_retracted(conn: AsyncConnection, *, signal_ids: list[str]) -> None:
    if signal_ids:
        await conn.execute(
            sa.text("UPDATE sla_engine.signals SET retracted = true WHERE signal_id = ANY(:ids)"),
            {"ids": signal_ids},
        )
