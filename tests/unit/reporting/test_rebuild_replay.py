"""The rebuild's replay hands its batches to one writer: every batch is written, in the order
fetched, and a failed write fails the replay with no batch written after it."""

from __future__ import annotations

from typing import Any, cast

import orjson
import pytest
from aiokafka import ConsumerRecord, TopicPartition

from pacta.events import MONITORING_TOPIC, topic_name
from reporting import rebuild
from reporting.consumer import Decoded

TOPIC = topic_name("t", MONITORING_TOPIC)
PARTITION = TopicPartition(TOPIC, 0)


class _Consumer:
    """The three consumer calls the replay makes, over one partition's records."""

    def __init__(self, count: int) -> None:
        self.records = [_record(i) for i in range(count)]
        self.at = 0

    async def position(self, tp: TopicPartition) -> int:
        return self.at

    async def getmany(
        self, *tps: TopicPartition, timeout_ms: int, max_records: int
    ) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]:
        batch = self.records[self.at : self.at + max_records]
        self.at += len(batch)
        return {PARTITION: batch}


def _record(offset: int) -> ConsumerRecord[bytes, bytes]:
    value = orjson.dumps(
        {
            "occurred_at": "2026-01-03T04:05:06Z",
            "service": f"svc-{offset:05d}",
            "check": "cpu",
            "status": "firing",
        }
    )
    return ConsumerRecord(TOPIC, 0, offset, 0, 0, None, value, None, 0, len(value), [])


async def _replay(consumer: _Consumer) -> int:
    return await rebuild._replay(
        cast(Any, consumer), cast(Any, None), "reporting_rebuild", {PARTITION: 50}
    )


async def test_every_batch_is_written_in_the_order_fetched(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    written: list[str] = []

    async def apply(engine: object, schema: str, d: Decoded, **kw: object) -> None:
        written.extend(sorted(d.services))

    monkeypatch.setattr(rebuild, "BATCH", 7)
    monkeypatch.setattr(rebuild, "apply_decoded", apply)
    consumer = _Consumer(60)  # ten past the watermark: left out
    assert await _replay(consumer) == 50
    assert written == [f"svc-{i:05d}" for i in range(50)]


async def test_a_failed_write_fails_the_replay_and_nothing_is_written_after_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    written: list[int] = []

    async def apply(engine: object, schema: str, d: Decoded, **kw: object) -> None:
        if len(written) == 2:
            raise RuntimeError("the database went away")
        written.append(len(d.services))

    monkeypatch.setattr(rebuild, "BATCH", 5)
    monkeypatch.setattr(rebuild, "apply_decoded", apply)
    with pytest.raises(RuntimeError, match="went away"):
        await _replay(_Consumer(50))
    assert written == [5, 5]


def test_the_partitions_are_shared_out_by_their_records() -> None:
    sizes = {TopicPartition("t", p): n for p, n in enumerate([10, 90, 40, 50, 0, 10])}
    until = {tp: n + 5 for tp, n in sizes.items()}
    shares = rebuild._shares(until, sizes, 2)
    assert len(shares) == 2
    assert {tp: end for share in shares for tp, end in share.items()} == until
    held = sorted(sum(sizes[tp] for tp in share) for share in shares)
    assert held == [100, 100]
