"""The clock keeper: the book of open tickets in memory, their timers, and the persistence of
what they produce (clock snapshots, signals, facts) through the outbox.

Event path: the consumer's transaction journals the events, then calls `apply_tickets`.
Timer path: `run_timers` sleeps until the earliest due instant and fires it, with no event
needed. Both write signals with `ON CONFLICT DO NOTHING` on a stable id, so a signal is emitted
at most once however the two paths (or two instances during a rebalance) interleave.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import time
from collections.abc import Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from pacta.durations import datetime_to_ms, ms_to_datetime, parse_timestamp_ms
from pacta.events import FACTS_TOPIC, SIGNALS_TOPIC, Signal, TicketEvent, topic_name
from pacta.logs import get_logger
from sla_engine import outbox, store
from sla_engine.clocks import Clock, ClockRules
from sla_engine.clocks import TicketEvent as ClockEvent
from sla_engine.metrics import CLOCKS_OPEN, DETECTION_LAG, SIGNALS
from sla_engine.ownership import partition_of
from sla_engine.resources import Registry, load_registry
from sla_engine.signals import clock_signal_id, from_intent, retraction
from sla_engine.tickets import Outcome, Ticket, apply_in_order, fire_due, replay_all

log = get_logger(__name__)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class ClockKeeper:
    def __init__(self, engine: AsyncEngine, registry: Registry, prefix: str) -> None:
        self.engine, self.registry = engine, registry
        self.signals_topic = topic_name(prefix, SIGNALS_TOPIC)
        self.facts_topic = topic_name(prefix, FACTS_TOPIC)
        self.book: dict[str, Ticket] = {}
        self.heap: list[tuple[int, str]] = []
        self.scheduled: dict[str, int] = {}
        self.wake = asyncio.Event()
        self.on_commit: list[Any] = []  # callbacks run after a commit (the relay's bell)
        self.reload: set[str] = set()
        self.owned: set[int] | None = None  # partitions of the tickets topic; None: all
        self.partitions = 0

    # ---- the event path ------------------------------------------------------------------

    async def apply_tickets(self, conn: AsyncConnection, events: list[TicketEvent]) -> list[str]:
        """Apply journaled ticket events; returns the touched ticket ids (evict them if the
        transaction fails, since memory changed before the commit)."""
        by_ticket: dict[str, list[TicketEvent]] = {}
        for event in events:
            by_ticket.setdefault(event.ticket_id, []).append(event)
        now = now_ms()
        outcomes: list[tuple[Ticket, Outcome]] = []
        replays: list[str] = []
        for ticket_id, group in by_ticket.items():
            ticket = self.book.get(ticket_id)
            outcome = apply_in_order(ticket, map(_clock_event, group), now) if ticket else None
            if outcome is None:
                replays.append(ticket_id)
            else:
                outcomes.append((ticket, outcome))  # type: ignore[arg-type]
        replayed, breaches = await self._replay(conn, replays, now)
        await self._persist(conn, outcomes + replayed, now, breaches)
        return list(by_ticket)

    async def _replay(
        self, conn: AsyncConnection, ticket_ids: list[str], now: int
    ) -> tuple[list[tuple[Ticket, Outcome]], dict[str, dict[str, Any]]]:
        """Rebuild tickets from their journals; also returns the standing signals by id (the
        breach a retraction refers to)."""
        if not ticket_ids:
            return [], {}
        logs = await store.ticket_logs(conn, ticket_ids=ticket_ids)
        standing = await store.standing_signals(conn, ticket_ids=ticket_ids)
        if any(self._rules(b[0]) is None for b in logs.values() if b):
            # another instance may have just defined the policy: look before giving up
            self.registry.replace_with(await load_registry(conn))
        out = []
        for ticket_id in ticket_ids:
            bodies = logs.get(ticket_id) or []
            if not bodies:
                continue
            first = bodies[0]
            rules = self.registry.rules_for(
                first["service"], first.get("customer"), first.get("type", "incident")
            )
            if rules is None:
                self.book.pop(ticket_id, None)
                continue  # no policy covers this ticket: nothing to measure
            ticket = Ticket(
                ticket_id=ticket_id,
                service=first["service"],
                customer=first.get("customer"),
                ticket_type=first.get("type", "incident"),
                rules=rules,
                labels=dict(first.get("labels") or {}),
            )
            previous = self.book.get(ticket_id)
            ticket.version = previous.version if previous else await _version(conn, ticket_id)
            ticket.emitted = {_key(s) for s in standing.get(ticket_id, [])}
            outcome = replay_all(ticket, (_clock_event_body(b) for b in bodies), now)
            self.book[ticket_id] = ticket
            out.append((ticket, outcome))
        by_id = {s["signal_id"]: s for signals in standing.values() for s in signals}
        return out, by_id

    def _rules(self, first: dict[str, Any]) -> ClockRules | None:
        return self.registry.rules_for(
            first["service"], first.get("customer"), first.get("type", "incident")
        )

    async def _persist(
        self,
        conn: AsyncConnection,
        outcomes: Iterable[tuple[Ticket, Outcome]],
        now: int,
        breaches: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        signals: list[Signal] = []
        retracted_ids: list[str] = []
        tickets: list[Ticket] = []
        breaches = breaches or {}
        for ticket, outcome in outcomes:
            tickets.append(ticket)
            signals += [from_intent(i, ticket, now) for i in outcome.intents]
            for key in outcome.retracted:
                breach = breaches.get(clock_signal_id(key), {})
                signals.append(retraction(key, ticket, now, breach))
                retracted_ids.append(clock_signal_id(key))
        await self.write(conn, tickets, signals, retracted_ids)

    async def write(
        self,
        conn: AsyncConnection,
        tickets: list[Ticket],
        signals: list[Signal],
        retracted_ids: list[str],
    ) -> None:
        """Clock snapshots, new signals and their outbox records, and clock facts, in `conn`."""
        bodies = [s.model_dump(mode="json") for s in signals]
        new_ids = await store.record_signals(conn, signals=bodies)
        await store.mark_retracted(conn, signal_ids=retracted_ids)
        for signal, body in zip(signals, bodies, strict=True):
            if signal.signal_id in new_ids:
                await outbox.enqueue(
                    conn,
                    topic=self.signals_topic,
                    key=signal.service,
                    record_id=signal.signal_id,
                    body=body,
                )
                SIGNALS.labels(
                    signal.kind, signal.service, signal.metric, signal.priority or ""
                ).inc()
                log.info("signal", signal_id=signal.signal_id, kind=signal.kind, late=signal.late)
        rows = [row for t in tickets for row in clock_rows(t)]
        await store.save_clocks(conn, rows=rows)
        for row in rows:
            fact = clock_fact(row)
            await outbox.enqueue(
                conn,
                topic=self.facts_topic,
                key=row["service"],
                record_id=fact["fact_id"],
                body=fact,
            )

    def committed(self, ticket_ids: Iterable[str]) -> None:
        for ticket_id in ticket_ids:
            ticket = self.book.get(ticket_id)
            if ticket is not None:
                self.schedule(ticket)
        for bell in self.on_commit:
            bell()
        self._count()

    def evict(self, ticket_ids: Iterable[str]) -> None:
        """Forget in-memory state a failed transaction may have changed; reload it later."""
        for ticket_id in ticket_ids:
            if self.book.pop(ticket_id, None) is not None:
                self.reload.add(ticket_id)
        self.wake.set()

    # ---- timers --------------------------------------------------------------------------

    def schedule(self, ticket: Ticket) -> None:
        due = ticket.next_due_ms()
        if due is None:
            self.scheduled.pop(ticket.ticket_id, None)
            if not ticket.open:
                self.book.pop(ticket.ticket_id, None)  # settled: keep memory for open clocks
            return
        if self.scheduled.get(ticket.ticket_id) != due:
            self.scheduled[ticket.ticket_id] = due
            heapq.heappush(self.heap, (due, ticket.ticket_id))
            if self.heap[0][1] == ticket.ticket_id:
                self.wake.set()  # a new earliest deadline: the timer must sleep less

    async def run_timers(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._sleep_until_due(stop)
                if self.reload:
                    await self._reload()
                await self.fire(now_ms())
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("timer round failed; retrying", error=repr(exc))
                await asyncio.sleep(0.2)

    async def _sleep_until_due(self, stop: asyncio.Event) -> None:
        self.wake.clear()
        if self.heap:
            delay = (self.heap[0][0] - now_ms()) / 1000
            if delay <= 0:
                return
        else:
            delay = 3600.0
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake.wait(), delay)

    async def fire(self, now: int) -> None:
        """Fire every ticket whose instant has come, in one transaction."""
        due: list[Ticket] = []
        while self.heap and self.heap[0][0] <= now:
            at, ticket_id = heapq.heappop(self.heap)
            if self.scheduled.get(ticket_id) != at:
                continue  # superseded by a later reschedule (lazy deletion)
            del self.scheduled[ticket_id]
            ticket = self.book.get(ticket_id)
            if ticket is not None:
                due.append(ticket)
        if not due:
            return
        outcomes = [(t, fire_due(t, now)) for t in due]
        for _t, outcome in outcomes:
            for intent in outcome.intents:
                DETECTION_LAG.labels(intent.kind).observe(
                    max(0, now - intent.occurred_at_ms) / 1000
                )
        ids = [t.ticket_id for t in due]
        try:
            async with self.engine.begin() as conn:
                await self._persist(conn, outcomes, now)
        except Exception:
            self.evict(ids)
            raise
        self.committed(ids)

    # ---- restart and rebalance -----------------------------------------------------------

    async def restore(self) -> int:
        """Load the open clocks this instance owns from PostgreSQL and arm their timers
        (at start-up every one: the first assignment trims what another instance owns)."""
        async with self.engine.connect() as conn:
            rows = await store.load_open_clocks(conn)
            if self.owned is not None:
                rows = [r for r in rows if self._owns(r["ticket_id"])]
            tickets = {
                t: ticket
                for t, ticket in self._tickets_from_rows(rows).items()
                if t not in self.book
            }
            standing = await store.standing_signals(conn, ticket_ids=list(tickets))
        for ticket_id, ticket in tickets.items():
            ticket.emitted = {_key(s) for s in standing.get(ticket_id, [])}
            self.book[ticket_id] = ticket
            self.schedule(ticket)
        self._count()
        log.info("open clocks restored", tickets=len(tickets), clocks=len(rows))
        return len(rows)

    def _owns(self, ticket_id: str) -> bool:
        return self.owned is None or partition_of(ticket_id, self.partitions) in self.owned

    def revoked(self, partitions: set[int], total: int) -> None:
        """Partitions went to another instance: drop their tickets (it loads them)."""
        self.partitions = total
        self.owned = (self.owned if self.owned is not None else set(range(total))) - partitions
        self._drop_unowned()

    async def assigned(self, partitions: set[int], total: int) -> None:
        """Partitions came to this instance: load their open clocks from PostgreSQL."""
        self.partitions = total
        self.owned = partitions
        self._drop_unowned()
        await self.restore()

    def _drop_unowned(self) -> None:
        for ticket_id in [t for t in self.book if not self._owns(t)]:
            del self.book[ticket_id]
            self.scheduled.pop(ticket_id, None)
        self._count()

    async def _reload(self) -> None:
        ids, self.reload = list(self.reload), set()
        async with self.engine.begin() as conn:
            outcomes, breaches = await self._replay(conn, ids, now_ms())
            await self._persist(conn, outcomes, now_ms(), breaches)
        self.committed(ids)

    def _tickets_from_rows(self, rows: list[dict[str, Any]]) -> dict[str, Ticket]:
        tickets: dict[str, Ticket] = {}
        for row in rows:
            rules = self.registry.rules_of(row["policy"])
            if rules is None:
                continue
            ticket = tickets.get(row["ticket_id"])
            if ticket is None:
                ticket = tickets[row["ticket_id"]] = Ticket(
                    ticket_id=row["ticket_id"],
                    service=row["service"],
                    customer=row["customer"],
                    ticket_type=row["ticket_type"],
                    rules=rules,
                    labels=row["labels"] or {},
                    last_event_ms=row["last_event_ms"],
                    version=row["version"],
                )
            ticket.clocks[row["metric"]] = Clock(
                ticket_id=row["ticket_id"],
                service=row["service"],
                metric=row["metric"],
                policy=row["policy"],
                priority=row["priority"],
                target_ms=row["target_ms"],
                calendar=rules.calendar,
                warn_at=tuple(row["warn_at"]),
                started_at_ms=row["started_at_ms"],
                as_of_ms=row["as_of_ms"],
                elapsed_ms=row["elapsed_ms"],
                paused=row["paused"],
                stopped_at_ms=row["stopped_at_ms"],
                breached_at_ms=row["breached_at_ms"],
                met_signalled=row["met_signalled"],
                fired=frozenset(row["fired"]),
            )
        return tickets

    def _count(self) -> None:
        counts = {"running": 0, "paused": 0}
        for ticket in self.book.values():
            for clock in ticket.clocks.values():
                if not clock.stopped:
                    counts["paused" if clock.paused else "running"] += 1
        for state, n in counts.items():
            CLOCKS_OPEN.labels(state).set(n)


# ---- conversions ---------------------------------------------------------------------------


def clock_rows(ticket: Ticket) -> list[dict[str, Any]]:
    rows = []
    for metric, clock in ticket.clocks.items():
        deadline = clock.deadline_ms()
        rows.append(
            {
                "ticket_id": ticket.ticket_id,
                "metric": metric,
                "service": ticket.service,
                "customer": ticket.customer,
                "ticket_type": ticket.ticket_type,
                "policy": clock.policy,
                "calendar": clock.calendar.name,
                "priority": clock.priority,
                "target_ms": clock.target_ms,
                "warn_at": list(clock.warn_at),
                "started_at_ms": clock.started_at_ms,
                "as_of_ms": clock.as_of_ms,
                "elapsed_ms": clock.elapsed_ms,
                "paused": clock.paused,
                "stopped_at_ms": clock.stopped_at_ms,
                "breached_at_ms": clock.breached_at_ms,
                "met_signalled": clock.met_signalled,
                "fired": sorted(clock.fired),
                "last_event_ms": ticket.last_event_ms,
                "state": clock.api_state,
                "deadline_at": None if deadline is None else ms_to_datetime(deadline),
                "labels": _json(ticket.labels),
                "version": ticket.version,
            }
        )
    return rows


def clock_fact(row: dict[str, Any]) -> dict[str, Any]:
    """What reporting needs to count a clock exactly as the engine does."""
    deadline = row["deadline_at"]
    return {
        "fact_id": f"clock:{row['ticket_id']}:{row['metric']}:{row['version']}",
        "fact": "clock",
        "ticket_id": row["ticket_id"],
        "metric": row["metric"],
        "service": row["service"],
        "customer": row["customer"],
        "ticket_type": row["ticket_type"],
        "policy": row["policy"],
        "priority": row["priority"],
        "state": row["state"],
        "version": row["version"],
        "elapsed_seconds": row["elapsed_ms"] / 1000,
        "target_seconds": None if row["target_ms"] is None else row["target_ms"] / 1000,
        "started_at": ms_to_datetime(row["started_at_ms"]).isoformat(),
        "stopped_at": None
        if row["stopped_at_ms"] is None
        else ms_to_datetime(row["stopped_at_ms"]).isoformat(),
        "deadline": None if deadline is None else deadline.isoformat(),
        "occurred_at": ms_to_datetime(row["stopped_at_ms"] or row["as_of_ms"]).isoformat(),
    }


def _clock_event(event: TicketEvent) -> ClockEvent:
    return ClockEvent(datetime_to_ms(event.occurred_at), event.action, event.status, event.priority)


def _clock_event_body(body: dict[str, Any]) -> ClockEvent:
    return ClockEvent(
        parse_timestamp_ms(body["occurred_at"]),
        body["action"],
        body.get("status"),
        body.get("priority"),
    )


def _key(signal: dict[str, Any]) -> tuple[str, str, str, float]:
    return (signal["ticket_id"], signal["metric"], signal["kind"], float(signal["threshold"]))


def _json(value: Any) -> str:
    import orjson

    return orjson.dumps(value).decode()


async def _version(conn: AsyncConnection, ticket_id: str) -> int:
    rows = await store.load_clocks(conn, ticket_ids=[ticket_id])
    return max((r["version"] for r in rows), default=0)
