"""Event-time watermarks of the tickets partitions during a backfill: a partition fed with
history is judged at the history's instant, not the wall clock's (docs/design.md, "Backfills
are judged in event time"). Pure: instants in epoch ms, the partitioner handed in."""

# Without it every backfilled ticket breaches the moment its `created` is applied (its
# deadline lies days in the past), and the `resolved` of a later batch retracts the breach and
# sends a met: three signals and a replay for one ticket that simply met its target. With it,
# a clock of a partition in a backfill is advanced only to that partition's watermark (the
# latest event time consumed from it), its later events still apply in order, and its breach
# fires (late) once the history has passed the deadline without a stop, or once the backfill
# is over. A partition enters a backfill with any event more than `BEHIND_MS` old (the first
# fetch of an import may bring a partition only one or two: judged at the wall clock, their
# tickets would breach and be retracted a batch later); it leaves with a batch of recent events
# only (live data again), or after a quiet once the consumer has reached its end: `QUIET_MS`
# after a few late events (their breaches fire a moment late), `IMPORT_QUIET_MS` after an
# import, whose producer may pause between spurts. A live stream never enters, so live breaches
# fire on time.

from __future__ import annotations

import heapq
from collections.abc import Callable

Partitioner = Callable[[str, int], int]
"""The partition of a ticket id among n (Kafka's default partitioner, from the shell)."""

BEHIND_MS = 300_000
"""Events older than this (against the wall clock) are history: ticket systems that poll or
retry deliver events a minute or two late, and those are live data, judged at once."""
ENTER_EVENTS = 1
"""History events of a partition in one batch that start a backfill there."""
QUIET_MS = 1_500
"""A backfill of a few late events that brings nothing for this long has ended."""
IMPORT_EVENTS = 10
"""History events from which a backfill is an import, whose end waits `IMPORT_QUIET_MS`."""
IMPORT_QUIET_MS = 30_000
"""An import that brings nothing for this long has ended (a producer pausing between spurts
shorter than this never ends it, so no breach fires that its next spurt would retract)."""


class Watermarks:
    """The partitions in a backfill, their watermarks, and the timers parked until one passes."""

    def __init__(self, partition_of: Partitioner) -> None:
        self.partition_of = partition_of
        self.marks: dict[int, int] = {}  # partition -> latest event time consumed (backfill only)
        self.seen_at: dict[int, int] = {}  # partition -> wall time of its latest batch
        self.parked: dict[int, list[tuple[int, str]]] = {}  # partition -> (due, ticket) heap
        self.leaving: set[int] = set()  # left with the batch being applied
        self.partitions = 0
        self.applying = False  # between `observe` and `settle`
        self.batch: set[int] = set()  # the partitions of the batch being applied
        self.lagging: set[int] = set()  # records left to consume after the latest batch
        self.history: dict[int, int] = {}  # partition -> history events of its backfill

    def observe(
        self,
        partitions: int,
        seen: dict[int, list[int]],
        now: int,
        lagging: set[int] | None = None,
    ) -> None:
        """Before applying a batch: `seen` maps each tickets partition in it to its events'
        instants; `lagging` are the partitions with records left to consume after this batch
        (their backfill is not over, however long it has been). Live events beside the
        history (live tickets share partitions with it) neither move the watermark nor end
        the backfill; a batch of live events only does."""
        self.partitions = partitions
        self.applying, self.batch = True, set(seen)
        self.lagging = (self.lagging - set(seen)) | (lagging or set())
        for partition, instants in seen.items():
            history = [at for at in instants if now - at > BEHIND_MS]
            if partition in self.marks:
                self.seen_at[partition] = now
                if history:
                    self.marks[partition] = max(max(history), self.marks[partition])
                    self.history[partition] = self.history.get(partition, 0) + len(history)
                else:
                    # live data only: the backfill is over; this batch is still judged at the
                    # history's instant, the wall clock rules once it is committed (`settle`),
                    # since a timer firing meanwhile would judge a clock before its stop
                    self.leaving.add(partition)
            elif len(history) >= ENTER_EVENTS:
                self.marks[partition], self.seen_at[partition] = max(history), now
                self.history[partition] = len(history)

    def settle(self, now: int) -> None:
        """After the consumer committed a batch (or gave up on it): the partitions it brought
        back to live leave, and the quiet of the others counts from now."""
        for partition in self.leaving:
            self._leave(partition)
        self.leaving.clear()
        for partition in self.batch & set(self.seen_at):
            self.seen_at[partition] = now
        self.applying, self.batch = False, set()

    def expire(self, now: int) -> bool:
        """End the backfill of partitions quiet for `QUIET_MS`; True if any ended. Never
        while a batch is being applied (a long batch is no quiet)."""
        if self.applying:
            return False
        quiet = [
            p
            for p, at in self.seen_at.items()
            if now - at >= self._quiet(p) and p not in self.lagging
        ]
        for partition in quiet:
            self._leave(partition)
        return bool(quiet)

    def next_expiry(self) -> int | None:
        """When `expire` may next end a backfill (the timer task wakes for it); None while a
        batch is being applied (its `settle` wakes the timers)."""
        waiting = [at + self._quiet(p) for p, at in self.seen_at.items() if p not in self.lagging]
        if self.applying or not waiting:
            return None
        return min(waiting)

    def _quiet(self, partition: int) -> int:
        """How long the partition must bring nothing for its backfill to be over."""
        return IMPORT_QUIET_MS if self.history.get(partition, 0) >= IMPORT_EVENTS else QUIET_MS

    def _leave(self, partition: int) -> None:
        self.history.pop(partition, None)
        self.marks.pop(partition, None)
        self.seen_at.pop(partition, None)
        self.lagging.discard(partition)

    def now_for(self, ticket_id: str, now: int) -> int:
        """The instant a ticket's clocks are judged at: its partition's watermark during a
        backfill, else the wall clock."""
        if not self.marks or not self.partitions:
            return now
        mark = self.marks.get(self.partition_of(ticket_id, self.partitions))
        return now if mark is None else min(now, mark)

    def park(self, ticket_id: str, due: int, now: int) -> bool:
        """Hold a timer due after its partition's watermark (True: parked, do not fire). A
        deadline within `BEHIND_MS` of now is a live clock's (a partition carries live tickets
        beside the history): it fires on time, whatever the backfill."""
        if not self.marks or not self.partitions or now - due <= BEHIND_MS:
            return False
        partition = self.partition_of(ticket_id, self.partitions)
        mark = self.marks.get(partition)
        if mark is None or due <= mark:
            return False
        heapq.heappush(self.parked.setdefault(partition, []), (due, ticket_id))
        return True

    def fire_at(self, ticket_id: str, due: int, now: int) -> int:
        """The instant a timer that was not parked fires at: the wall clock for a live
        deadline, else the ticket's `now_for`."""
        return now if now - due <= BEHIND_MS else self.now_for(ticket_id, now)

    def released(self) -> list[str]:
        """The parked tickets whose instant the watermark has now passed, or whose partition
        left its backfill (they fire at once, late)."""
        out: list[str] = []
        for partition in list(self.parked):
            heap = self.parked[partition]
            mark = self.marks.get(partition)
            while heap and (mark is None or heap[0][0] <= mark):
                out.append(heapq.heappop(heap)[1])
            if not heap:
                del self.parked[partition]
        return out

    def forget(self, partitions: set[int]) -> None:
        """Partitions revoked: another instance judges them now."""
        for partition in partitions:
            self._leave(partition)
            self.parked.pop(partition, None)
            self.leaving.discard(partition)
