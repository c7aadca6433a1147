"""A backfill (issue 11): a ticket system's history lands on the tickets topic before the engine
reads it, thousands of events behind. Tickets that met their targets in that history must give
their `met` signals and nothing else (no breach the moment a `created` is applied, retracted
by the `resolved` of a later batch); a ticket left open breaches once, late, at its deadline;
and the events apply in order, without a replay each."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaProducer

from pacta.durations import parse_timestamp_ms
from pacta.events import SIGNALS_TOPIC, TICKET_TYPE, TICKETS_TOPIC, cloudevent_headers, topic_name
from pacta.kafka import ensure_topics
from pacta.settings import CommonSettings
from tests.support.client import iso
from tests.support.kafka import TopicReader
from tests.support.postgres import create_database, drop_database
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.e2e

TICKETS, SPREAD = 3_000, 3_000
POLICY = """
policies:
  backfill:
    match: {}
    targets:
      P2: {response: 1h, resolution: 4h}
      P1: {response: 8h, resolution: 3s}
    warn_at: []
"""


@pytest.fixture
async def own(settings: CommonSettings) -> AsyncIterator[CommonSettings]:
    """A database and topics of this test's own: nothing else consumes or writes them."""
    name = f"pacta_bf_{uuid.uuid4().hex[:8]}"
    mine = settings.model_copy(
        update={
            "database_url": await create_database(name),
            "topic_prefix": f"bf{uuid.uuid4().hex[:8]}",
        }
    )
    await ensure_topics(mine)
    yield mine
    await drop_database(name)


@pytest.fixture
def engine(
    own: CommonSettings, service_env: dict[str, str], log_dir: Path, tmp_path: Path
) -> Iterator[ServiceProcess]:
    (tmp_path / "policy.yaml").write_text(POLICY)
    env = {
        **service_env,
        "PACTA_DATABASE_URL": own.database_url,
        "PACTA_TOPIC_PREFIX": own.topic_prefix,
        "PACTA_SLA_ENGINE_CONFIG_DIR": str(tmp_path),
    }
    process = ServiceProcess("sla_engine", env, log_dir)
    yield process
    process.stop()


def history(t0: datetime) -> Iterator[tuple[str, dict[str, Any]]]:
    """created, responded and resolved of each ticket, a day ago, interleaved so that a
    ticket's events land in different batches; plus one ticket never answered."""

    def event(n: int, action: str, after: timedelta) -> tuple[str, dict[str, Any]]:
        ticket = f"B-{n:05d}"
        body = {
            "id": f"{ticket}-{action}",
            "ticket_id": ticket,
            "service": f"svc-{n % 7}",
            "action": action,
            "occurred_at": iso(t0 + timedelta(milliseconds=n) + after),
            **({"priority": "P2", "status": "open"} if action == "created" else {}),
        }
        return ticket, body

    yield event(0, "created", timedelta(0))  # never answered: both clocks breach
    for i in range(1, TICKETS + 2 * SPREAD + 1):
        if i <= TICKETS:
            yield event(i, "created", timedelta(0))
        if SPREAD < i <= TICKETS + SPREAD:
            yield event(i - SPREAD, "responded", timedelta(minutes=1))
        if i > 2 * SPREAD:
            yield event(i - 2 * SPREAD, "resolved", timedelta(minutes=2))


async def produce(own: CommonSettings, events: list[tuple[str, dict[str, Any]]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=own.kafka_bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        topic = topic_name(own.topic_prefix, TICKETS_TOPIC)
        sent = []
        for ticket, body in events:
            headers = cloudevent_headers(
                event_id=body["id"], ce_type=TICKET_TYPE, source="/test", time="", key=ticket
            )
            value = orjson.dumps(body)
            sent.append(
                await producer.send(topic, value=value, key=ticket.encode(), headers=headers)
            )
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


@pytest.mark.parametrize("streaming", [False, True], ids=["waiting-on-the-topic", "streamed-in"])
async def test_a_backfill_gives_the_history_s_signals_and_nothing_else(
    own: CommonSettings, engine: ServiceProcess, streaming: bool
) -> None:
    """The history either waits on the topic when the engine starts (a catch-up), or is
    streamed in while it runs, in chunks of 500 (a migration through ingest)."""
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    if not streaming:
        await produce(own, list(history(t0)))
    async with TopicReader(
        own.kafka_bootstrap, topic_name(own.topic_prefix, SIGNALS_TOPIC)
    ) as signals:
        engine.start()
        if streaming:
            # a live ticket beside the history: its breach must not wait for the backfill
            live = {
                "id": "L-1-created",
                "ticket_id": "L-1",
                "service": "svc-live",
                "action": "created",
                "priority": "P1",
                "occurred_at": iso(datetime.now(UTC)),
            }
            events = [("L-1", live), *history(t0)]
            for i in range(0, len(events), 500):
                await produce(own, events[i : i + 500])
        mets = 2 * TICKETS
        deadline = asyncio.get_running_loop().time() + 90
        while len(signals.matching(lambda s: s["kind"] == "met")) < mets:
            assert asyncio.get_running_loop().time() < deadline, "the backfill did not finish"
            await asyncio.sleep(0.2)
        # an import's timers wait until it has been quiet for IMPORT_QUIET_MS (30 s)
        await signals.wait_for(
            "the open ticket's resolution breach",
            lambda s: s["signal_id"] == "B-00000/resolution/breach/1",
            timeout=90,
        )
        await asyncio.sleep(1)  # anything more that would come, comes now
        kinds: dict[str, int] = {}
        for s in signals.records:
            kinds[s["kind"]] = kinds.get(s["kind"], 0) + 1
        churn = kinds.pop("retracted", 0)
        if streaming:
            live_breach = signals.matching(lambda s: s["signal_id"] == "L-1/resolution/breach/1")
            assert len(live_breach) == 1
            lag = parse_timestamp_ms(live_breach[0]["detected_at"]) - parse_timestamp_ms(
                live_breach[0]["deadline"]
            )
            assert 0 <= lag < 1_000, f"the live breach waited {lag} ms behind the backfill"
            kinds["breach"] -= 1
        # nothing the rest of the history disproves was ever fired: no breach retracted
        assert churn == 0, kinds
        # the history's signals, each once: two mets a ticket, the open one's two breaches
        assert kinds == {"met": mets, "breach": 2}, kinds
        retracted = {s["retracts"] for s in signals.records if s["kind"] == "retracted"}
        breaches = {s["signal_id"] for s in signals.records if s["kind"] == "breach"}
        assert breaches - retracted - {"L-1/resolution/breach/1"} == {
            "B-00000/response/breach/1",
            "B-00000/resolution/breach/1",
        }
        breach = signals.matching(lambda s: s["signal_id"] == "B-00000/resolution/breach/1")[0]
        assert breach["occurred_at"] == iso(t0 + timedelta(hours=4))
        assert breach["late"] is True
    metrics = httpx.get(f"{engine.url}/metrics", timeout=10).text
    assert "pacta_clock_watermark_behind_seconds" in metrics
