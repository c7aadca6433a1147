"""Which tickets this engine instance owns: those whose key hashes to a partition of the
tickets topic assigned to it. Open clocks follow their partition through a rebalance, so two
instances never both run a ticket's timers (and the signal table's unique id is the backstop).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from aiokafka import TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.partitioner import murmur2

from pacta.logs import get_logger

log = get_logger(__name__)


@lru_cache(maxsize=1 << 16)
def partition_of(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives `key` (murmur2, as the Java client);
    remembered, as murmur2 is pure Python and a ticket is asked for on each of its events."""
    return int((murmur2(key.encode()) & 0x7FFFFFFF) % partitions)


Handler = Callable[[set[int], int], object]


class Partitions(ConsumerRebalanceListener):  # type: ignore[misc]
    """Forwards the assignments of each topic to the owner of that topic's in-memory state:
    ticket clocks follow the tickets topic, outage timers the monitoring topic."""

    def __init__(
        self, count: Callable[[str], int | None], owners: dict[str, tuple[Handler, Handler]]
    ) -> None:
        self.count, self.owners = count, owners

    async def _forward(self, partitions: set[TopicPartition], which: int, what: str) -> None:
        for topic, handlers in self.owners.items():
            total = self.count(topic) or 0
            mine = {tp.partition for tp in partitions if tp.topic == topic}
            if total:
                result = handlers[which](mine, total)
                if hasattr(result, "__await__"):
                    await result
            log.info(what, topic=topic, partitions=sorted(mine))

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._forward(revoked, 1, "partitions revoked")

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self._forward(assigned, 0, "partitions assigned")


class Ownership:
    """The partitions of one topic this instance holds, and so which keys' timers it runs
    (None: all of them, until the first rebalance says otherwise)."""

    def __init__(self) -> None:
        self.owned: set[int] | None = None
        self.total = 0  # partitions of the topic

    def owns(self, key: str) -> bool:
        return self.owns_all() or partition_of(key, self.total) in (self.owned or ())

    def owns_all(self) -> bool:
        """Every partition is this instance's (no key need be hashed: half a million ticket
        ids take seconds)."""
        return self.owned is None or self.owned.issuperset(range(self.total))

    def revoke(self, partitions: set[int], total: int) -> None:
        self.total = total
        self.owned = (self.owned if self.owned is not None else set(range(total))) - partitions

    def assign(self, partitions: set[int], total: int) -> None:
        self.total, self.owned = total, partitions
