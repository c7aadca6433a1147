"""Read a topic of this run from the beginning, without a consumer group, and wait for records."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRecord

from pacta.kafka import Record
from sla_engine.domain.watermarks import IMPORT_QUIET_MS

SIGNAL_WAIT = IMPORT_QUIET_MS / 1000 + 15
"""How long a test waits for a record by default. The suite's tests post backdated tickets
on shared partitions, so a partition can be in an import (ten or more history events), whose
held signals the engine fires only after 30 s of quiet (docs/design.md, "Backfills are judged
in event time"): a late warning or breach may take that long, by design."""


class TopicReader:
    """Collects every record of a topic in a background task; `wait_for` polls with a deadline."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        self.records: list[dict[str, Any]] = []
        self.headers: list[dict[str, bytes]] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> TopicReader:
        await self.consumer.start()
        self._task = asyncio.create_task(self._collect())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.consumer.stop()

    async def _collect(self) -> None:
        async for record in self.consumer:
            self.records.append(orjson.loads(record.value))
            self.headers.append({k: bytes(v) for k, v in record.headers})

    def matching(self, predicate: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        return [r for r in self.records if predicate(r)]

    async def wait_for(
        self, what: str, predicate: Callable[[dict[str, Any]], bool], timeout: float = SIGNAL_WAIT
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.matching(predicate)
            if found:
                return found[0]
            await asyncio.sleep(0.02)
        raise AssertionError(
            f"no record for {what} within {timeout}s; saw {len(self.records)} records"
        )


def consumer_records(topic: str, events: list[Any], key: Callable[[Any], str]) -> list[Record]:
    """Events as the consumer hands them to a batch handler: one partition, offsets in order,
    each keyed by `key(event)`."""
    now = int(time.time() * 1000)
    out: list[Record] = []
    for n, event in enumerate(events):
        value = event.model_dump_json().encode()
        k = key(event).encode()
        out.append(ConsumerRecord(topic, 0, n, now, 0, k, value, None, len(k), len(value), ()))
    return out
