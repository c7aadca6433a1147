"""Kafka plumbing every service shares: a safe producer, a consumer loop, topic bootstrap.

The settings here correct aiokafka's defaults, which are wrong for Pacta: acks=all with an
idempotent producer, manual offset commits after the service's own database transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, NamedTuple, TypeAlias

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import CommitFailedError, KafkaError, TopicAlreadyExistsError
from aiokafka.partitioner import murmur2
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import exc as sa_exc

from pacta.events import (
    ALL_TOPICS,
    COMPACTED_TOPICS,
    MONITORING_TOPIC,
    SIGNALS_TOPIC,
    TICKETS_TOPIC,
    MonitoringEvent,
    Signal,
    TicketEvent,
    topic_name,
)
from pacta.logs import get_logger
from pacta.settings import CommonSettings

log = get_logger(__name__)

PRODUCE_SECONDS = Histogram(
    "pacta_kafka_produce_seconds",
    "Time from send to the broker's acknowledgement",
    ["topic"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
PRODUCE_ERRORS = Counter(
    "pacta_kafka_produce_errors_total", "Failed or timed-out produces", ["topic"]
)
CONSUME_DELAY = Histogram(
    "pacta_kafka_consume_delay_seconds",
    "Record timestamp to the end of its processing",
    ["topic"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 300),
)
CONSUMED = Counter(
    "pacta_kafka_records_consumed_total", "Records processed and committed", ["topic"]
)
CONSUMER_LAG = Gauge(
    "pacta_kafka_consumer_lag", "Records behind the high watermark", ["topic", "partition"]
)
DEAD_LETTERS = Counter(
    "pacta_kafka_records_set_aside_total",
    "Records skipped after repeated handler failures",
    ["topic"],
)
HANDLER_ERRORS = Counter(
    "pacta_kafka_handler_errors_total", "Batches whose handler failed", ["group"]
)
BATCH_RECORDS = Histogram(
    "pacta_kafka_batch_records",
    "Records per batch handed to the handler (one transaction and one offset commit each)",
    ["group"],
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000),
)

FETCH_MAX_WAIT_MS = 500
"""How long the broker holds a fetch with nothing to answer: an idle consumer's poll period
(aiokafka sends the next fetch, for every partition, once the last one's records are taken)."""

Record: TypeAlias = ConsumerRecord[bytes, bytes]
BatchHandler = Callable[[list[Record]], Awaitable[None]]


class LookaheadHandler:
    """A batch handler that is shown the next batch, already fetched, before it is handed the
    current one (`consume_forever`): it may prepare the next one (decode it) while it waits
    on its database for the current one. Only the records of a batch it is later handed
    are ever shown; nothing of them is committed before that batch is handled."""

    async def __call__(self, records: list[Record]) -> None:
        raise NotImplementedError

    def upcoming(self, records: list[Record]) -> None:
        """The batch handed next (the same list), or an empty one: none fetched yet."""


class FetchPace:
    """The fetch sizes a consumer asks the broker for, by how its records come
    (`consume_forever`): `flowing` (the consumer's `fetch_min_bytes` and `fetch_max_wait_ms`)
    while its polls bring more than one record and none waited through more than two of those
    waits, and an answer at the first record, the fetch held `FETCH_MAX_WAIT_MS` at most,
    otherwise. A stream is fetched in the larger batches; a quiet consumer polls twice a second
    instead of once per `fetch_max_wait_ms`, and a lone event is not held back. Records that
    come in bursts with gaps between them (batches of events posted a few times a second) are
    fetched as they come: waiting through the gaps would only add empty fetches. A change
    applies from the next fetch request aiokafka builds."""

    IDLE = (1, FETCH_MAX_WAIT_MS)

    def __init__(self, min_bytes: int, max_wait_ms: int) -> None:
        self.flowing = (min_bytes, max_wait_ms)
        self.gap_s = 2 * max_wait_ms / 1000

    def polled(self, consumer: AIOKafkaConsumer, records: int, waited_s: float = 0.0) -> None:
        """A poll of the (started) consumer brought `records` records after waiting
        `waited_s` seconds for them."""
        wanted = self.flowing if records > 1 and waited_s <= self.gap_s else self.IDLE
        # aiokafka reads these two of its fetcher at every fetch request it builds
        fetcher: Any = consumer._fetcher
        if (fetcher._fetch_min_bytes, fetcher._fetch_max_wait_ms) != wanted:
            fetcher._fetch_min_bytes, fetcher._fetch_max_wait_ms = wanted


def create_producer(
    settings: CommonSettings, client_id: str, *, linger_ms: int = 1
) -> AIOKafkaProducer:
    """An idempotent producer (implies acks=all); callers bound each wait themselves.

    `linger_ms` 0 suits a caller that hands over whole batches (`send_batch`): nothing joins a
    batch after it is queued, so lingering would only add its delay to every acknowledgement.
    """
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=linger_ms,
        max_batch_size=256 * 1024,
        compression_type=None,
        request_timeout_ms=10_000,
        retry_backoff_ms=100,
    )


def create_consumer(
    settings: CommonSettings,
    group: str,
    topics: Sequence[str],
    client_id: str,
    listener: ConsumerRebalanceListener | None = None,
    max_records: int = 1000,
    *,
    fetch_min_bytes: int = 1,
    fetch_max_wait_ms: int = FETCH_MAX_WAIT_MS,
) -> AIOKafkaConsumer:
    """A group consumer that commits by hand and starts from the beginning of a fresh group.

    `listener` hears partition assignments (a service that keeps per-key state in memory
    loads and drops it there). The broker answers a fetch once it holds `fetch_min_bytes` or
    `fetch_max_wait_ms` has passed: a consumer with no latency to keep raises the first, so a
    steady stream arrives in fewer, larger fetches (each fetch costs the broker and the client
    the same whatever it carries). With `fetch_min_bytes` 1 the first record answers the fetch,
    so `fetch_max_wait_ms` only paces the polls of a consumer with nothing to read.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=group,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_poll_records=max_records,
        fetch_min_bytes=fetch_min_bytes,
        fetch_max_wait_ms=fetch_max_wait_ms,
        session_timeout_ms=10_000,
        heartbeat_interval_ms=1_000,
    )
    consumer.subscribe(
        topics=[topic_name(settings.topic_prefix, t) for t in topics], listener=listener
    )
    return consumer


async def ensure_topics(settings: CommonSettings, suffixes: Sequence[str] = ALL_TOPICS) -> None:
    """Create Pacta's topics if missing: partitioned for scale-out, kept forever for replay."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=10_000
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(
                name=topic_name(settings.topic_prefix, s),
                num_partitions=settings.topic_partitions,
                replication_factor=settings.topic_replication,
                topic_configs=(
                    {"cleanup.policy": "compact"}
                    if s in COMPACTED_TOPICS
                    else {"retention.ms": "-1", "retention.bytes": "-1"}
                ),
            )
            for s in suffixes
            if topic_name(settings.topic_prefix, s) not in existing
        ]
        if wanted:
            # another instance may win the race: the topic is there, which is all we need
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(wanted, timeout_ms=10_000)
            log.info("topics created", topics=[t.name for t in wanted])
    finally:
        await admin.close()


async def start_with_retry(
    component: AIOKafkaProducer | AIOKafkaConsumer, what: str, stop: asyncio.Event
) -> bool:
    """Start a client, retrying while Kafka is unreachable; False if asked to stop first."""
    delay = 0.2
    while not stop.is_set():
        try:
            await component.start()
            log.info("kafka client started", client=what)
            return True
        except KafkaError as exc:
            log.warning("kafka unreachable, retrying", client=what, error=repr(exc), retry_in=delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, 5.0)
    return False


async def kafka_reachable(
    component: AIOKafkaProducer | AIOKafkaConsumer, timeout: float = 2.0
) -> bool:
    """Ask the broker for metadata within a deadline: what /readyz reports."""
    client = getattr(component, "client", None) or getattr(component, "_client", None)
    if client is None:
        return False
    try:
        return bool(await asyncio.wait_for(client.fetch_all_metadata(), timeout))
    except (TimeoutError, KafkaError, OSError):
        return False


async def send_all(
    producer: AIOKafkaProducer,
    records: Sequence[tuple[str, bytes, bytes, list[tuple[str, bytes]]]],
    timeout: float,
) -> None:
    """Send (topic, key, value, headers) records and wait for every acknowledgement.

    With idempotence on, aiokafka never times a send out by itself, so the deadline is ours;
    a send that misses it may still land later, which the consumers' dedup by id makes safe.
    """
    started = time.perf_counter()
    try:
        # one deadline over both steps: send() itself waits when metadata or buffer space lacks
        async with asyncio.timeout(timeout):
            futures = [
                await producer.send(topic, value=value, key=key, headers=headers)
                for topic, key, value, headers in records
            ]
            await asyncio.gather(*futures)
    except BaseException:
        for topic in {r[0] for r in records}:
            PRODUCE_ERRORS.labels(topic).inc()
        raise
    elapsed = time.perf_counter() - started
    for topic in {r[0] for r in records}:
        PRODUCE_SECONDS.labels(topic).observe(elapsed)


async def consume_forever(
    consumer: AIOKafkaConsumer,
    group: str,
    handle: BatchHandler,
    stop: asyncio.Event,
    max_records: int = 1000,
    *,
    pace: FetchPace | None = None,
) -> None:
    """Fetch, handle, then commit: the handler's database transaction comes before the offset.

    A crash between the two replays the batch, and the handler's dedup by event id absorbs it.
    The commit's round trip after each batch also lets the next batch fill: committing less
    often made the engine's batches smaller and its CPU per single event higher (measured).
    A failing handler (PostgreSQL down) is retried with backoff on the same batch: never skipped.
    `pace`: the consumer's fetch sizes, applied while records flow only.
    """
    ahead: dict[TopicPartition, list[Record]] = {}
    upcoming: list[Record] = []  # the records of `ahead`, as the handler was shown them
    batch_records = BATCH_RECORDS.labels(group)
    while not stop.is_set():
        waited = 0.0
        if ahead:
            batches, records = ahead, upcoming
        else:
            asked = time.monotonic()
            batches = await consumer.getmany(timeout_ms=200, max_records=max_records)
            records = [r for rs in batches.values() for r in rs]
            waited = time.monotonic() - asked
        if pace is not None:
            pace.polled(consumer, len(records), waited)
        ahead, upcoming = {}, []
        if not records:
            continue
        if len(records) >= max_records and isinstance(handle, LookaheadHandler):
            # a full batch (a backlog): what the fetcher already holds, taken without waiting,
            # is prepared by the handler meanwhile. A smaller batch took all it held
            ahead = await consumer.getmany(timeout_ms=0, max_records=max_records)
            upcoming = [r for rs in ahead.values() for r in rs]
            handle.upcoming(upcoming)
        await _handle_until_done(handle, records, group, stop)
        offsets = {tp: rs[-1].offset + 1 for tp, rs in batches.items()}
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as exc:
            # A rebalance took the partitions away: the new owner replays from the last commit.
            log.warning("offset commit failed; batch will be replayed", error=repr(exc))
        batch_records.observe(len(records))
        _observe(consumer, records)


async def _handle_until_done(
    handle: BatchHandler, records: list[Record], group: str, stop: asyncio.Event
) -> None:
    """Retry a batch until it is applied. An outage (PostgreSQL down) is retried forever; a
    batch that keeps failing for another reason is split so that one poisonous record is set
    aside (logged with its offset, counted, still in Kafka for a replay) instead of stopping
    the whole partition."""
    delay, failures = 0.1, 0
    while True:
        try:
            await handle(records)
            return
        except Exception as exc:
            HANDLER_ERRORS.labels(group).inc()
            if stop.is_set():
                raise
            failures = 0 if is_transient(exc) else failures + 1
            if failures >= 3:
                if len(records) > 1:
                    for record in records:
                        await _handle_until_done(handle, [record], group, stop)
                    return
                r = records[0]
                DEAD_LETTERS.labels(r.topic).inc()
                log.error(
                    "record set aside after repeated failures",
                    group=group,
                    topic=r.topic,
                    partition=r.partition,
                    offset=r.offset,
                    error=repr(exc),
                )
                return
            log.exception("batch handler failed; retrying", group=group, error=repr(exc))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


def is_transient(exc: BaseException) -> bool:
    """Errors that say a dependency is away (retry forever), not that the data is bad."""
    if isinstance(exc, OSError | TimeoutError | ConnectionError | KafkaError):
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated or isinstance(
            exc, sa_exc.OperationalError | sa_exc.InterfaceError
        ):
            return True
        state = str(getattr(exc.orig, "sqlstate", "") or "")
        # connection, resources, operator intervention, transaction rollback (serialization)
        return state[:2] in ("08", "53", "57", "40") or not state
    return isinstance(exc, sa_exc.TimeoutError)


def _observe(consumer: AIOKafkaConsumer, records: list[Record]) -> None:
    now_ms = time.time() * 1000
    # one labelled child per topic, not one lookup per record (a backfill's batches are
    # thousands of records)
    delays: dict[str, Any] = {}
    counts: dict[str, int] = {}
    last: dict[tuple[str, int], int] = {}
    for r in records:
        delay = delays.get(r.topic)
        if delay is None:
            delay = delays[r.topic] = CONSUME_DELAY.labels(r.topic)
        delay.observe(max(0.0, (now_ms - r.timestamp) / 1000))
        counts[r.topic] = counts.get(r.topic, 0) + 1
        last[(r.topic, r.partition)] = max(last.get((r.topic, r.partition), -1), r.offset)
    for topic, count in counts.items():
        CONSUMED.labels(topic).inc(count)
    for (topic, partition), offset in last.items():
        high = consumer.highwater(TopicPartition(topic, partition))
        if high is not None:
            CONSUMER_LAG.labels(topic, str(partition)).set(max(0, high - (offset + 1)))


def decode_events(records: list[Record]) -> list[MonitoringEvent | TicketEvent | Signal]:
    """Parse event and signal records by topic; an unparsable record is logged, never fatal."""
    out: list[MonitoringEvent | TicketEvent | Signal] = []
    for record in records:
        model: type[MonitoringEvent | TicketEvent | Signal]
        if record.topic.endswith(MONITORING_TOPIC):
            model = MonitoringEvent
        elif record.topic.endswith(TICKETS_TOPIC):
            model = TicketEvent
        elif record.topic.endswith(SIGNALS_TOPIC):
            model = Signal
        else:
            continue
        try:
            out.append(model.model_validate_json(record.value or b""))
        except ValueError:
            log.error("undecodable record skipped", topic=record.topic, offset=record.offset)
    return out


PARTITIONS_TTL_S = 60.0
"""Partition lists are looked up again this often (topics may gain partitions)."""
MAX_CACHED_KEYS = 100_000
"""Keys whose partition is remembered (murmur2 is pure Python); cleared when full."""


class KeyPartitions:
    """The partition Kafka's default partitioner gives each key (murmur2, as the Java client),
    for producers that build their own record batches per partition."""

    def __init__(self) -> None:
        self._partitions: dict[str, tuple[float, list[int]]] = {}
        self._key_partition: dict[tuple[str, bytes], int] = {}

    async def of(self, producer: AIOKafkaProducer, topic: str, key: bytes) -> int:
        now = time.monotonic()
        known = self._partitions.get(topic)
        if known is None or now - known[0] > PARTITIONS_TTL_S:
            parts = sorted(await producer.partitions_for(topic))
            if known is not None and parts != known[1]:
                self._key_partition.clear()  # keys move as the default partitioner moves them
            known = self._partitions[topic] = (now, parts)
        cached = self._key_partition.get((topic, key))
        if cached is not None:
            return cached
        parts = known[1]
        partition: int = parts[(murmur2(key) & 0x7FFFFFFF) % len(parts)]
        if len(self._key_partition) >= MAX_CACHED_KEYS:
            self._key_partition.clear()
        self._key_partition[(topic, key)] = partition
        return partition


class ProducerRecord(NamedTuple):
    """One record for `BatchProducer`: its topic, key, value (None: a tombstone) and headers."""

    topic: str
    key: bytes
    value: bytes | None
    headers: list[tuple[str, bytes]]


class BatchProducer:
    """Sends records as one record batch per partition (aiokafka's `create_batch` /
    `send_batch`), with one future per batch rather than a `send()`, a future and an
    accumulator lookup per record, which was the largest per-record cost of the ingest's
    batched requests and half of the engine relay's time in a backfill. Partitions are chosen
    as the default partitioner chooses them (`KeyPartitions`), so a plain `send()`, other
    producers and the consumers' key ownership agree; order is kept per partition."""

    def __init__(self) -> None:
        self._keys = KeyPartitions()
        # One batch per partition waits to be queued at a time: aiokafka's add_batch shrinks
        # its own timeout on every retry, so concurrent sends contending for one partition
        # could fail with KafkaTimeoutError well inside our deadline (seen on a loaded box).
        self._queueing: dict[tuple[str, int], asyncio.Lock] = {}

    async def send(
        self, producer: AIOKafkaProducer, records: Sequence[ProducerRecord], *, timeout: float
    ) -> None:
        """Send every record and wait for the broker's acknowledgement of all (acks=all), or
        raise; with idempotence on a send never times out by itself, so the deadline is ours."""
        await (await self.queue(producer, records, timeout=timeout))

    async def queue(
        self, producer: AIOKafkaProducer, records: Sequence[ProducerRecord], *, timeout: float
    ) -> Coroutine[Any, Any, None]:
        """`send` in two steps: every record queued on the producer (so a later call's records
        of a partition follow these), then, awaited, the broker's acknowledgement of all, or
        its error; `timeout` bounds both together."""
        started = time.perf_counter()
        topics = {r.topic for r in records}
        deadline = asyncio.get_running_loop().time() + timeout
        try:
            async with asyncio.timeout_at(deadline):
                futures = await self._batches(producer, records)
        except BaseException:
            for topic in topics:
                PRODUCE_ERRORS.labels(topic).inc()
            raise
        return self._acknowledged(futures, topics, started, deadline)

    async def _acknowledged(
        self,
        futures: list[asyncio.Future[Any]],
        topics: set[str],
        started: float,
        deadline: float,
    ) -> None:
        try:
            async with asyncio.timeout_at(deadline):
                await asyncio.gather(*futures)
        except BaseException:
            for topic in topics:
                PRODUCE_ERRORS.labels(topic).inc()
            raise
        elapsed = time.perf_counter() - started
        for topic in topics:
            PRODUCE_SECONDS.labels(topic).observe(elapsed)

    async def _batches(
        self, producer: AIOKafkaProducer, records: Sequence[ProducerRecord]
    ) -> list[asyncio.Future[Any]]:
        """The records queued as one batch per partition (more when one fills); their futures."""
        batches: dict[tuple[str, int], Any] = {}
        futures: list[asyncio.Future[Any]] = []
        seen: dict[tuple[str, bytes], tuple[str, int]] = {}  # a few keys, many records
        for topic, key, value, headers in records:
            tp = seen.get((topic, key))
            if tp is None:
                tp = seen[(topic, key)] = (topic, await self._keys.of(producer, topic, key))
            batch = batches.get(tp)
            if (
                batch is None
                or batch.append(key=key, value=value, timestamp=None, headers=headers) is None
            ):
                if batch is not None:  # full: it goes now, a new one takes the record
                    futures.append(await self._queue(producer, batch, tp))
                batch = batches[tp] = producer.create_batch()
                if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                    # never silently: records are bounded far below a batch
                    size = len(value or b"")
                    raise ValueError(f"a record of {size} bytes is larger than a batch")
        for tp, batch in batches.items():
            futures.append(await self._queue(producer, batch, tp))
        return futures

    async def _queue(
        self, producer: AIOKafkaProducer, batch: Any, tp: tuple[str, int]
    ) -> asyncio.Future[Any]:
        lock = self._queueing.get(tp)
        if lock is None:
            lock = self._queueing[tp] = asyncio.Lock()
        async with lock:
            future: asyncio.Future[Any] = await producer.send_batch(batch, tp[0], partition=tp[1])
            return future
