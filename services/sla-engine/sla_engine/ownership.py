"""Which tickets this engine instance owns: those whose key hashes to a partition of the
tickets topic assigned to it. Open clocks follow their partition through a rebalance, so two
instances never both run a ticket's timers (and the signal table's unique id is the backstop).
"""

from __future__ import annotations

from collections.abc import Callable

from aiokafka import TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.partitioner import murmur2

from pacta.logs import get_logger

log = get_logger(__name__)


def partition_of(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives `key` (murmur2, as the Java client)."""
    return int((murmur2(key.encode()) & 0x7FFFFFFF) % partitions)


class Partitions(ConsumerRebalanceListener):  # type: ignore[misc]
    """Forwards assignments of one topic to the owner of the in-memory state."""

    def __init__(
        self,
        topic: str,
        count: Callable[[], int | None],
        on_assigned: Callable[[set[int], int], object],
        on_revoked: Callable[[set[int], int], object],
    ) -> None:
        self.topic, self.count = topic, count
        self.on_assigned, self.on_revoked = on_assigned, on_revoked

    def _mine(self, partitions: set[TopicPartition]) -> set[int]:
        return {tp.partition for tp in partitions if tp.topic == self.topic}

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        total = self.count() or 0
        if total:
            result = self.on_revoked(self._mine(revoked), total)
            if hasattr(result, "__await__"):
                await result
        log.info("partitions revoked", topic=self.topic, partitions=sorted(self._mine(revoked)))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        total = self.count() or 0
        if total:
            result = self.on_assigned(self._mine(assigned), total)
            if hasattr(result, "__await__"):
                await result
        log.info("partitions assigned", topic=self.topic, partitions=sorted(self._mine(assigned)))
