"""State for the engine benchmark: open clocks written straight into `sla_engine.clocks` (what
restore() loads at start-up), and ticket events produced straight onto the tickets topic (what
the engine's consumer applies), both shaped so that a steady stream of breaches falls due.

Every seeded ticket is a P2 incident of the benchmark's catch-all policy (24x7, response 1 h,
resolution 4 h, no warn_at), with both clocks open: N tickets are 2N open clocks. Its response
deadline decides which group it belongs to:

  down    deadlines just after the engine was stopped: they came due while it was down
  stream  deadlines `1/rate` s apart from `stream_start_ms` on: the measured breaches
  far     deadlines 30-60 min out: held, timed, never due during the run

The deadline of each ticket is a pure function of its number, so the analysis knows which
clock must breach when without reading anything back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer

from pacta.events import TICKET_TYPE, TICKETS_TOPIC, cloudevent_headers, topic_name

POLICY = "bench"
RESPONSE_MS = 3_600_000
RESOLUTION_MS = 14_400_000
POLICY_BODY = {
    "match": {},
    "calendar": "24x7",
    "targets": {"P2": {"response": "1h", "resolution": "4h"}},
    "warn_at": [],
}
SERVICES = 50
CUSTOMERS = 200


@dataclass(frozen=True)
class Seed:
    """N tickets `<prefix>0000001`...: the first `down`, the next `stream`, the rest far."""

    prefix: str
    tickets: int
    as_of_ms: int  # the instant the snapshots claim to be from (the engine's last write)
    down: int = 0
    down_first_ms: int = 0
    down_span_ms: int = 0
    stream: int = 0
    stream_start_ms: int = 0
    stream_rate: float = 500.0

    @property
    def clocks(self) -> int:
        return 2 * self.tickets

    def ticket_id(self, n: int) -> str:
        return f"{self.prefix}{n:07d}"

    def response_deadline(self, n: int) -> int | None:
        """Deadline of ticket n's response clock if it is meant to come due during the run."""
        if n <= self.down:
            return self.down_first_ms + (n - 1) * self.down_span_ms // max(1, self.down)
        if n <= self.down + self.stream:
            return self.stream_start_ms + int((n - self.down - 1) * 1000 / self.stream_rate)
        return None

    @property
    def stream_end_ms(self) -> int:
        return self.stream_start_ms + int(self.stream * 1000 / self.stream_rate)


_SEED_SQL = f"""
INSERT INTO sla_engine.clocks (
    ticket_id, metric, service, customer, ticket_type, policy, calendar, priority, target_ms,
    warn_at, started_at_ms, as_of_ms, elapsed_ms, paused, stopped_at_ms, breached_at_ms,
    met_signalled, fired, last_event_ms, state, deadline_at, labels, version)
SELECT t.id, m.metric, 'svc-' || (g % {SERVICES}), 'cust-' || (g % {CUSTOMERS}), 'incident',
       '{POLICY}', '24x7', 'P2', m.target, '{{}}'::float8[], t.started, $1::bigint,
       $1::bigint - t.started, false, NULL, NULL, false, '{{}}'::float8[], t.started, 'running',
       to_timestamp((t.started + m.target) / 1000.0), '{{}}'::jsonb, 1
FROM generate_series($2::int, $3::int) AS g
CROSS JOIN LATERAL (
    SELECT $4::text || lpad(g::text, 7, '0') AS id,
           CASE
             WHEN g <= $5 THEN $6::bigint + (g - 1) * $7::bigint / GREATEST(1, $5) - {RESPONSE_MS}
             WHEN g <= $5 + $8 THEN $9::bigint + floor((g - $5 - 1) * 1000 / $10::float8)::bigint
                                    - {RESPONSE_MS}
             ELSE $1::bigint - (g::bigint * 7919) % 1800000
           END AS started
) AS t
CROSS JOIN (VALUES ('response', {RESPONSE_MS}::bigint), ('resolution', {RESOLUTION_MS}::bigint))
    AS m(metric, target)
"""


async def seed_clocks(
    conn: asyncpg.Connection,
    seed: Seed,
    first: int = 1,
    last: int | None = None,
    chunk: int = 100_000,
) -> float:
    """Write the clock rows of tickets first..last (all by default), generated inside
    PostgreSQL; returns the seconds taken."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    last = seed.tickets if last is None else last
    for low in range(first, last + 1, chunk):
        high = min(last, low + chunk - 1)
        await conn.execute(
            _SEED_SQL,
            seed.as_of_ms,
            low,
            high,
            seed.prefix,
            seed.down,
            seed.down_first_ms,
            seed.down_span_ms,
            seed.stream,
            seed.stream_start_ms,
            seed.stream_rate,
        )
    await conn.execute("ANALYZE sla_engine.clocks")
    return loop.time() - started


# ---- ticket events onto the tickets topic ----------------------------------------------------


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def lifecycle_events(
    prefix: str, tickets: int, t0_ms: int, spread: int = 1500
) -> Iterator[tuple[str, str, bytes]]:
    """created -> responded -> resolved for `tickets` new tickets, interleaved so that a
    ticket's three events usually land in different consumer batches: (ticket_id, event id,
    JSON value). Each yields a `met` for both clocks, as a ticket resolved in time does."""
    received = _iso(t0_ms)

    def event(n: int, action: str, offset_ms: int) -> tuple[str, str, bytes]:
        tid = f"{prefix}{n:07d}"
        eid = f"{tid}-{action}"
        body: dict[str, object] = {
            "id": eid,
            "occurred_at": _iso(t0_ms + n + offset_ms),
            "source": "bench",
            "received_at": received,
            "ticket_id": tid,
            "service": f"svc-{n % SERVICES}",
            "type": "incident",
            "action": action,
            "customer": f"cust-{n % CUSTOMERS}",
        }
        if action == "created":
            body["priority"] = "P2"
            body["status"] = "open"
        return tid, eid, orjson.dumps(body)

    for i in range(1, tickets + 2 * spread + 1):
        if i <= tickets:
            yield event(i, "created", 0)
        if spread < i <= tickets + spread:
            yield event(i - spread, "responded", 60_000)
        if 2 * spread < i:
            yield event(i - 2 * spread, "resolved", 120_000)


class TicketProducer:
    """Sends ticket events as ingest would (CloudEvents headers, keyed by ticket id)."""

    def __init__(self, bootstrap: str, prefix: str) -> None:
        self.topic = topic_name(prefix, TICKETS_TOPIC)
        self.producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            max_batch_size=256 * 1024,
            request_timeout_ms=10_000,
        )
        self.sent = 0

    async def __aenter__(self) -> TicketProducer:
        async with asyncio.timeout(30):
            await self.producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            async with asyncio.timeout(15):
                await self.producer.stop()
        except Exception:  # a stuck broker must not keep the benchmark from cleaning up
            pass

    async def send(self, events: list[tuple[str, str, bytes]], timeout: float = 30.0) -> None:
        """Send and wait for every acknowledgement."""
        async with asyncio.timeout(timeout):
            futures = []
            for tid, eid, value in events:
                headers = cloudevent_headers(
                    event_id=eid, ce_type=TICKET_TYPE, source="/pacta/bench", time="", key=tid
                )
                futures.append(
                    await self.producer.send(
                        self.topic, value=value, key=tid.encode(), headers=headers
                    )
                )
            await asyncio.gather(*futures)
        self.sent += len(events)

    async def paced(
        self, events: Iterator[tuple[str, str, bytes]], rate: float, seconds: float
    ) -> dict[str, float]:
        """Send at `rate` events/s for `seconds` on an absolute schedule (10 ms ticks); the
        acknowledgements are awaited in bulk, off the schedule."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        sent = 0
        pending: list[asyncio.Future[object]] = []
        while (elapsed := loop.time() - start) < seconds:
            due = min(int(elapsed * rate) + 1, int(seconds * rate))
            while sent < due:
                nxt = next(events, None)
                if nxt is None:
                    seconds = 0  # the generator ran dry
                    break
                tid, eid, value = nxt
                headers = cloudevent_headers(
                    event_id=eid, ce_type=TICKET_TYPE, source="/pacta/bench", time="", key=tid
                )
                pending.append(
                    await self.producer.send(
                        self.topic, value=value, key=tid.encode(), headers=headers
                    )
                )
                sent += 1
            if len(pending) >= 2000:
                for future in pending:
                    if future.done():
                        future.result()  # a failed send fails the run
                pending = [f for f in pending if not f.done()]
            await asyncio.sleep(0.01)
        async with asyncio.timeout(30):
            await asyncio.gather(*pending)
        took = loop.time() - start
        self.sent += sent
        return {"sent": sent, "seconds": round(took, 2), "rate": round(sent / max(took, 1e-6), 1)}
