"""`python -m reporting rebuild`: replay every topic from its start into a fresh schema, swap
it in for the live one, then catch up on what arrived meanwhile.

The live service keeps serving (and consuming) the old schema during the replay. After the
swap its statements name the new tables; anything it applied to the old schema meanwhile is
at or below the high watermarks read after the swap, which the catch-up replays (the inbox
makes the overlap harmless).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import time
from collections.abc import Iterator

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy.ext.asyncio import AsyncEngine

from pacta.db import create_engine, migrate
from pacta.events import topic_name
from pacta.kafka import ensure_topics
from pacta.logs import get_logger
from reporting import store, store_days
from reporting.app import MIGRATIONS
from reporting.consumer import TOPICS, Decoded, apply_decoded, decode_records, prepare_clocks
from reporting.forked import run_forked
from reporting.settings import ReportingSettings

log = get_logger(__name__)
KEPT_TABLES = (
    "sessions",
    "publications",
    "publication_services",
    "subscriptions",
    "outbox",
    "annotations",
)
"""Reporting's own records, not a read model of any topic: a rebuild keeps them."""
BATCH = 8000  # records per transaction: fewer, larger statements
SLICE = 100  # records decoded between two looks at the writer
AHEAD = 2  # decoded batches waiting for the writer, at most
GC_THRESHOLD = 1_000_000  # net allocations between two young collections (default: 700)


async def _replay(
    consumer: AIOKafkaConsumer,
    engine: AsyncEngine,
    schema: str,
    until: dict[TopicPartition, int],
    totals: store_days.DayTotals | None = None,
) -> int:
    """Apply records until every partition reaches `until` (its high watermark then); the
    daily aggregates' changes go to `totals` when given, which also leaves the facts out of
    the inbox (the fresh schema's replay: `apply_decoded`'s `claim_facts`).

    The batches are applied one after the other, each in its transaction, in order, by one
    writer task; this one fetches and decodes the next batches meanwhile (up to `AHEAD` of
    them wait for the writer), in slices, so that the writer's statements go on as soon as
    PostgreSQL, which has a core of its own, answers. A failed write stops the writer and
    fails the replay: no later batch is written."""
    applied = 0
    remaining = {tp for tp, end in until.items() if await consumer.position(tp) < end}
    batches: asyncio.Queue[Decoded | None] = asyncio.Queue(AHEAD)
    writer = asyncio.create_task(_write(engine, schema, batches, totals))
    try:
        while remaining:
            fetched = await consumer.getmany(*remaining, timeout_ms=1000, max_records=BATCH)
            records = []
            for tp, rs in fetched.items():
                records += [r for r in rs if r.offset < until[tp]]
            if records:
                decoded = Decoded()
                for i in range(0, len(records), SLICE):
                    decoded.extend(decode_records(records[i : i + SLICE]))
                    await asyncio.sleep(0)  # lets the writer go on
                for _ in prepare_clocks(decoded, SLICE):
                    await asyncio.sleep(0)
                await _hand_over(batches, decoded, writer)
                applied += len(records)
            for tp in list(remaining):
                if await consumer.position(tp) >= until[tp]:
                    remaining.discard(tp)
        await _hand_over(batches, None, writer)
        await writer
    finally:
        writer.cancel()  # a replay that failed here writes nothing more
        await asyncio.wait((writer,))
    return applied


async def _write(
    engine: AsyncEngine,
    schema: str,
    batches: asyncio.Queue[Decoded | None],
    totals: store_days.DayTotals | None,
) -> None:
    """Apply the batches in the order they come, each in its transaction, until None."""
    while (decoded := await batches.get()) is not None:
        await apply_decoded(engine, schema, decoded, totals=totals, claim_facts=totals is None)


async def _hand_over(
    batches: asyncio.Queue[Decoded | None], decoded: Decoded | None, writer: asyncio.Task[None]
) -> None:
    """Queue `decoded` for the writer, waiting while `AHEAD` batches wait already; raises the
    writer's failure rather than wait on a writer that stopped."""
    put = asyncio.ensure_future(batches.put(decoded))
    await asyncio.wait((put, writer), return_when=asyncio.FIRST_COMPLETED)
    if writer.done():
        put.cancel()
        writer.result()  # the writer's failure: it ends early on nothing else
    await put


async def _drop_secondary_indexes(engine: AsyncEngine, schema: str) -> dict[str, list[str]]:
    """The fresh schema's non-unique indexes dropped for the replay (nobody reads it yet, and
    building an index once over the whole table is cheaper than keeping it up to date record
    by record); returns their definitions by table, which `_finish` runs before the swap.
    Primary keys and unique indexes stay: the upserts and the inbox rely on them."""
    async with engine.begin() as conn:
        rows = await conn.execute(
            sa.text(
                "SELECT i.tablename, i.indexname, i.indexdef FROM pg_indexes i JOIN pg_class c "
                "ON c.relname = i.indexname JOIN pg_namespace n ON n.oid = c.relnamespace "
                "AND n.nspname = i.schemaname JOIN pg_index x ON x.indexrelid = c.oid "
                "WHERE i.schemaname = :s AND NOT x.indisunique ORDER BY 1, 2"
            ),
            {"s": schema},
        )
        indexes: dict[str, list[str]] = {}
        for table, name, definition in rows:
            await conn.execute(sa.text(f'DROP INDEX {store.q(schema)}."{name}"'))
            indexes.setdefault(str(table), []).append(str(definition))
    return indexes


async def _finish(
    engine: AsyncEngine, schema: str, totals: store_days.DayTotals, indexes: dict[str, list[str]]
) -> None:
    """Write the replays' held-back totals and build the dropped indexes again, each table's
    in a transaction of its own, all at once (PostgreSQL works on them on both cores; one after
    the other they took a tenth of the rebuild). A failure stops the others."""

    async def run(statements: list[str]) -> None:
        async with engine.begin() as conn:
            for statement in statements:
                await conn.execute(sa.text(statement))

    async def write_totals() -> None:
        async with engine.begin() as conn:
            await store_days.write(conn, store.q(schema), totals)
            await store.add_ticket_policies(conn, schema, totals.policies)

    async with asyncio.TaskGroup() as group:
        group.create_task(write_totals())
        for definitions in indexes.values():
            group.create_task(run(definitions))


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """The garbage collector tuned for a replay: it allocates millions of short-lived objects,
    and with the default threshold (700) a young collection ran every few records and the
    full ones rescanned every module's objects; a fifth of the replay's CPU went to them. A
    young collection walks every young object still alive, and the decoded batches waiting for
    the writer are tens of thousands of them: at 10,000 net allocations one ran every ~2,500
    records and took a tenth of the CPU. Nearly all of the replay's objects are freed by their
    reference counts (a replay of 300,000 records leaves ~5,500 objects in cycles), so a young
    collection once per million net allocations still bounds what cycles hold."""
    threshold = gc.get_threshold()
    gc.freeze()  # what is alive now (modules, settings) is never garbage: no rescans
    gc.set_threshold(GC_THRESHOLD, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


async def rebuild(settings: ReportingSettings, live: str = store.SCHEMA) -> int:
    """Returns the number of records replayed (the replay and the catch-up together)."""
    with _fewer_collections():
        return await _rebuild(settings, live)


async def _rebuild(settings: ReportingSettings, live: str) -> int:
    fresh, old = f"{live}_rebuild", f"{live}_old"
    engine = create_engine(settings.database_url)
    await ensure_topics(settings)
    async with engine.begin() as conn:
        await conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {store.q(fresh)} CASCADE"))
    await migrate(settings.database_url, fresh, MIGRATIONS)
    consumer = _consumer(settings)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(name, p)
            for name in (topic_name(settings.topic_prefix, t) for t in TOPICS)
            for p in sorted(
                consumer.partitions_for_topic(name) or await _partitions(consumer, name)
            )
        ]
        consumer.assign(partitions)
        until = await consumer.end_offsets(partitions)
        starts = await consumer.beginning_offsets(partitions)
        sizes = {tp: end - starts.get(tp, 0) for tp, end in until.items()}
        indexes = await _drop_secondary_indexes(engine, fresh)
        count, totals = await _replay_shards(settings, fresh, until, sizes)
        await _finish(engine, fresh, totals, indexes)
        for tp, offset in until.items():
            # the catch-up starts exactly where the replay stopped
            consumer.seek(tp, offset)
        log.info("rebuild replayed", schema=fresh, records=count)
        async with engine.begin() as conn:
            await conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {store.q(old)} CASCADE"))
            exists = await conn.scalar(
                sa.text("SELECT count(*) FROM pg_namespace WHERE nspname = :n"), {"n": live}
            )
            if exists:
                # what no topic holds (sessions, reports as issued, subscriptions, the review's
                # actions) moves over in the swap's own transaction
                for table in KEPT_TABLES:
                    await conn.execute(
                        sa.text(
                            f"INSERT INTO {store.q(fresh)}.{table} SELECT * FROM "
                            f"{store.q(live)}.{table} ON CONFLICT DO NOTHING"
                        )
                    )
                # the outbox's ids go on from the copied ones
                await conn.execute(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{store.q(fresh)}.outbox', 'id'), "
                        f"coalesce(max(id), 0) + 1, false) FROM {store.q(fresh)}.outbox"
                    )
                )
                await conn.execute(
                    sa.text(f"ALTER SCHEMA {store.q(live)} RENAME TO {store.q(old)}")
                )
            await conn.execute(sa.text(f"ALTER SCHEMA {store.q(fresh)} RENAME TO {store.q(live)}"))
        count += await _replay(consumer, engine, live, await consumer.end_offsets(partitions))
        async with engine.begin() as conn:
            await conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {store.q(old)} CASCADE"))
        log.info("rebuild swapped in", schema=live, records=count)
        return count
    finally:
        await consumer.stop()
        await engine.dispose()


def _consumer(settings: ReportingSettings) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )


async def _replay_shards(
    settings: ReportingSettings,
    schema: str,
    until: dict[TopicPartition, int],
    sizes: dict[TopicPartition, int],
) -> tuple[int, store_days.DayTotals]:
    """Replay every partition up to `until` into the fresh schema `schema`, `rebuild_replays`
    replays at once (the first here, the others in forked processes), each over its share of
    the partitions (`_shares`, by their `sizes` in records), in transactions of its own;
    returns the records replayed and the daily aggregates' changes, all replays' together. One replay's Python thread was the bottleneck
    while PostgreSQL left much of its core idle.

    The replays never write the same row: each of a ticket's or clock's records comes from the
    one partition of its key, so one replay applies them all, in order; what every replay
    writes is either held back in the totals (the daily aggregates, the services' ticket
    policies) or an insert that conflicts with nothing (inbox ids) or waits for the other's
    commit and changes nothing (a service's name, taken in order: no deadlock). A failed
    replay fails the rebuild, the others stopped."""
    shares = _shares(until, sizes, settings.rebuild_replays)
    replays = [asyncio.ensure_future(_replay_share(settings, schema, shares[0]))] + [
        asyncio.ensure_future(
            run_forked(functools.partial(_replay_share, settings, schema, share), "rebuild replay")
        )
        for share in shares[1:]
    ]
    try:
        await asyncio.wait(replays, return_when=asyncio.FIRST_EXCEPTION)
        results = [r.result() for r in replays]  # the first failure, if any
    finally:
        for r in replays:
            r.cancel()
        await asyncio.wait(replays)
    totals = store_days.DayTotals()
    for _, share_totals in results:
        totals.merge(share_totals)
    return sum(n for n, _ in results), totals


def _shares(
    until: dict[TopicPartition, int], sizes: dict[TopicPartition, int], count: int
) -> list[dict[TopicPartition, int]]:
    """`until` parted into `count` shares of about as many records each: the largest
    partition first, each to the share with the fewest records so far (partitions of a topic
    keyed by service are as uneven as the services)."""
    shares: list[dict[TopicPartition, int]] = [{} for _ in range(count)]
    held = [0] * count
    for tp in sorted(until, key=lambda tp: (-sizes.get(tp, 0), tp.topic, tp.partition)):
        i = held.index(min(held))
        shares[i][tp] = until[tp]
        held[i] += sizes.get(tp, 0)
    return shares


async def _replay_share(
    settings: ReportingSettings, schema: str, until: dict[TopicPartition, int]
) -> tuple[int, store_days.DayTotals]:
    """Replay the partitions of `until` from their start with a consumer and connections of
    its own; the daily aggregates' changes are held back (nobody reads the fresh schema
    before the swap: they are written once, not moved by every batch)."""
    totals = store_days.DayTotals()
    if not until:
        return 0, totals
    engine = create_engine(settings.database_url, pool_size=1)
    consumer = _consumer(settings)
    await consumer.start()
    try:
        consumer.assign(list(until))
        await consumer.seek_to_beginning(*until)
        started = time.perf_counter()
        count = await _replay(consumer, engine, schema, until, totals)
        # the shares should end together: one that ends early leaves a core idle
        log.info(
            "rebuild share replayed",
            records=count,
            partitions=len(until),
            seconds=round(time.perf_counter() - started, 2),
        )
        return count, totals
    finally:
        await consumer.stop()
        await engine.dispose()


async def _partitions(consumer: AIOKafkaConsumer, name: str) -> set[int]:
    await consumer._client.force_metadata_update()
    return consumer.partitions_for_topic(name) or set()
