"""The book of open tickets a clock keeper holds: which tickets (those of the partitions it
owns), their timers' schedule, the open-clock gauge, and loading them from PostgreSQL at start-up
and on a rebalance (the event and timer paths are in `keeper`)."""

from __future__ import annotations

import asyncio
import gc
import heapq
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from pacta.logs import get_logger
from sla_engine import signal_store, store
from sla_engine.clock_rows import RowBuilder
from sla_engine.domain.clocks import SignalKey, Stamp
from sla_engine.domain.rules import ClockRules
from sla_engine.domain.signals import body_stamp
from sla_engine.domain.tickets import Ticket
from sla_engine.domain.watermarks import Watermarks
from sla_engine.metrics import CLOCKS_OPEN
from sla_engine.ownership import partition_of
from sla_engine.resources import Registry

log = get_logger(__name__)


class Book:
    """Open tickets in memory and when each next falls due; PostgreSQL is the record."""

    def __init__(self, engine: AsyncEngine, registry: Registry) -> None:
        self.engine, self.registry = engine, registry
        self.book: dict[str, Ticket] = {}
        self.heap: list[tuple[int, str]] = []
        self.scheduled: dict[str, int] = {}
        self.wake = asyncio.Event()
        self.on_commit: list[Any] = []  # callbacks run after a commit (the relay's bell)
        self.reload: set[str] = set()
        self.owned: set[int] | None = None  # partitions of the tickets topic; None: all
        self.partitions = 0
        self.firing: set[str] = set()  # tickets whose timer round is being committed
        self.open_running = 0  # open clocks in the book, kept as tickets change (the gauge)
        self.open_paused = 0
        self._shared_rules: dict[str, ClockRules] = {}
        self.rules_changed = False  # a policy changed: re-measure open tickets (timer task)
        self.rules_services: set[str] | None = set()  # whose tickets (None: all)
        self.rules_since: int | None = None  # the earliest effective instant pending
        self.marks = Watermarks(
            partition_of
        )  # partitions behind in a backlog, and their event time
        self.rules_memo: tuple[Any, Any, dict[tuple[Any, ...], ClockRules | None]] | None = None

    def schedule(self, ticket: Ticket) -> None:
        due = ticket.next_due_ms()
        if due is None:
            self.scheduled.pop(ticket.ticket_id, None)
            if not ticket.open:
                # settled: keep memory for open clocks
                self._uncount(self.book.pop(ticket.ticket_id, None))
            return
        if self.scheduled.get(ticket.ticket_id) != due:
            self.scheduled[ticket.ticket_id] = due
            heapq.heappush(self.heap, (due, ticket.ticket_id))
            if self.heap[0][1] == ticket.ticket_id:
                self.wake.set()  # a new earliest deadline: the timer must sleep less

    async def restore(self) -> int:
        """Load the open clocks this instance owns from PostgreSQL and arm their timers
        (at start-up every one: the first assignment trims what another instance owns).
        Tickets already in the book are kept as they are."""
        tickets: dict[str, Ticket] = {}
        # Millions of new objects that all live on: the collector's passes over them would
        # take longer than building them, so it rests meanwhile (nothing here makes cycles).
        collecting = gc.isenabled()
        gc.disable()
        try:
            rows = await self._load(tickets)
            for ticket_id, ticket in tickets.items():
                if ticket_id not in self.book:  # an event may have loaded it meanwhile
                    self.book[ticket_id] = ticket
                    self._recount(ticket)
                    if _behind(ticket):
                        self.reload.add(ticket_id)
            self._schedule_many([t for t in tickets.values() if self.book.get(t.ticket_id) is t])
        finally:
            if collecting:
                gc.enable()
        self._count()
        if len(tickets) >= 50_000:
            # they stay for hours: keep them out of every later full collection, which would
            # otherwise walk them all and stall the timers for a second at a time
            gc.freeze()
        log.info("open clocks restored", tickets=len(tickets), clocks=rows)
        return rows

    async def _load(self, tickets: dict[str, Ticket]) -> int:
        """Build the open tickets this instance owns and does not hold yet into `tickets`."""
        rows = 0
        async with self.engine.connect() as conn:
            raw = await store.driver_connection(conn)
            async with raw.transaction(isolation="repeatable_read", readonly=True):
                ids = await store.open_ticket_ids(raw)
                wanted = [t for t in ids if t not in self.book and self.owns(t)]
                # everything (a start-up): no list of ids to send back to the server
                which = None if len(wanted) == len(ids) else wanted
                del ids
                if wanted:
                    build = RowBuilder(self.registry, self._share)
                    async for chunk in store.stream_open_clocks(raw, ticket_ids=which):
                        rows += len(chunk)
                        build.add(chunk, tickets)
                    emitted: dict[str, dict[SignalKey, Stamp]] = {}
                    for key, fields in await signal_store.standing_keys(raw, ticket_ids=which):
                        if key[0] in tickets:
                            emitted.setdefault(key[0], {})[key] = body_stamp(fields)
                    for ticket_id, stamps in emitted.items():
                        tickets[ticket_id].emitted = stamps
        return rows

    def _schedule_many(self, tickets: list[Ticket]) -> None:
        """`schedule` for many tickets at once: one heapify instead of a push each."""
        if len(tickets) < 1000:
            for ticket in tickets:
                self.schedule(ticket)
            return
        for ticket in tickets:
            due = ticket.next_due_ms()
            if due is None:
                self.scheduled.pop(ticket.ticket_id, None)
                if not ticket.open:
                    self._uncount(self.book.pop(ticket.ticket_id, None))
            elif self.scheduled.get(ticket.ticket_id) != due:
                self.scheduled[ticket.ticket_id] = due
                self.heap.append((due, ticket.ticket_id))
        heapq.heapify(self.heap)
        self.wake.set()

    def owns(self, ticket_id: str) -> bool:
        owned = self.owned
        return (
            owned is None or self._owns_all() or partition_of(ticket_id, self.partitions) in owned
        )

    def _owns_all(self) -> bool:
        """Every partition is this instance's (the hash of each ticket id need not be taken:
        half a million of them take seconds)."""
        return self.owned is None or self.owned.issuperset(range(self.partitions))

    def revoked(self, partitions: set[int], total: int) -> None:
        """Partitions went to another instance: drop their tickets (it loads them)."""
        self.partitions = total
        self.owned = (self.owned if self.owned is not None else set(range(total))) - partitions
        self.marks.forget(partitions)
        self._drop_unowned()

    async def assigned(self, partitions: set[int], total: int) -> None:
        """Partitions came to this instance: load their open clocks from PostgreSQL."""
        self.partitions = total
        self.owned = partitions
        self._drop_unowned()
        await self.restore()

    def _drop_unowned(self) -> None:
        if self._owns_all():
            self._count()
            return
        for ticket_id in [t for t in self.book if not self.owns(t)]:
            self._uncount(self.book.pop(ticket_id))
            self.scheduled.pop(ticket_id, None)
        self._count()

    def rules_of_first(self, first: dict[str, Any]) -> ClockRules | None:
        key = (first["service"], first.get("customer"), first.get("type", "incident"))
        memo = self.rules_memo
        if memo is None:
            return self.registry.rules_for(*key)
        if memo[0] is not self.registry.policies or memo[1] is not self.registry.calendars:
            memo = self.rules_memo = (self.registry.policies, self.registry.calendars, {})
        found = memo[2]
        if key not in found:
            found[key] = self.registry.rules_for(*key)
        return found[key]

    def remember_rules(self, on: bool) -> None:
        """While on (one consumed batch), `rules_of_first` remembers its answer for each
        (service, customer, type): a backfill's thousands of tickets share a few policies.
        A registry replaced meanwhile (another instance's policy) is seen at once; a policy
        put through this instance's API during the batch counts from the next batch on, as
        if the put had come a moment later (`policy_changed` re-measures open tickets)."""
        self.rules_memo = (self.registry.policies, self.registry.calendars, {}) if on else None

    def _share(self, rules: ClockRules) -> ClockRules:
        """One rules object per policy for all its tickets (equal ones only: a changed policy
        gets a new one), rather than a copy of the targets in every ticket."""
        shared = self._shared_rules.get(rules.policy)
        if shared is not None and shared == rules:
            return shared
        self._shared_rules[rules.policy] = rules
        return rules

    def _recount(self, ticket: Ticket) -> None:
        running = paused = 0
        for clock in ticket.clocks.values():
            if not clock.stopped:
                if clock.paused:
                    paused += 1
                else:
                    running += 1
        counted = running | paused << 16
        if counted != ticket.counted:
            self._uncount(ticket)
            ticket.counted = counted
            self.open_running += running
            self.open_paused += paused

    def _uncount(self, ticket: Ticket | None) -> None:
        if ticket is not None and ticket.counted:
            self.open_running -= ticket.counted & 0xFFFF
            self.open_paused -= ticket.counted >> 16
            ticket.counted = 0

    def _count(self) -> None:
        CLOCKS_OPEN.labels("running").set(self.open_running)
        CLOCKS_OPEN.labels("paused").set(self.open_paused)


def _behind(ticket: Ticket) -> bool:
    """A running clock measured by another version than the one in force now: a change was
    recorded and the engine stopped before it replayed the ticket (the timers replay it)."""
    versions = ticket.rules.versions
    return any(
        not c.stopped and (c.policy, c.policy_version, c.calendar_version) != versions
        for c in ticket.clocks.values()
    )
