"""The daily aggregates, write side: the rows a batch moves added in one statement per table, or
held back in `DayTotals` and written once (a rebuild's fresh schema has no reader until the swap,
and its batches move the same day rows again and again)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from reporting.store_rows import insert_rows

ClockKey = tuple[str, date, str, str]
"""(service, day, metric, priority): met, breached, stopped, elapsed_ms."""
VersionKey = tuple[str, date, str, str, int]
"""(service, day, metric, policy, policy_version): met, breached."""
TicketKey = tuple[str, date, str, str]
"""(service, day, kind, priority): count, failed."""
K = TypeVar("K", ClockKey, VersionKey)


@dataclass
class DayTotals:
    """Changes to the daily aggregates (and the services' ticket policies) not written yet; a
    row is in here once a batch moved it (even if later batches moved it back to zero), as it
    would be in the table."""

    clock: dict[ClockKey, list[int]] = field(default_factory=dict)
    version: dict[VersionKey, list[int]] = field(default_factory=dict)
    ticket: dict[TicketKey, list[int]] = field(default_factory=dict)
    policies: set[tuple[str, str]] = field(default_factory=set)
    """(service, policy) pairs of the clocks applied, for the services' ticket policy (the least
    of them wins, whatever the order: `store.add_ticket_policies`)."""

    def merge(self, other: DayTotals) -> None:
        """Add the changes `other` holds (another replay's, of other records)."""
        _hold(self.clock, other.clock)
        _hold(self.version, other.version)
        _hold(self.ticket, other.ticket)
        self.policies |= other.policies


async def add(
    conn: AsyncConnection,
    schema: str,
    totals: DayTotals | None,
    *,
    clock: dict[ClockKey, list[int]] | None = None,
    version: dict[VersionKey, list[int]] | None = None,
    ticket: dict[TicketKey, list[int]] | None = None,
) -> None:
    """Add a batch's changes (rows that it moves, none that it leaves as they were) to the
    tables, or to `totals` when given."""
    if totals is None:
        await write(conn, schema, DayTotals(clock or {}, version or {}, ticket or {}))
        return
    _hold(totals.clock, clock)
    _hold(totals.version, version)
    _hold(totals.ticket, ticket)


def _hold(held: dict[K, list[int]], moved: dict[K, list[int]] | None) -> None:
    for key, values in (moved or {}).items():
        have = held.get(key)
        if have is None:
            held[key] = list(values)
        else:
            for i, v in enumerate(values):
                have[i] += v


async def write(conn: AsyncConnection, schema: str, totals: DayTotals) -> None:
    """Add `totals` to the tables of `schema` (checked by the caller)."""
    await insert_rows(
        conn,
        f"{schema}.clock_days",
        "service text, day date, metric text, priority text, met bigint, breached bigint, "
        "stopped bigint, elapsed_ms bigint",
        [(*k, *v) for k, v in totals.clock.items()],
        "ON CONFLICT (service, day, metric, priority) DO UPDATE SET "
        "met = t.met + EXCLUDED.met, breached = t.breached + EXCLUDED.breached, "
        "stopped = t.stopped + EXCLUDED.stopped, elapsed_ms = t.elapsed_ms + EXCLUDED.elapsed_ms",
    )
    await insert_rows(
        conn,
        f"{schema}.clock_version_days",
        "service text, day date, metric text, policy text, policy_version bigint, met bigint, "
        "breached bigint",
        [(*k, *v) for k, v in totals.version.items()],
        "ON CONFLICT (service, day, metric, policy, policy_version) DO UPDATE SET "
        "met = t.met + EXCLUDED.met, breached = t.breached + EXCLUDED.breached",
    )
    await insert_rows(
        conn,
        f"{schema}.ticket_days",
        "service text, day date, kind text, priority text, count bigint, failed bigint",
        [(*k, *v) for k, v in totals.ticket.items()],
        "ON CONFLICT (service, day, kind, priority) DO UPDATE SET "
        "count = t.count + EXCLUDED.count, failed = t.failed + EXCLUDED.failed",
    )
