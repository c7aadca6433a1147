"""The sla-engine's Kafka shell: journal each new event once, then let the keeper (ticket
clocks) and the outage tracker (availability) apply it, all in one transaction."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

from aiokafka import TopicPartition
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from pacta.clock import now_ms
from pacta.events import MONITORING_TOPIC, TICKETS_TOPIC, MonitoringEvent
from pacta.kafka import BatchHandler, LookaheadHandler, Record
from pacta.logs import get_logger
from sla_engine.availability.tracker import OutageTracker, outage_checks
from sla_engine.clocks.keeper import ClockKeeper
from sla_engine.clocks.store import ClockFenceError
from sla_engine.kafka.outbox import enqueued_in
from sla_engine.kafka.tickets import TicketRecord, decode_ticket
from sla_engine.metrics import EVENTS_APPLIED, WATERMARK_BEHIND
from sla_engine.store import driver_connection, in_flight
from sla_engine.store.journal import claim_and_journal

log = get_logger(__name__)
FENCE_RETRIES = 5
"""A batch whose clock writes another instance's fenced off is applied again at once up to
this often (then it fails as any batch does, and the consumer retries it with backoff)."""
Highwater = Callable[[TopicPartition], int | None]
"""The offset after the last record of a partition on the broker, as the consumer last saw
it (None: not known yet)."""


Decoded = tuple[list[TicketRecord], list[MonitoringEvent]]


class Lookahead:
    """The batches the consumer loop showed the handler (`LookaheadHandler`): the one handed
    next is decoded while the current one's claim is in flight, and kept until that one was
    handled (a retry decodes nothing again)."""

    def __init__(self) -> None:
        self.shown: list[tuple[list[Record], Decoded | None]] = []

    def show(self, records: list[Record]) -> None:
        self.shown = [*self.shown[-1:], (records, None)]

    def decode(self) -> None:
        """Decode the batch shown last, if not yet."""
        if self.shown and self.shown[-1][1] is None and self.shown[-1][0]:
            self.shown[-1] = (self.shown[-1][0], decode_batch(self.shown[-1][0]))

    def take(self, records: list[Record]) -> Decoded:
        """The events of `records`, decoded now unless they were shown and decoded."""
        for shown, decoded in self.shown:
            if shown is records and decoded is not None:
                return decoded
        return decode_batch(records)


class Held:
    """A connection of `db` kept checked out from one batch to the next: a pool checkout and
    return (SQLAlchemy's fairy, reset, events, the shielded close) cost about as much engine
    CPU as a small batch's statements. Dropped (closed) after a batch that failed, so a broken
    connection is never used again: the next batch checks out another."""

    def __init__(self, db: AsyncEngine) -> None:
        self.db = db
        self.conn: AsyncConnection | None = None

    async def get(self) -> AsyncConnection:
        if self.conn is None:
            self.conn = await self.db.connect()
        return self.conn

    async def drop(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # broken: the pool discards it
                await conn.close()


class Handler(LookaheadHandler):
    """The consumer's handler (`make_handler`), shown the next batch ahead; handed one batch
    at a time. `release()` returns its connection to the pool (before the engine is disposed)."""

    def __init__(self, handle: BatchHandler, lookahead: Lookahead, held: Held) -> None:
        self.handle, self.lookahead, self.held = handle, lookahead, held

    async def __call__(self, records: list[Record]) -> None:
        await self.handle(records)

    def upcoming(self, records: list[Record]) -> None:
        self.lookahead.show(records)

    async def release(self) -> None:
        await self.held.drop()


def make_handler(
    db: AsyncEngine,
    keeper: ClockKeeper,
    outages: OutageTracker | None = None,
    highwater: Highwater | None = None,
) -> Handler:
    """The consumer's handler of a batch; `outages` None: ticket events only (tests, bench),
    `highwater` None: no partition counts as lagging behind."""
    lookahead = Lookahead()
    held = Held(db)

    async def handle(records: list[Record]) -> None:
        for _attempt in range(FENCE_RETRIES):
            try:
                return await apply(records)
            except ClockFenceError as exc:
                # another instance wrote these tickets meanwhile (a rebalance): they were
                # evicted, so applying the batch again reads them back from PostgreSQL
                log.info("clock fence failed; batch applied again", tickets=exc.ticket_ids[:10])
        await apply(records)

    async def apply(records: list[Record]) -> None:
        ticket_events, monitoring_events = lookahead.take(records)
        # an event without an id cannot be claimed, so it is never applied
        claimable_tickets = [e for e in ticket_events if e.id]
        claimable_monitoring = [e for e in monitoring_events if e.id]
        touched: list[str] = []
        enqueued: list[int] = []
        try:
            conn = await held.get()
            async with conn.begin():
                enqueued_in(conn)  # forget what an earlier user of the connection left
                await driver_connection(conn)  # BEGIN now: the claim goes out at once below
                claiming = claim_and_journal(
                    conn,
                    tickets=claimable_tickets,
                    monitoring=claimable_monitoring,
                    # read in the same round trip: the checks of repeats too, a few rows more
                    checks=outage_checks(claimable_monitoring) if outages is not None else (),
                )
                async with in_flight(claiming, rows=len(records)) as claim:
                    # meanwhile: how far the batch's partitions got (the claim does not read
                    # it), and the next batch decoded
                    observe_backlog(keeper, records, ticket_events, highwater)
                    lookahead.decode()
                claimed = claim.result()
                new = claimed.ids
                tickets = [e for e in claimable_tickets if e.id in new]
                monitoring = [e for e in claimable_monitoring if e.id in new]
                touched = sorted({e.ticket_id for e in tickets})
                await keeper.apply_tickets(conn, tickets, journaled=True)
                if outages is not None and monitoring:
                    await outages.apply(conn, monitoring, claimed.tails)
                # a batch of repeats writes no outbox record: waking the relay for it would
                # cost a round of its own
                enqueued = enqueued_in(conn)
        except Exception:
            await held.drop()
            keeper.marks.settle(now_ms())  # the batch is retried, and observed again
            keeper.evict(touched)
            raise
        keeper.marks.settle(now_ms())  # partitions this batch caught up: the wall clock rules
        keeper.committed(touched, ring=enqueued)
        if outages is not None:
            outages.committed(ring=enqueued)
        EVENTS_APPLIED.labels("ticket").inc(len(tickets))
        EVENTS_APPLIED.labels("monitoring").inc(len(monitoring))
        if tickets or monitoring:
            ids = [e.id for e in tickets[:20]] + [e.id for e in monitoring[:20]]
            log.info("events applied", ids=ids[:20], count=len(tickets) + len(monitoring))

    return Handler(handle, lookahead, held)


def decode_batch(records: list[Record]) -> tuple[list[TicketRecord], list[MonitoringEvent]]:
    """The batch's ticket and monitoring events; an undecodable record is logged, never fatal
    (as `pacta.kafka.decode_events` has it)."""
    tickets: list[TicketRecord] = []
    monitoring: list[MonitoringEvent] = []
    for record in records:
        try:
            if record.topic.endswith(TICKETS_TOPIC):
                tickets.append(decode_ticket(record.value or b""))
            elif record.topic.endswith(MONITORING_TOPIC):
                monitoring.append(MonitoringEvent.model_validate_json(record.value or b""))
        except ValueError:
            log.error("undecodable record skipped", topic=record.topic, offset=record.offset)
    return tickets, monitoring


def observe_backlog(
    keeper: ClockKeeper,
    records: list[Record],
    events: Sequence[TicketRecord],
    highwater: Highwater | None = None,
) -> None:
    """Tell the keeper how far each tickets partition of the batch has got in event time
    (`sla_engine.domain.watermarks`): the instants of the events it brought."""
    if not keeper.partitions:
        return
    partition = {
        bytes(r.key).decode(errors="replace"): r.partition
        for r in records
        if r.topic.endswith(TICKETS_TOPIC) and r.key is not None
    }
    seen: dict[int, list[int]] = {}
    for event in events:
        if event.ticket_id in partition:
            seen.setdefault(partition[event.ticket_id], []).append(event.at_ms)
    lagging: set[int] = set()
    if highwater is not None:
        last: dict[tuple[str, int], int] = {}
        for r in records:
            key = (r.topic, r.partition)
            if r.offset > last.get(key, -1):
                last[key] = r.offset
        for (topic, p), offset in last.items():
            if topic.endswith(TICKETS_TOPIC):
                high = highwater(TopicPartition(topic, p))
                if high is not None and high > offset + 1:
                    lagging.add(p)
    now = now_ms()
    keeper.marks.observe(keeper.partitions, seen, now, lagging)
    for p in seen:
        mark = None if p in keeper.marks.leaving else keeper.marks.marks.get(p)
        WATERMARK_BEHIND.labels(str(p)).set(0 if mark is None else (now - mark) / 1000)
