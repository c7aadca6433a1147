"""The journal of ticket and monitoring events (each event once, as it came), and what a
replay reads of it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, TypedDict

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from pacta.events import MonitoringEvent, TicketAction
from sla_engine.availability.store import Check, Tail, tail_of
from sla_engine.kafka.tickets import TicketRecord
from sla_engine.store import driver_connection


class TicketBody(TypedDict, total=False):
    """A ticket event as the journal holds it (`TicketEvent.model_dump(mode="json")`): what a
    replay reads. The keys a replay uses are listed; the others ride along."""

    id: str | None
    ticket_id: str
    service: str
    customer: str | None
    type: str
    action: TicketAction
    status: str | None
    priority: str | None
    occurred_at: str
    labels: dict[str, str]


_CLAIM_AND_JOURNAL = (
    # the ticket events come as one JSON array of their journal bodies, whose fields the
    # columns take (one parameter: the driver encodes an array element by element, five per
    # event). The journals are the inbox: an event is claimed when its journal takes its id
    # (each is keyed by event id and never pruned), unless the other journal or the inbox (ids
    # an engine before migration 0008 claimed without a journal row) holds the id: one
    # namespace across both kinds, as when the inbox took them all. Data-modifying CTEs run on
    # one snapshot: a ticket and a monitoring event of one batch sharing an id are both
    # claimed, as the inbox's one claim of the id had them
    "WITH t AS (SELECT b ->> 'id' AS i, b ->> 'ticket_id' AS t, "
    "CAST(b ->> 'occurred_at' AS timestamptz) AS a, b "
    "FROM jsonb_array_elements(CAST($1 AS jsonb)) AS b), "
    "tickets AS (INSERT INTO sla_engine.ticket_events (event_id, ticket_id, occurred_at, body) "
    "SELECT i, t, a, b FROM t WHERE NOT EXISTS (SELECT FROM sla_engine.monitoring_events o "
    "WHERE o.event_id = i) AND NOT EXISTS (SELECT FROM sla_engine.inbox o WHERE o.event_id = i) "
    "ON CONFLICT DO NOTHING RETURNING event_id), "
    "monitoring AS (INSERT INTO sla_engine.monitoring_events "
    "(event_id, service, check_name, occurred_at, body) "
    "SELECT i, s, c, a, CAST(b AS jsonb) FROM unnest(CAST($2 AS text[]), "
    "CAST($3 AS text[]), CAST($4 AS text[]), CAST($5 AS timestamptz[]), "
    "CAST($6 AS text[])) AS r(i, s, c, a, b) "
    "WHERE NOT EXISTS (SELECT FROM sla_engine.ticket_events o WHERE o.event_id = i) "
    "AND NOT EXISTS (SELECT FROM sla_engine.inbox o WHERE o.event_id = i) "
    "ON CONFLICT DO NOTHING RETURNING event_id) "
    "SELECT event_id, NULL AS service, NULL AS check_name, NULL::timestamptz AS started_at, "
    "NULL::timestamptz AS ended_at, NULL AS severity, NULL::jsonb AS labels, "
    "NULL::timestamptz AS seen FROM tickets UNION ALL "
    "SELECT event_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM monitoring UNION ALL "
    # the checks' tails, read on the same snapshot: the journal as it was before this
    # statement, so without the events it journals (`check_tails`' `besides`)
    "SELECT NULL, q.service, q.check_name, d.started_at, d.ended_at, d.severity, d.labels, "
    "(SELECT max(m.occurred_at) FROM sla_engine.monitoring_events m "
    "WHERE m.service = q.service AND m.check_name = q.check_name) "
    "FROM unnest(CAST($7 AS text[]), CAST($8 AS text[])) "
    "AS q(service, check_name) LEFT JOIN LATERAL (SELECT started_at, ended_at, severity, "
    "labels FROM sla_engine.down_intervals i WHERE i.service = q.service "
    "AND i.check_name = q.check_name ORDER BY started_at DESC LIMIT 1) d ON true"
)


class Claimed(NamedTuple):
    """What `claim_and_journal` found: the ids claimed now, and the tails of the checks asked
    for as they were before the batch (`availability.store.check_tails`)."""

    ids: set[str]
    tails: dict[Check, Tail]


async def claim_and_journal(
    conn: AsyncConnection,
    *,
    tickets: list[TicketRecord],
    monitoring: list[MonitoringEvent],
    checks: Sequence[Check] = (),
) -> Claimed:
    """Journal the events whose ids no journal (nor the inbox of old) holds yet, claiming them,
    in one statement (one round trip for both), which also reads the tails of `checks` as
    `check_tails` would with the batch's events as `besides`; returns the ids claimed now and
    those tails. Every event must have an id. A ticket event is journaled as its `journal`
    JSON has it."""
    if not tickets and not monitoring:
        return Claimed(set(), {})
    # on the driver: the batch's one statement, without SQLAlchemy's compile and row objects
    raw = await driver_connection(conn)
    rows = await raw.fetch(
        _CLAIM_AND_JOURNAL,
        # the `journal` JSON of each, written as the event was decoded
        "[" + ",".join([e.journal for e in tickets]) + "]",
        [e.id for e in monitoring],
        [e.service for e in monitoring],
        [e.check for e in monitoring],
        [e.occurred_at for e in monitoring],
        [e.model_dump_json() for e in monitoring],
        [c[0] for c in checks],
        [c[1] for c in checks],
    )
    ids: set[str] = set()
    tails: dict[Check, Tail] = {}
    for event_id, service, check, start, end, severity, labels, seen in rows:
        if event_id is not None:
            ids.add(event_id)
        else:
            tails[(service, check)] = tail_of(check, start, end, severity, labels, seen)
    return Claimed(ids, tails)


async def journaled_before(
    conn: AsyncConnection, *, ticket_ids: list[str], except_ids: list[str]
) -> set[str]:
    """The tickets among these with journal events other than `except_ids` (this batch's)."""
    if not ticket_ids:
        return set()
    raw = await driver_connection(conn)  # a batch's new tickets ask it: no SQLAlchemy around
    rows = await raw.fetch(_JOURNALED_BEFORE, ticket_ids, except_ids)
    return {r[0] for r in rows}


_JOURNALED_BEFORE = (
    # NOT IN over a subquery is hashed; `<> ALL($2)` scanned the whole array for every
    # journal row (a quarter of a second for a batch of 5,000)
    "SELECT DISTINCT ticket_id FROM sla_engine.ticket_events "
    "WHERE ticket_id = ANY(CAST($1 AS text[])) "
    "AND event_id NOT IN (SELECT unnest(CAST($2 AS text[])))"
)


async def journal_monitoring(conn: AsyncConnection, *, events: list[MonitoringEvent]) -> None:
    if events:
        await conn.execute(
            sa.text(
                "INSERT INTO sla_engine.monitoring_events "
                "(event_id, service, check_name, occurred_at, body) "
                "SELECT i, s, c, a, CAST(b AS jsonb) FROM unnest(CAST(:ids AS text[]), "
                "CAST(:services AS text[]), CAST(:checks AS text[]), "
                "CAST(:ats AS timestamptz[]), CAST(:bodies AS text[])) AS r(i, s, c, a, b) "
                "ON CONFLICT DO NOTHING"
            ),
            {
                "ids": [e.id for e in events],
                "services": [e.service for e in events],
                "checks": [e.check for e in events],
                "ats": [e.occurred_at for e in events],
                "bodies": [orjson.dumps(e.model_dump(mode="json")).decode() for e in events],
            },
        )


async def ticket_logs(
    conn: AsyncConnection, *, ticket_ids: list[str]
) -> dict[str, list[TicketBody]]:
    """The journal of each ticket, oldest first."""
    result = await conn.execute(
        sa.text(
            "SELECT ticket_id, body FROM sla_engine.ticket_events WHERE ticket_id = ANY(:ids) "
            "ORDER BY ticket_id, occurred_at"
        ),
        {"ids": ticket_ids},
    )
    logs: dict[str, list[TicketBody]] = {t: [] for t in ticket_ids}
    for ticket_id, body in result:
        logs[ticket_id].append(body)
    return logs


async def unmeasured_tickets(
    conn: AsyncConnection, *, services: set[str] | None = None, since_ms: int | None = None
) -> dict[str, TicketBody]:
    """Journaled tickets without clocks (no policy covered them) that are still open (their
    latest event neither resolves nor closes them) or had an event at or after `since_ms`,
    with their first event."""
    result = await conn.execute(
        sa.text(
            "SELECT ticket_id, first_body FROM ("
            "SELECT e.ticket_id, "
            "first_value(e.body) OVER w AS first_body, "
            "last_value(e.body->>'action') OVER w AS last_action, "
            "max(e.occurred_at) OVER w AS last_at, "
            "row_number() OVER (PARTITION BY e.ticket_id ORDER BY e.occurred_at) AS n "
            "FROM sla_engine.ticket_events e WHERE NOT EXISTS "
            "(SELECT 1 FROM sla_engine.clocks c WHERE c.ticket_id = e.ticket_id) "
            + ("" if services is None else "AND e.body->>'service' = ANY(:services) ")
            + "WINDOW w AS (PARTITION BY e.ticket_id ORDER BY e.occurred_at "
            "ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)) t "
            "WHERE n = 1 AND (last_action NOT IN ('resolved', 'closed') "
            + (
                ")"
                if since_ms is None
                else "OR last_at >= to_timestamp(CAST(:since AS double precision) / 1000))"
            )
        ),
        {
            **({} if since_ms is None else {"since": since_ms}),
            **({} if services is None else {"services": sorted(services)}),
        },
    )
    return {ticket_id: body for ticket_id, body in result}


async def known_since(conn: AsyncConnection, *, ticket_ids: list[str]) -> dict[str, int]:
    """When the engine first journaled each ticket (epoch ms): which first policy versions
    count since always for it (`domain.timeline.as_known_by`)."""
    if not ticket_ids:
        return {}
    result = await conn.execute(
        sa.text(
            "SELECT ticket_id, (extract(epoch FROM min(journaled_at)) * 1000)::bigint "
            "FROM sla_engine.ticket_events WHERE ticket_id = ANY(:ids) GROUP BY ticket_id"
        ),
        {"ids": ticket_ids},
    )
    return {ticket_id: int(ms) for ticket_id, ms in result}
