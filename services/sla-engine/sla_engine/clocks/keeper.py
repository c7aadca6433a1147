"""The clock keeper: the book of open tickets in memory, their timers, and the persistence of
what they produce (clock snapshots, signals, facts) through the outbox (`clocks.writes`).

Event path: the consumer's transaction journals the events, then calls `apply_tickets`.
Timer path: `run_timers` sleeps until the earliest due instant and fires it, with no event
needed. Both write signals with `ON CONFLICT DO NOTHING` on a stable id, so a signal is emitted
at most once however the two paths (or two instances during a rebalance) interleave.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from pacta.clock import now_ms
from pacta.events import FACTS_TOPIC, SIGNALS_TOPIC, topic_name
from pacta.logs import get_logger
from sla_engine.clocks.book import Book
from sla_engine.clocks.events import TicketLog, clock_event, log_of_bodies, log_of_records
from sla_engine.clocks.policy_changes import last_rules, tickets_reached
from sla_engine.clocks.store import ClockFenceError, clock_versions
from sla_engine.clocks.writes import ClockWriter
from sla_engine.domain.signals import body_stamp
from sla_engine.domain.tickets import (
    Outcome,
    Ticket,
    apply_in_order,
    fire_due,
    replay_all,
    stored_state,
    unchanged_by_replay,
)
from sla_engine.domain.timeline import NEVER_SEEN
from sla_engine.domain.watermarks import Watermarks
from sla_engine.kafka.outbox import enqueued_in, ring_bells
from sla_engine.kafka.ownership import partition_of
from sla_engine.kafka.tickets import TicketRecord
from sla_engine.metrics import DETECTION_LAG
from sla_engine.resources.registry import Registry, load_registry
from sla_engine.store.journal import journaled_before, known_since, ticket_logs
from sla_engine.store.signals import SignalKey, standing_signals
from sla_engine.timers import still_running

log = get_logger(__name__)


ROUNDS_IN_FLIGHT = 4
"""Timer rounds committing at once (each holds a database connection meanwhile)."""
ROUND_GAP_MS = 10
"""A timer round starts at most this often: what comes due meanwhile joins the next one. A
round costs the engine ~2 ms of CPU whatever it holds (a transaction of a few statements),
so 500 breaches a second fired one by one would take a whole core."""


class ClockKeeper:
    """The event and timer paths over the book of open tickets (`book`), writing what they
    produce through the writer (`writer`)."""

    def __init__(self, engine: AsyncEngine, registry: Registry, prefix: str) -> None:
        self.engine, self.registry = engine, registry
        self.book = Book(engine, registry)
        self.writer = ClockWriter(
            signals_topic=topic_name(prefix, SIGNALS_TOPIC),
            facts_topic=topic_name(prefix, FACTS_TOPIC),
        )
        self.marks = Watermarks(partition_of)  # partitions behind in a backlog, their event time
        # run after a commit (the relay's bell), with the seqs of the rows it put on the outbox
        self.on_commit: list[Callable[[Sequence[int]], None]] = []
        self.firing: set[str] = set()  # tickets whose timer round is being committed
        self.rules_changed = False  # a policy changed: re-measure open tickets (timer task)
        self.rules_services: set[str] | None = set()  # whose tickets (None: all)
        self.rules_since: int | None = None  # the earliest effective instant pending

    # ---- ownership: the partitions of the tickets topic ----------------------------------

    @property
    def partitions(self) -> int:
        return self.book.partitions

    async def restore(self) -> int:
        return await self.book.restore()

    async def assigned(self, partitions: set[int], total: int) -> None:
        """Partitions came to this instance: load their open clocks from PostgreSQL."""
        await self.book.assigned(partitions, total)

    def revoked(self, partitions: set[int], total: int) -> None:
        """Partitions went to another instance: drop their tickets (it loads them)."""
        self.marks.forget(partitions)
        self.book.revoked(partitions, total)

    # ---- the event path ------------------------------------------------------------------

    async def apply_tickets(
        self,
        conn: AsyncConnection,
        events: list[TicketRecord],
        journaled: bool = False,
    ) -> list[str]:
        """Apply ticket events (`journaled`: journaled in this transaction, so a ticket with no
        earlier events is replayed from them, not read back); returns the touched ticket ids
        (evict them if the transaction fails, since memory changed before the commit)."""
        if not events:
            return []  # a batch of monitoring events: no writes, and no walk through them
        self.book.remember_rules(True)
        try:
            return await self._apply_tickets(conn, events, journaled)
        finally:
            self.book.remember_rules(False)

    async def _apply_tickets(
        self,
        conn: AsyncConnection,
        events: list[TicketRecord],
        journaled: bool,
    ) -> list[str]:
        by_ticket: dict[str, list[TicketRecord]] = {}
        for event in events:
            by_ticket.setdefault(event.ticket_id, []).append(event)
        now = now_ms()
        outcomes: list[tuple[Ticket, Outcome]] = []
        replays: list[str] = []
        for ticket_id, group in by_ticket.items():
            ticket = self.book.tickets.get(ticket_id)
            at = self.marks.now_for(ticket_id, now)  # a backfill: the history's instant
            outcome = apply_in_order(ticket, map(clock_event, group), at) if ticket else None
            if outcome is None:
                replays.append(ticket_id)
            else:
                assert ticket is not None
                # in order: the latest event that carries labels holds the current ones
                labels = [e.labels for e in sorted(group, key=lambda e: e.occurred_at) if e.labels]
                if labels and labels[-1] != ticket.labels:
                    ticket.labels = dict(labels[-1])
                    outcome = Outcome(outcome.intents, outcome.retracted)  # every row: new labels
                outcomes.append((ticket, outcome))
        batch = None
        if journaled:
            # in event time, as the journal is read (the instant itself, not its text)
            batch = {t: sorted(by_ticket[t], key=lambda e: e.occurred_at) for t in replays}
        held = {t: stored_state(self.book.tickets[t]) for t in replays if t in self.book.tickets}
        replayed, standing = await self.replay_tickets(conn, replays, now, batch)
        replayed = [
            (t, unchanged_by_replay(held[t.ticket_id], t, o) if t.ticket_id in held else o)
            for t, o in replayed
        ]
        await self.writer.persist(conn, outcomes + replayed, now, standing)
        return list(by_ticket)

    async def replay_tickets(
        self,
        conn: AsyncConnection,
        ticket_ids: list[str],
        now: int,
        batch: dict[str, list[TicketRecord]] | None = None,
    ) -> tuple[list[tuple[Ticket, Outcome]], dict[str, dict[SignalKey, dict[str, Any]]]]:
        """Rebuild tickets from their journals and the policy changes recorded for them; also
        returns the standing signals by ticket and key (what a retraction refers to).

        `batch`: the consumed batch's events, journaled in this transaction, by ticket, in
        event time. A ticket with no other journal events (its first events, as in a backfill)
        has no clocks, signals or policy changes recorded either, so it is replayed from these
        (`log_of_records`) with no read of its journal."""
        if not ticket_ids:
            return [], {}
        fresh: dict[str, TicketLog] = {}
        if batch:
            eids = [i for events in batch.values() for e in events if (i := e.id)]
            before = await journaled_before(conn, ticket_ids=list(batch), except_ids=eids)
            fresh = {
                t: log_of_records(events)
                for t, events in batch.items()
                if t not in before and t not in self.book.tickets
            }
        known = [t for t in ticket_ids if t not in fresh]
        read = await ticket_logs(conn, ticket_ids=known) if known else {}
        logs = {**{t: log_of_bodies(b) for t, b in read.items() if b}, **fresh}
        standing = await standing_signals(conn, ticket_ids=known) if known else {}
        known_at = await known_since(conn, ticket_ids=known)
        if any(self.book.rules_of_first(log) is None for log in logs.values()):
            # another instance may have just defined the policy: look before giving up
            self.registry.replace_with(await load_registry(conn))
        out = []
        versions = await clock_versions(
            conn, ticket_ids=[t for t in known if t not in self.book.tickets and logs.get(t)]
        )
        for ticket_id in ticket_ids:
            log = logs.get(ticket_id)
            if log is None:
                continue  # nothing journaled
            initial, changes = self.registry.timeline(
                log.service, log.customer, log.ticket_type, known_at.get(ticket_id, NEVER_SEEN)
            )
            rules = last_rules(initial, changes)
            if rules is None:
                self.book.drop(ticket_id)
                continue  # no policy covers this ticket: nothing to measure
            rules = self.book.share(rules)
            ticket = Ticket(
                ticket_id=ticket_id,
                service=log.service,
                customer=log.customer,
                ticket_type=log.ticket_type,
                rules=rules,
                labels=log.labels,
            )
            previous = self.book.tickets.get(ticket_id)
            ticket.version = previous.version if previous else versions.get(ticket_id, 0)
            ticket.counted = previous.counted if previous else 0  # what the gauge holds of it
            ticket.emitted = {k: body_stamp(b) for k, b in standing.get(ticket_id, {}).items()}
            # its first events, all in this batch: nothing of it was ever signalled or retracted
            ticket.never_retracted = ticket_id in fresh or (
                previous is not None and previous.never_retracted
            )
            outcome = replay_all(
                ticket,
                log.events,
                self.marks.now_for(ticket_id, now),
                initial=initial,
                changes=changes,
            )
            self.book.tickets[ticket_id] = ticket
            out.append((ticket, outcome))
        return out, standing

    def committed(self, ticket_ids: Iterable[str], ring: bool | Sequence[int] = True) -> None:
        """`ring`: the seqs of the rows the transaction put on the outbox (`enqueued_in`: the
        relay sends them as held), True: unknown (the relay reads the outbox), False or empty:
        none (the relay sleeps on)."""
        for ticket_id in ticket_ids:
            ticket = self.book.tickets.get(ticket_id)
            if ticket is not None:
                self.book.recount(ticket)
                self.book.schedule(ticket)
        self._release()
        if self.marks.seen_at:
            self.book.timers.wake.set()  # the timers wake for the end of a backfill's quiet
        ring_bells(self.on_commit, ring)
        self.book.set_gauge()

    def _release(self) -> None:
        """Schedule again the timers a backfill's watermark has now passed."""
        for ticket_id in self.marks.released():
            ticket = self.book.tickets.get(ticket_id)
            if ticket is not None:
                self.book.timers.cancel(ticket_id)  # due again: the watermark passed it
                self.book.schedule(ticket)

    def evict(self, ticket_ids: Iterable[str]) -> None:
        """Forget in-memory state a failed transaction may have changed; reload it later."""
        for ticket_id in ticket_ids:
            if self.book.drop(ticket_id) is not None:
                self.book.reload.add(ticket_id)
        self.book.timers.wake.set()

    # ---- timers --------------------------------------------------------------------------

    async def run_timers(self, stop: asyncio.Event) -> None:
        """Fire what comes due, as it comes due. A round's transaction does not hold up the
        next round (its commit waits behind the consumer's work on the one event loop): up
        to ROUNDS_IN_FLIGHT rounds commit at once, never two with the same ticket."""
        rounds: set[asyncio.Task[None]] = set()
        last = 0
        try:
            while not stop.is_set():
                try:
                    rounds = await still_running(rounds, ROUNDS_IN_FLIGHT - 1)
                    await self.book.timers.sleep_until_due(self.marks.next_expiry())
                    if (gap := last + ROUND_GAP_MS - now_ms()) > 0:
                        await asyncio.sleep(gap / 1000)
                    if self.book.reload:
                        await self._reload()
                    if self.rules_changed:
                        self.rules_changed = False
                        services, self.rules_services = self.rules_services, set()
                        since, self.rules_since = self.rules_since, None
                        now = now_ms()
                        await self.apply_policy_change(
                            now, now if since is None else since, services
                        )
                    now = now_ms()
                    if self.marks.expire(now):
                        self._release()  # a backfill ended: what it held fires now, late
                    due = self._take_due(now)
                    if due:
                        last = now
                        rounds.add(asyncio.create_task(self._commit_round(due, now)))
                except asyncio.CancelledError:
                    raise
                except ClockFenceError as exc:
                    # another instance wrote these tickets meanwhile: evicted, read again
                    log.info("clock fence failed; tickets reloaded", tickets=exc.ticket_ids[:10])
                except Exception as exc:
                    log.exception("timer round failed; retrying", error=repr(exc))
                    await asyncio.sleep(0.2)
        finally:
            for task in rounds:
                task.cancel()
            await asyncio.gather(*rounds, return_exceptions=True)

    async def fire(self, now: int) -> None:
        """Fire every ticket whose instant has come, in one transaction."""
        due = self._take_due(now)
        if due:
            await self._commit_round(due, now)

    def _take_due(self, now: int) -> list[tuple[Ticket, Outcome]]:
        """Take the tickets whose instant has come off the heap and fire them in memory."""
        due: list[tuple[Ticket, int]] = []
        for at, ticket_id in self.book.timers.pop_due(now):
            if ticket_id in self.firing:
                continue  # its round, once committed, schedules it again from what it holds
            if self.marks.park(ticket_id, at, now):
                continue  # the history of its partition has not got there yet (a backfill)
            ticket = self.book.tickets.get(ticket_id)
            if ticket is not None:
                due.append((ticket, at))
        outcomes = [(t, fire_due(t, self.marks.fire_at(t.ticket_id, at, now))) for t, at in due]
        for _t, outcome in outcomes:
            for intent in outcome.intents:
                DETECTION_LAG.labels(intent.kind).observe(
                    max(0, now - intent.occurred_at_ms) / 1000
                )
        self.firing.update(t.ticket_id for t, _at in due)
        return outcomes

    async def _commit_round(self, outcomes: list[tuple[Ticket, Outcome]], now: int) -> None:
        ids = [t.ticket_id for t, _ in outcomes]
        try:
            async with self.engine.begin() as conn:
                await self.writer.persist(conn, outcomes, now)
                enqueued = enqueued_in(conn)
        except Exception:
            self.evict(ids)
            raise
        finally:
            self.firing.difference_update(ids)
        # its signals go to Kafka at once, as held (the relay need not read them back)
        self.committed(ids, enqueued)

    async def _reload(self) -> None:
        ids, self.book.reload = list(self.book.reload), set()
        try:
            async with self.engine.begin() as conn:
                outcomes, breaches = await self.replay_tickets(conn, ids, now_ms())
                await self.writer.persist(conn, outcomes, now_ms(), breaches)
        except Exception:
            self.evict(ids)
            self.book.reload.update(ids)  # still to be reloaded: try again next round
            raise
        self.committed(ids)

    async def apply_policy_change(
        self, now: int, since_ms: int, services: set[str] | None = None
    ) -> int:
        """Replay, under the versions now recorded, every owned ticket of `services` (None:
        any) a change effective from `since_ms` reaches (`policy_changes.tickets_reached`):
        clocks switch rules there keeping their elapsed time, a ticket no policy covered gets
        clocks from there on, a deleted policy's clocks stop, a correction in the past is
        measured from its instant."""
        ordered: list[str] = []
        try:
            async with self.engine.begin() as conn:
                held = [t for i, t in self.book.tickets.items() if i not in self.firing]
                ids = await tickets_reached(
                    conn,
                    held=held,
                    registry=self.registry,
                    since_ms=since_ms,
                    services=services,
                    owns=self.book.owns,
                )
                ordered = sorted(ids - self.firing)
                outcomes, standing = await self.replay_tickets(conn, ordered, now)
                await self.writer.persist(conn, outcomes, now, standing)
        except Exception:
            self.evict(ordered)  # replayed in memory, not written (the fence may have failed)
            self.policy_changed(services, since_ms)  # try again next round
            raise
        self.committed(ordered)
        if ordered:
            log.info("policy change applied", tickets=len(ordered), since_ms=since_ms)
        return len(ordered)

    def policy_changed(self, services: set[str] | None = None, since_ms: int | None = None) -> None:
        """A policy or calendar version was recorded (here or, seen by the refresh, on another
        instance), effective from `since_ms` (None: now): the timer task replays the tickets of
        `services` (None: of any service) this instance owns that it reaches."""
        self.rules_changed = True
        if since_ms is not None:
            self.rules_since = (
                since_ms if self.rules_since is None else min(self.rules_since, since_ms)
            )
        if services is None or self.rules_services is None:
            self.rules_services = None
        else:
            self.rules_services |= services
        self.book.timers.wake.set()
