"""The outbox relay on a failing producer: a round's acknowledgement is never dropped."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from typing import Any

import pytest

from pacta.events import FACT_TYPE, SIGNAL_TYPE
from sla_engine.kafka.outbox import Relay, written
from sla_engine.kafka.records import OutboxRecord


class _Engine:
    """Only what the relay's handed rounds touch: the key of `written`."""

    def __init__(self) -> None:
        self.sync_engine = self


class _Sender:
    """A producer's two steps: `queue` returns what waits for the round's acknowledgement,
    which succeeds or fails as the test decides; `fail_queue` makes the n-th queue raise."""

    def __init__(self, fail_queue: int | None = None) -> None:
        self.acks: list[asyncio.Future[None]] = []
        self.awaited: list[int] = []
        self.fail_queue = fail_queue

    async def queue(
        self, producer: object, records: Sequence[object], *, timeout: float
    ) -> Coroutine[Any, Any, None]:
        if self.fail_queue == len(self.acks):
            raise ConnectionError("broker gone")
        n = len(self.acks)
        self.acks.append(asyncio.get_running_loop().create_future())
        return self._wait(n)

    async def _wait(self, n: int) -> None:
        try:
            await self.acks[n]
        finally:
            self.awaited.append(n)


def _record(seq: int, ce_type: str = SIGNAL_TYPE) -> OutboxRecord:
    return OutboxRecord("pacta.signals", "svc", f"r{seq}", ce_type, "2026-12-08T00:00:00Z", b"{}")


def _relay(sender: _Sender) -> tuple[Relay, list[int]]:
    engine = _Engine()
    relay = Relay(engine, None)  # type: ignore[arg-type]
    relay.sender = sender  # type: ignore[assignment]
    deleted: list[int] = []

    async def delete() -> None:
        deleted.extend(relay.acked)
        relay.acked = []

    relay._delete_acked = delete  # type: ignore[method-assign]
    return relay, deleted


def _hand(relay: Relay, *seqs: int, ce_type: str = SIGNAL_TYPE) -> None:
    written(relay.engine).add(list(seqs), [[_record(s, ce_type)] for s in seqs])
    relay.notify(list(seqs))


async def test_the_round_queued_after_a_failed_one_is_still_awaited() -> None:
    sender = _Sender()
    relay, deleted = _relay(sender)
    _hand(relay, 1)
    assert await relay.relay_handed() == 1
    _hand(relay, 2)
    sender.acks[0].set_exception(ConnectionError("not acknowledged"))
    with pytest.raises(ConnectionError):
        await relay.relay_handed()  # round 2 queued, round 1's failure raised
    assert relay.unacked is not None
    assert relay.unacked[0] == [2]
    sender.acks[1].set_result(None)
    await relay.acknowledged()  # what the read round after the failure does first
    await relay.deleted()
    assert deleted == [2]  # round 1's row stays on the outbox for the read round
    assert sender.awaited == [0, 1]


async def test_a_failed_queue_of_the_facts_leaves_no_acks_unawaited() -> None:
    sender = _Sender(fail_queue=1)
    relay, deleted = _relay(sender)
    written(relay.engine).add([1], [[_record(1), _record(2, FACT_TYPE)]])
    relay.notify([1])
    with pytest.raises(ConnectionError):
        await relay.relay_handed()
    sender.acks[0].set_exception(ConnectionError("not acknowledged either"))
    for _ in range(3):
        await asyncio.sleep(0)  # the abandoned acks run out on their own
    assert sender.awaited == [0]
    assert deleted == []
