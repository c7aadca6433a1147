"""The transactional outbox: what the engine produces is written in the same PostgreSQL
transaction as the state that caused it, then relayed to Kafka by one task.

A crash between the commit and the produce leaves the row in place, so the relay sends it after
the restart; a crash after the produce but before the row is deleted sends it twice, which the
consumers' dedup by `signal_id` / fact id absorbs. Nothing is lost and nothing counts twice,
without Kafka transactions (which a single broker cannot run durably).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import time
import weakref
from collections import deque
from collections.abc import Callable, Coroutine, Mapping, Sequence
from functools import cache
from typing import Any, cast

import orjson
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from pacta.events import (
    CALENDAR_TYPE,
    CALENDARS_TOPIC,
    FACT_TYPE,
    POLICIES_TOPIC,
    POLICY_TYPE,
    SIGNAL_TYPE,
)
from pacta.kafka import BatchProducer
from pacta.logs import get_logger
from sla_engine.kafka.records import (
    BUNDLE_RECORDS,
    BUNDLE_TYPE,
    OutboxRecord,
    kafka_record,
    pack,
    unpack,
)
from sla_engine.metrics import OUTBOX_PENDING
from sla_engine.store import driver_connection

log = get_logger(__name__)


ENQUEUED = "pacta_outbox_enqueued"


def enqueued_in(conn: AsyncConnection) -> list[int]:
    """The seqs of the rows put on the outbox in `conn`'s current transaction since the last
    call (which forgets them), in order: once it committed, the relay may send them as held
    (`Relay.notify`). Empty: it enqueued nothing, so it need not wake the relay. What a
    transaction that rolled back left on the connection is never returned."""
    found = conn.info.pop(ENQUEUED, None)
    if found is None or found[0] is not _transaction(conn):
        return []
    return sorted(found[1])


def ring_bells(
    bells: Sequence[Callable[[Sequence[int]], None]], ring: bool | Sequence[int]
) -> None:
    """After a commit: `ring` the seqs of the rows it put on the outbox (`enqueued_in`), True
    when they are not known (the relay reads the outbox), False or empty when there are none
    (the bells stay silent)."""
    if ring is True:
        ring = ()
    elif not ring:
        return
    for bell in bells:
        bell(ring)


def _transaction(conn: AsyncConnection) -> object:
    """The transaction `conn` is in (None: none), an object of its own per transaction."""
    sync = conn.sync_connection
    return None if sync is None else sync.get_transaction()


def outbox_record(
    topic: str, key: str, record_id: str, value: bytes | None, ce_time: str
) -> OutboxRecord:
    """An outbox record of `topic` (its CloudEvents type follows from the topic); `value`: the
    body's JSON (None: a tombstone), `ce_time`: when what it tells of happened."""
    return OutboxRecord(topic, key, record_id, _ce_type(topic), ce_time, value)


async def enqueue(
    conn: AsyncConnection, *, topic: str, key: str, record_id: str, body: dict[str, object]
) -> None:
    """Add one record to the outbox inside the caller's transaction."""
    await enqueue_many(conn, [(topic, key, record_id, body)])


def _ce_time(body: Mapping[str, object] | None) -> str:
    """The record's CloudEvents `time`: when what it tells of happened."""
    if body is None:
        return ""
    versions = body.get("versions")
    latest = versions[-1].get("recorded_at") if isinstance(versions, list) and versions else None
    return str(body.get("occurred_at") or body.get("updated_at") or latest or "")


@cache
def _ce_type(topic: str) -> str:
    if topic.endswith(CALENDARS_TOPIC):
        return CALENDAR_TYPE
    if topic.endswith(POLICIES_TOPIC):
        return POLICY_TYPE
    return SIGNAL_TYPE if topic.endswith("signals") else FACT_TYPE


async def enqueue_many(
    conn: AsyncConnection, records: Sequence[tuple[str, str, str, dict[str, object] | None]]
) -> None:
    """Add (topic, key, record_id, body) records to the outbox inside the caller's transaction,
    their `seq` in the order given. A None body is a tombstone (the compacted calendars topic
    deletes the key)."""
    await _insert(
        conn,
        [
            outbox_record(t, k, rid, None if body is None else orjson.dumps(body), _ce_time(body))
            for t, k, rid, body in records
        ],
    )


BUNDLE_FROM = 64
"""Fewer records than this go as rows of their own (a timer round's few signals)."""


async def enqueue_raw(conn: AsyncConnection, records: Sequence[OutboxRecord]) -> None:
    """`enqueue_many` for records already built (`outbox_record`), bodies serialised: the
    event path's signals and clock facts. Many go as bundles of `BUNDLE_RECORDS` per row (the
    relay unpacks them in order), compressed with lz4 where the server has it."""
    if len(records) < BUNDLE_FROM:
        await _insert(conn, records, driver=True)
        return
    if await _lz4(conn):
        # pglz would take three times as long over the bundles' JSON
        await conn.execute(sa.text("SET LOCAL default_toast_compression = lz4"))
    parts = [records[n : n + BUNDLE_RECORDS] for n in range(0, len(records), BUNDLE_RECORDS)]
    await _insert(
        conn,
        [
            OutboxRecord("", str(len(part)), part[0].record_id, BUNDLE_TYPE, "", pack(part))
            for part in parts
        ],
        parts,
        driver=True,
    )


_INSERT_ROWS = (
    "INSERT INTO sla_engine.outbox (topic, key, record_id, ce_type, ce_time, body) "
    "SELECT topic, key, rid, ce_type, ce_time, body FROM unnest(CAST($1 AS text[]), "
    "CAST($2 AS text[]), CAST($3 AS text[]), CAST($4 AS text[]), CAST($5 AS text[]), "
    "CAST($6 AS bytea[])) WITH ORDINALITY AS r(topic, key, rid, ce_type, ce_time, body, n) "
    "ORDER BY n RETURNING seq"
)
_INSERT_NAMES = ("topics", "keys", "rids", "types", "times", "bodies")


def _named(sql: str, names: Sequence[str]) -> str:
    """`sql` with its parameters `$1`, `$2` ... named as SQLAlchemy's text takes them."""
    for n, name in enumerate(names, 1):
        sql = sql.replace(f"${n} ", f":{name} ")
    return sql


_INSERT_ROWS_NAMED = _named(_INSERT_ROWS, _INSERT_NAMES)


def outbox_columns(rows: Sequence[OutboxRecord]) -> tuple[list[object], ...]:
    """The rows as the outbox's insert takes them: topic, key, record id, CloudEvents type and
    time, body, one array each."""
    return (
        [r.topic for r in rows],
        [r.key for r in rows],
        [r.record_id for r in rows],
        [r.ce_type for r in rows],
        [r.ce_time for r in rows],
        [r.value for r in rows],
    )


async def _insert(
    conn: AsyncConnection,
    rows: Sequence[OutboxRecord],
    parts: Sequence[Sequence[OutboxRecord]] | None = None,
    *,
    driver: bool = False,
) -> None:
    """One statement for all the rows, their `seq` in the order given; `parts`: the records
    each row holds (None: each row is one), which this process's relay sends without reading
    the row's body back (`Written`). `driver`: run on the driver (the event path: no
    SQLAlchemy compile or rows); else through SQLAlchemy, whose errors the API answers (a
    dropped connection: 503)."""
    if not rows:
        return
    columns = outbox_columns(rows)
    if driver:
        raw = await driver_connection(conn)
        seqs = [r[0] for r in await raw.fetch(_INSERT_ROWS, *columns)]
    else:
        result = await conn.execute(
            sa.text(_INSERT_ROWS_NAMED), dict(zip(_INSERT_NAMES, columns, strict=True))
        )
        seqs = [r[0] for r in result]
    # the sequence numbers the rows in the order inserted, the order given
    remember(conn, seqs, rows, parts)


OUTBOX_INSERT = "INSERT INTO sla_engine.outbox (topic, key, record_id, ce_type, ce_time, body) "
"""The head of a statement that puts rows on the outbox (another store's, which then calls
`remember`)."""


def remember(
    conn: AsyncConnection,
    seqs: Sequence[int],
    rows: Sequence[OutboxRecord],
    parts: Sequence[Sequence[OutboxRecord]] | None = None,
) -> None:
    """After rows were put on the outbox on `conn` (their `seq`, in any order; `rows` in the
    order of their seq; `parts`: as `_insert` has them): the relay is rung with their seqs
    after the commit (`enqueued_in`) and sends them without reading them back (`Written`)."""
    transaction = _transaction(conn)
    mine: tuple[object, list[int]] | None = conn.info.get(ENQUEUED)
    if mine is None or mine[0] is not transaction:
        mine = conn.info[ENQUEUED] = (transaction, [])
    mine[1].extend(seqs)
    written(conn.engine).add(sorted(seqs), parts if parts is not None else [[r] for r in rows])


WRITTEN_RECORDS = 60_000
"""Records `Written` holds at most (a backfill's batch or two); past that it forgets them all
and the relay reads those rows' bodies back, as after a restart."""


class Written:
    """The records this process put on the outbox, by the seq of the row that holds them,
    until a relay round takes that row: the relay then sends them as they are instead of
    reading the row's body back and unpacking it. A row of a transaction that rolled back is
    never taken (its seq is never seen again); a row another instance relayed neither: both
    stay until the bound clears them."""

    def __init__(self) -> None:
        self.rows: dict[int, Sequence[OutboxRecord]] = {}
        self.records = 0
        self.forgot = False  # records were forgotten: only reading the outbox finds them

    def add(self, seqs: Sequence[int], parts: Sequence[Sequence[OutboxRecord]]) -> None:
        if self.records > WRITTEN_RECORDS:
            self.forget()
        for seq, part in zip(seqs, parts, strict=True):
            self.rows[seq] = part
            self.records += len(part)

    def forget(self) -> None:
        """Forget every record held (the relay reads their rows back)."""
        self.rows.clear()
        self.records = 0
        self.forgot = True

    def lowest(self, n: int) -> list[int]:
        """The `n` lowest seqs held (those a relay round, in seq order, may take)."""
        return heapq.nsmallest(n, self.rows) if len(self.rows) > n else list(self.rows)

    def take(self, seq: int) -> Sequence[OutboxRecord] | None:
        part = self.rows.pop(seq, None)
        if part is not None:
            self.records -= len(part)
        return part


_WRITTEN: weakref.WeakKeyDictionary[object, Written] = weakref.WeakKeyDictionary()


def written(engine: AsyncEngine) -> Written:
    """The records written through `engine` (one database) not yet relayed."""
    key = engine.sync_engine
    found = _WRITTEN.get(key)
    if found is None:
        found = _WRITTEN[key] = Written()
    return found


_LZ4: list[bool] = []


async def _lz4(conn: AsyncConnection) -> bool:
    """Whether the server was built with lz4 (asked once per process)."""
    if not _LZ4:
        found = await conn.scalar(
            sa.text(
                "SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
                "WHERE name = 'default_toast_compression'"
            )
        )
        _LZ4.append(bool(found))
    return _LZ4[0]


def _parse(value: bytes | None) -> dict[str, object] | None:
    return None if value is None else cast(dict[str, object], orjson.loads(value))


READ_EVERY_S = 1.0
"""The relay reads the outbox at least this often (`Relay.relay_round`)."""


class Relay:
    """Publishes outbox rows in order and deletes them once Kafka acknowledged.

    Two ways to a row, one task, one round at a time (the order per key holds): the rows a
    committed transaction of this process wrote are handed over by their seqs (`notify`) and
    sent as held, then deleted in one statement, without reading the outbox; the others (from
    before a restart, another instance's, the API's, any a failed round left) are read and
    deleted in seq order (`relay_once`): at start-up, when a bell brings no seqs, after a
    failure, and at least once a second. A read round goes first: it takes, in seq order,
    the handed rows too, so nothing handed overtakes an older row of its key left in the
    outbox."""

    def __init__(self, engine: AsyncEngine, producer: AIOKafkaProducer, batch: int = 500) -> None:
        self.engine, self.producer, self.batch = engine, producer, batch
        self.wake = asyncio.Event()
        self.stop = asyncio.Event()
        self.sender = BatchProducer()
        self.handed: deque[Sequence[int]] = deque()  # committed transactions' seqs, in order
        self.read = True  # a read round is due (`relay_once`)
        self.last_read = 0.0  # when the last one started (monotonic seconds)
        # a handed round queued on the producer: its rows, and what waits for their acks
        self.unacked: tuple[list[int], asyncio.Future[None]] | None = None
        self.acked: list[int] = []  # handed rows Kafka acknowledged, still to be deleted
        self.deleting: asyncio.Task[None] | None = None

    def notify(self, seqs: Sequence[int] = ()) -> None:
        """A transaction committed; `seqs`: the rows it put on the outbox (`enqueued_in`), in
        commit order with the other calls (empty: unknown, the relay reads the outbox)."""
        if seqs:
            self.handed.append(seqs)
        else:
            self.read = True
        self.wake.set()

    async def run(self) -> None:
        try:
            while not self.stop.is_set():
                try:
                    sent = await self.relay_round()
                except Exception as exc:
                    log.warning("outbox relay failed; retrying", error=repr(exc))
                    self.read = True  # what the round took is still on the outbox
                    sent = 0
                    await asyncio.sleep(0.5)
                if sent == 0:
                    # Idle: wait for a commit to ring, with a slow read as a safety net.
                    try:
                        await asyncio.wait_for(self.wake.wait(), 1.0)
                    except TimeoutError:
                        self.read = True
                    self.wake.clear()
        finally:
            with contextlib.suppress(Exception):
                await self.acknowledged()
            await self.deleted()

    async def flush(self) -> None:
        """Relay until the outbox is empty (a planned stop)."""
        self.read = True
        while await self.relay_round() > 0:
            pass
        await self.deleted()

    async def relay_round(self) -> int:
        """A read round if one is due (or records were forgotten), else a round of the handed
        rows; returns how many records it sent, 0 when there was nothing to send."""
        held = written(self.engine)
        if held.forgot:
            held.forgot = False
            self.read = True
        now = time.monotonic()
        if self.read or now - self.last_read > READ_EVERY_S:
            # also once a second however busy: rows no bell announces (another instance's,
            # one that stopped) are not left waiting behind a steady stream of handed ones
            self.read, self.last_read = False, now
            await self.acknowledged()  # a row acknowledged is not read again
            await self.deleted()
            sent = await self.relay_once()
            if sent >= self.batch:
                self.read = True  # more are waiting
            if sent:
                return sent
        return await self.relay_handed()

    async def relay_handed(self) -> int:
        """Queue the records of the handed rows (in commit order, up to `batch` or one row
        past it: a bundle's records go together) on the producer as held, then wait for the
        acknowledgement of the round queued before, whose rows a task of their own deletes
        (`deleted`): a round is queued while the one before is in flight, and the producer keeps the order per partition (one
        batch in flight each, retried until acknowledged). A row a read round took meanwhile
        is skipped. A failed send leaves the rows for a read round (the caller's); a failed
        delete, for one too, which sends them again (consumers dedup by id). Nothing handed: it
        waits for the round in flight to be acknowledged, or for a bell meanwhile, and returns
        0 once it is."""
        held = written(self.engine)
        seqs: list[int] = []
        records: list[OutboxRecord] = []
        while self.handed and len(records) < self.batch:
            rows = self.handed.popleft()
            for n, seq in enumerate(rows):
                if len(records) >= self.batch:
                    self.handed.appendleft(rows[n:])  # the rest in a round of its own
                    break
                part = held.take(seq)
                if part is not None:
                    seqs.append(seq)
                    records += part
        if records:
            acks = asyncio.ensure_future(await self._queue(records))
            try:
                await self.acknowledged()
            finally:
                # held even when the round before failed: the next `acknowledged` (the read
                # round after the failure) waits for it, so its outcome is never dropped
                self.unacked = (seqs, acks)
            return len(records)
        if self.unacked is not None and not self.unacked[1].done():
            self.wake.clear()
            bell = asyncio.ensure_future(self.wake.wait())
            either: list[asyncio.Future[Any]] = [self.unacked[1], bell]
            try:
                await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
            finally:
                bell.cancel()
            if self.handed:
                return await self.relay_handed()
        await self.acknowledged()
        return 0

    async def acknowledged(self) -> None:
        """Wait for the acknowledgement of the handed round in flight, then hand its rows to
        the delete; its failure is raised (its rows stay on the outbox)."""
        if self.unacked is None:
            return
        (seqs, acks), self.unacked = self.unacked, None
        await acks
        self.acked += seqs
        if self.deleting is None or self.deleting.done():
            self.deleting = asyncio.create_task(self._delete_acked(), name="outbox-delete")

    async def deleted(self) -> None:
        """Wait until the acknowledged rows are deleted (or their delete failed)."""
        if self.deleting is not None:
            await asyncio.shield(self.deleting)

    async def _delete_acked(self) -> None:
        """Delete the acknowledged rows, those acknowledged meanwhile in the next statement."""
        while self.acked:
            seqs, self.acked = self.acked, []
            try:
                async with self.engine.connect() as conn:
                    raw = await driver_connection(conn)
                    await raw.execute(_DELETE, seqs)
            except Exception as exc:
                # they stay on the outbox: a read round sends them again
                log.warning("outbox rows not deleted", rows=len(seqs), error=repr(exc))

    async def relay_once(self) -> int:
        """One read round: up to `batch` records (rows, or the records of bundles) in seq
        order, taken off the outbox, sent, and the deletion committed once Kafka acknowledged
        them (a failed send rolls it back: the rows stay for the next round); returns how many
        records, `batch` if more are waiting. The records this process wrote are sent as it
        wrote them (`Written`), the others read from their rows."""
        held = written(self.engine)
        async with self.engine.begin() as conn:
            # the driver's own records: a round holds thousands of rows, and SQLAlchemy's
            # row objects around them cost more than the rows themselves
            raw = await driver_connection(conn)
            rows = await raw.fetch(_TAKE, self.batch, BUNDLE_TYPE, held.lowest(self.batch))
            if not rows:
                OUTBOX_PENDING.set(0)
                return 0
            records: list[OutboxRecord] = []
            count = 0
            for seq, topic, key, rid, ce_type, ce_time, body, _heads in rows:
                part = held.take(seq)
                if part is None and ce_type == BUNDLE_TYPE:
                    part = unpack(body)
                if part is not None:
                    records += part
                    count += len(part)
                    continue
                # null: a row written before the column was (read the time from the body)
                occurred = ce_time if ce_time is not None else _ce_time(_parse(body))
                # a None body is a tombstone, sent as a record without a value
                records.append(OutboxRecord(topic, key, rid, ce_type, occurred, body))
                count += 1
            await self._send(records)
        heads = rows[0][7]
        more = heads == self.batch or len(rows) < heads
        OUTBOX_PENDING.set(count if more else 0)
        return max(count, self.batch) if more else count

    async def _queue(self, records: list[OutboxRecord]) -> Coroutine[Any, Any, None]:
        """Queue a handed round's records on the producer, its signals first (the producer's
        sender takes them while the others are encoded); returns what waits for the acks of
        all. Each topic keeps its records in seq order."""
        signals = [kafka_record(r) for r in records if r.ce_type == SIGNAL_TYPE]
        acks: list[Coroutine[Any, Any, None]] = []
        if signals:
            acks.append(await self.sender.queue(self.producer, signals, timeout=10.0))
        if len(signals) < len(records):
            try:
                if signals:
                    await asyncio.sleep(0)
                others = [kafka_record(r) for r in records if r.ce_type != SIGNAL_TYPE]
                acks.append(await self.sender.queue(self.producer, others, timeout=10.0))
            except BaseException:
                for ack in acks:  # the signals' acks run out on their own (rows stay)
                    asyncio.ensure_future(ack).add_done_callback(_retrieved)
                raise
        return _all(acks)

    async def _send(self, records: list[OutboxRecord]) -> None:
        """Send a round's records, its signals first and acknowledged before the others are
        encoded: a round holds a thousand facts for reporting, whose encoding and transfer
        would otherwise delay the breaches among them by as long (an alert storm). Each topic
        keeps its records in seq order (the order per partition, and so per key, is what
        holds on Kafka); a failure of either send fails the round, as a failed send did."""
        signals = [kafka_record(r) for r in records if r.ce_type == SIGNAL_TYPE]
        if signals:
            await self.sender.send(self.producer, signals, timeout=10.0)
        if len(signals) < len(records):
            others = [kafka_record(r) for r in records if r.ce_type != SIGNAL_TYPE]
            await self.sender.send(self.producer, others, timeout=10.0)


def _retrieved(done: asyncio.Future[None]) -> None:
    """Take the outcome of acks nobody waits for (their rows stay on the outbox)."""
    if not done.cancelled() and done.exception() is not None:
        log.debug("outbox acks abandoned after a failed round", error=repr(done.exception()))


async def _all(acks: list[Coroutine[Any, Any, None]]) -> None:
    """Wait for every one of `acks`; the first failure is raised once all are done."""
    failures = [r for r in await asyncio.gather(*acks, return_exceptions=True) if r is not None]
    if failures:
        raise failures[0]


_DELETE = (
    # the handed rows, once Kafka acknowledged them: one another instance's read round holds
    # is its to delete
    "DELETE FROM sla_engine.outbox WHERE seq IN (SELECT seq FROM sla_engine.outbox "
    "WHERE seq = ANY(CAST($1 AS bigint[])) FOR UPDATE SKIP LOCKED)"
)

_TAKE = (
    # the first `$1` rows in seq order that no other round holds, and of them as many as hold
    # at most `$1` records (a bundle holds its count, in `key`), the first one always; deleted
    # in the round's transaction, which commits only once Kafka acknowledged what it returns.
    # The bodies of the rows in `$3` (this process holds their records) are not read back.
    "WITH heads AS (SELECT seq, ce_type, key FROM sla_engine.outbox "
    "ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED), "
    "taken AS (SELECT seq FROM (SELECT seq, row_number() OVER w AS n, "
    "sum(CASE WHEN ce_type = $2 THEN CAST(key AS integer) ELSE 1 END) OVER w AS upto "
    "FROM heads WINDOW w AS (ORDER BY seq)) h WHERE n = 1 OR upto <= $1), "
    "gone AS (DELETE FROM sla_engine.outbox o USING taken t WHERE o.seq = t.seq "
    "RETURNING o.seq, o.topic, o.key, o.record_id, o.ce_type, o.ce_time, o.body) "
    "SELECT g.seq, g.topic, g.key, g.record_id, g.ce_type, g.ce_time, "
    "CASE WHEN h.seq IS NULL THEN g.body END, (SELECT count(*) FROM heads) "
    "FROM gone g LEFT JOIN unnest(CAST($3 AS bigint[])) AS h(seq) ON h.seq = g.seq "
    "ORDER BY g.seq"
)
