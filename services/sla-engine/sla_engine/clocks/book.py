"""The book of open tickets a clock keeper holds: which tickets (those of the partitions it
owns), their timers' schedule, the open-clock gauge, and loading them from PostgreSQL at start-up
and on a rebalance (the event and timer paths are in `keeper`)."""

from __future__ import annotations

import gc

from sqlalchemy.ext.asyncio import AsyncEngine

from pacta.calendars import Calendar
from pacta.logs import get_logger
from sla_engine.clocks.events import TicketLog
from sla_engine.clocks.rows import RowBuilder
from sla_engine.clocks.store import open_ticket_ids, stream_open_clocks
from sla_engine.domain.clocks import SignalKey, Stamp
from sla_engine.domain.policies import Policy
from sla_engine.domain.rules import ClockRules
from sla_engine.domain.signals import body_stamp
from sla_engine.domain.tickets import Ticket
from sla_engine.kafka.ownership import Ownership
from sla_engine.metrics import CLOCKS_OPEN
from sla_engine.resources.registry import Registry
from sla_engine.store import driver_connection
from sla_engine.store.signals import standing_keys
from sla_engine.timers import TimerHeap

log = get_logger(__name__)

RulesKey = tuple[str, str | None, str]
"""(service, customer, ticket type): what picks a ticket's policy."""
RulesMemo = tuple[dict[str, Policy], dict[str, Calendar], dict[RulesKey, ClockRules | None]]
"""The policies and calendars a memo was taken under, and its answers."""


class Book:
    """Open tickets in memory and when each next falls due; PostgreSQL is the record."""

    def __init__(self, engine: AsyncEngine, registry: Registry) -> None:
        self.engine, self.registry = engine, registry
        self.tickets: dict[str, Ticket] = {}
        self.timers = TimerHeap()  # by ticket id
        self.reload: set[str] = set()  # tickets whose memory is to be rebuilt (timer task)
        self.ownership = Ownership()  # of the partitions of the tickets topic
        self.open_running = 0  # open clocks in the book, kept as tickets change (the gauge)
        self.open_paused = 0
        self.shared_rules: dict[str, ClockRules] = {}
        self.rules_memo: RulesMemo | None = None

    def schedule(self, ticket: Ticket) -> None:
        due = ticket.next_due_ms()
        self.timers.schedule(ticket.ticket_id, due)
        if due is None and not ticket.open:
            # settled: keep memory for open clocks
            self.drop(ticket.ticket_id)

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
                if ticket_id not in self.tickets:  # an event may have loaded it meanwhile
                    self.tickets[ticket_id] = ticket
                    self.recount(ticket)
                    if _behind(ticket):
                        self.reload.add(ticket_id)
            self._schedule_many([t for t in tickets.values() if self.tickets.get(t.ticket_id) is t])
        finally:
            if collecting:
                gc.enable()
        self.set_gauge()
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
            raw = await driver_connection(conn)
            async with raw.transaction(isolation="repeatable_read", readonly=True):
                ids = await open_ticket_ids(raw)
                wanted = [t for t in ids if t not in self.tickets and self.owns(t)]
                # everything (a start-up): no list of ids to send back to the server
                which = None if len(wanted) == len(ids) else wanted
                del ids
                if wanted:
                    build = RowBuilder(self.registry, self.share)
                    async for chunk in stream_open_clocks(raw, ticket_ids=which):
                        rows += len(chunk)
                        build.add(chunk, tickets)
                    emitted: dict[str, dict[SignalKey, Stamp]] = {}
                    for key, fields in await standing_keys(raw, ticket_ids=which):
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
        dues: list[tuple[str, int]] = []
        for ticket in tickets:
            due = ticket.next_due_ms()
            if due is not None:
                dues.append((ticket.ticket_id, due))
                continue
            self.timers.cancel(ticket.ticket_id)
            if not ticket.open:
                self.drop(ticket.ticket_id)
        self.timers.schedule_many(dues)

    @property
    def partitions(self) -> int:
        """How many partitions the tickets topic has (0 before the first assignment)."""
        return self.ownership.total

    def owns(self, ticket_id: str) -> bool:
        return self.ownership.owns(ticket_id)

    def revoked(self, partitions: set[int], total: int) -> None:
        """Partitions went to another instance: drop their tickets (it loads them)."""
        self.ownership.revoke(partitions, total)
        self._drop_unowned()

    async def assigned(self, partitions: set[int], total: int) -> None:
        """Partitions came to this instance: load their open clocks from PostgreSQL."""
        self.ownership.assign(partitions, total)
        self._drop_unowned()
        await self.restore()

    def _drop_unowned(self) -> None:
        if self.ownership.owns_all():
            self.set_gauge()
            return
        for ticket_id in [t for t in self.tickets if not self.owns(t)]:
            self.drop(ticket_id)
            self.timers.cancel(ticket_id)
        self.set_gauge()

    def rules_of_first(self, log: TicketLog) -> ClockRules | None:
        """The rules of the ticket `log` tells of, by its first event (`Registry.rules_for`)."""
        key: RulesKey = (log.service, log.customer, log.ticket_type)
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

    def share(self, rules: ClockRules) -> ClockRules:
        """One rules object per policy for all its tickets (equal ones only: a changed policy
        gets a new one), rather than a copy of the targets in every ticket."""
        shared = self.shared_rules.get(rules.policy)
        if shared is not None and shared == rules:
            return shared
        self.shared_rules[rules.policy] = rules
        return rules

    def recount(self, ticket: Ticket) -> None:
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

    def drop(self, ticket_id: str) -> Ticket | None:
        """Forget a ticket (its clocks leave the gauge); returns it if it was held."""
        ticket = self.tickets.pop(ticket_id, None)
        self._uncount(ticket)
        return ticket

    def _uncount(self, ticket: Ticket | None) -> None:
        if ticket is not None and ticket.counted:
            self.open_running -= ticket.counted & 0xFFFF
            self.open_paused -= ticket.counted >> 16
            ticket.counted = 0

    def set_gauge(self) -> None:
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
