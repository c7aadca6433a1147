"""Which events of a cycle go to Kafka, and which answer as duplicates (no I/O, no clock)."""

# PostgreSQL's `ingest.seen_events` is the authority on what was acknowledged. In front of it
# each process keeps the ids whose claim it saw committed, so a retry it has seen answers at once
# without a produce. An id enters that set only after its claim committed: an id whose produce or
# claim failed is never in it, so its retry is never mistaken for a duplicate.

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import islice
from typing import Protocol, TypeVar


class HasId(Protocol):
    @property
    def id(self) -> str | None: ...


E = TypeVar("E", bound=HasId)


class RecentIds:
    """At most `capacity` ids, the oldest forgotten first (PostgreSQL still knows them)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._ids: dict[str, None] = {}  # insertion-ordered: the first key is the oldest

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add_all(self, ids: Iterable[str]) -> None:
        if self.capacity <= 0:
            return
        self._ids.update(dict.fromkeys(ids))
        excess = len(self._ids) - self.capacity
        if excess > 0:
            # dicts keep insertion order: the first `excess` keys are the oldest
            for old in list(islice(self._ids, excess)):
                del self._ids[old]


def candidates(requests: Sequence[Sequence[E]], recent: RecentIds) -> list[E]:
    """The events to produce: the first occurrence in this cycle of each id not known here.

    A later occurrence of an id in the same cycle shares the first one's fate (one produce, one
    claim, one answer for all), so it is never produced twice.
    """
    seen: set[str | None] = set()
    out: list[E] = []
    for events in requests:
        for event in events:
            if event.id in recent or event.id in seen:
                continue
            seen.add(event.id)
            out.append(event)
    return out


def fresh_per_request(requests: Sequence[Sequence[E]], new_ids: set[str]) -> list[list[E]]:
    """Split the ids PostgreSQL reported new among the requests: each to its first occurrence,
    in arrival order; every other event is answered as a duplicate."""
    left = set(new_ids)
    out: list[list[E]] = []
    for events in requests:
        fresh = []
        for event in events:
            if event.id in left:
                left.discard(event.id)
                fresh.append(event)
        out.append(fresh)
    return out
