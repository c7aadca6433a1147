"""The inbox: the signals alerting received, one row per signal id, kept for the record; a
signal whose id is there was applied already (so none applies twice)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from alerting.domain.alerts import Alert, signal_body
from alerting.store.alerts import alert_of, open_by_key_sql
from alerting.store.sql import jsonb, recordset
from pacta.db import driver_connection
from pacta.events import Signal

# the received signals are the inbox: one statement records them and says which are new (the
# `inbox` table of migration 0001 held the same ids, written in the same transaction; it is
# no longer written, and every id it holds is here too)
_CLAIMED = (
    "claimed AS (INSERT INTO alerting.signals (signal_id, kind, service, occurred_at, "
    "body) SELECT id, kind, service, occurred_at, body FROM "
    + recordset("id text, kind text, service text, occurred_at timestamptz, body jsonb")
    + " ORDER BY ord ON CONFLICT DO NOTHING RETURNING signal_id)"
)
_CLAIM = "WITH " + _CLAIMED + " SELECT array_agg(signal_id) FROM claimed"
# the claim and the lock of the alerts in one statement: a row per alert locked (none: one row
# of nulls), the ids claimed on one of them only
_CLAIM_LOCKING = (
    "WITH "
    + _CLAIMED
    + ", locked AS ("
    + open_by_key_sql(2)
    + ") SELECT CASE WHEN coalesce(l.n, 1) = 1 THEN c.claimed_ids END AS claimed_ids, l.* "
    "FROM (SELECT array_agg(signal_id) AS claimed_ids FROM claimed) c "
    "LEFT JOIN (SELECT *, row_number() OVER () AS n FROM locked) l ON true"
)


async def claim(conn: AsyncConnection, *, signals: Sequence[Signal]) -> set[str]:
    """The ids of these signals never received before: recorded now (the first of an id given
    twice), in the caller's transaction, the one that applies them."""
    if not signals:
        return set()
    claimed = await (await driver_connection(conn)).fetchval(_CLAIM, _rows(signals))
    return set(claimed or ())


async def claim_locking(
    conn: AsyncConnection, *, signals: Sequence[Signal], keys: Sequence[str]
) -> tuple[set[str], dict[str, Alert]]:
    """As `claim`, and the open alert of each key locked for this transaction (as
    `alerts.open_by_key_sql`), in one statement: the ids claimed, the alerts by key. The lock
    shares the claim's snapshot: an alert another transaction opened while the claim waited
    for it (the same signals applied at once, by two instances in a rebalance) is not seen, and
    the alert this one would open in its place fails the index of one open alert per key (the
    transaction is rolled back; applied again, it finds the signals claimed)."""
    if not signals:
        return set(), {}
    rows = await (await driver_connection(conn)).fetch(_CLAIM_LOCKING, _rows(signals), list(keys))
    locked = {r["key"]: alert_of(r) for r in rows if r["id"] is not None}
    claimed = next((r["claimed_ids"] for r in rows if r["claimed_ids"] is not None), ())
    return set(claimed), locked


def _rows(signals: Sequence[Signal]) -> str:
    rows = [
        {
            "id": s.signal_id,
            "kind": s.kind,
            "service": s.service,
            "occurred_at": s.occurred_at,
            "body": signal_body(s),
        }
        for s in signals
    ]
    return jsonb(rows)
