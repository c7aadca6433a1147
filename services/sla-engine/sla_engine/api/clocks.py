"""Routes of the sla-engine's live views: clocks and month-to-date availability."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Annotated

from fastapi import APIRouter, Path, Query

from pacta.auth import ReaderKey
from pacta.clock import now_ms
from pacta.durations import ms_to_datetime
from pacta.problems import Problem
from sla_engine.api.answers import answers
from sla_engine.api.deps import Context
from sla_engine.api.schemas import Availability, ClockList, ClockView
from sla_engine.availability.views import availability_view
from sla_engine.clocks.rows import ClockRow, clock_from_row
from sla_engine.clocks.store import query_clocks
from sla_engine.domain.downtime import month_of
from sla_engine.domain.tickets import Ticket
from sla_engine.resources.registry import Registry

router = APIRouter(prefix="/v1", responses=answers(401, 422))
CLEAN = r"^[^\x00-\x1f\x7f]+$"
"""Names in queries and paths: no control characters (PostgreSQL refuses NUL)."""
NameQuery = Annotated[str | None, Query(min_length=1, max_length=200, pattern=CLEAN)]


# ---- clocks -------------------------------------------------------------------------------


@router.get("/clocks", tags=["clocks"], response_model=ClockList)
async def list_clocks(
    context: Context,
    _: ReaderKey,
    ticket_id: NameQuery = None,
    service: NameQuery = None,
    state: Annotated[str | None, Query(pattern="^(running|paused|met|breached)$")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> ClockList:
    async with context.db.connect() as conn:
        rows = await query_clocks(
            conn, ticket_id=ticket_id, service=service, state=state, limit=limit
        )
    book = context.keeper.book.tickets
    registry = context.registry
    now = now_ms()
    return ClockList(items=[_clock_view(row, book, registry, now) for row in rows])


def _clock_view(
    row: ClockRow, book: Mapping[str, Ticket], registry: Registry, now: int
) -> ClockView:
    ticket = book.get(row.ticket_id)
    clock = ticket.clocks.get(row.metric) if ticket else None
    if clock is None:
        # held by another instance, or settled: its snapshot is exact to `as_of_ms`, and the
        # clock itself counts what came since, so every instance answers the same figures
        with contextlib.suppress(KeyError):
            clock = clock_from_row(row, registry.calendar(row.calendar))
    if clock is not None:
        elapsed, remaining, state = clock.elapsed_at(now), clock.remaining_ms(now), clock.api_state
        deadline_ms = clock.deadline_ms()
        deadline = None if deadline_ms is None else ms_to_datetime(deadline_ms)
    else:  # its calendar is gone: the snapshot as it stands
        elapsed, state, deadline = row.elapsed_ms, row.state, row.deadline_at
        remaining = None if row.target_ms is None else row.target_ms - elapsed
    return ClockView(
        ticket_id=row.ticket_id,
        service=row.service,
        customer=row.customer,
        metric=row.metric,
        policy=row.policy,
        policy_version=row.policy_version,
        calendar=row.calendar,
        calendar_version=row.calendar_version,
        priority=row.priority,
        target_seconds=None if row.target_ms is None else row.target_ms / 1000,
        state=state,
        elapsed_seconds=elapsed / 1000,
        deadline=deadline,
        remaining_seconds=None if remaining is None else remaining / 1000,
        started_at=ms_to_datetime(row.started_at_ms),
        stopped_at=None if row.stopped_at_ms is None else ms_to_datetime(row.stopped_at_ms),
    )


# ---- availability -------------------------------------------------------------------------


@router.get("/services/{service}/availability", tags=["availability"], response_model=Availability)
async def get_availability(
    context: Context,
    service: Annotated[str, Path(min_length=1, max_length=200, pattern=CLEAN)],
    _: ReaderKey,
    month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")] = None,
) -> Availability:
    """Month-to-date availability (docs/design.md, "Availability"); the month is the availability calendar's local
    month, the current one by default."""
    outages = context.outages
    now = now_ms()
    if month is None:
        month = month_of(now, outages.objective(service).calendar.timezone)
    try:
        figures = await outages.figures(service, month, now)
        if figures.start_ms > now:
            raise ValueError("has not started yet: there are no figures for it")
    except ValueError as exc:
        raise Problem(
            422,
            "Invalid query",
            f"month: {exc}",
            errors=[{"field": "month", "message": "must be a month written YYYY-MM"}],
        ) from None
    return availability_view(figures)
