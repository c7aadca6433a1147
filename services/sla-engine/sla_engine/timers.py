"""The timer heap ticket clocks and outages share: when each key (a ticket, a service) next
falls due, and one task's sleep until the earliest;."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
from collections.abc import Awaitable, Callable, Iterable

from pacta.clock import now_ms
from pacta.logs import get_logger

log = get_logger(__name__)

IDLE_S = 3600.0
"""How long a timer task sleeps with nothing scheduled (a new instant wakes it sooner)."""


class TimerHeap:
    """(instant, key) in a heap with lazy deletion: rescheduling a key leaves its old entry in
    the heap, skipped when it surfaces (cheaper than taking it out of the middle)."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, str]] = []
        self._due: dict[str, int] = {}
        self.wake = asyncio.Event()

    def __contains__(self, key: str) -> bool:
        return key in self._due

    def keys(self) -> list[str]:
        return list(self._due)

    def due(self, key: str) -> int | None:
        """The instant `key` is armed for (None: not armed)."""
        return self._due.get(key)

    def schedule(self, key: str, due: int | None) -> None:
        """Arm `key` for `due` (None: disarm it)."""
        if due is None:
            self._due.pop(key, None)
            return
        if self._due.get(key) != due:
            self._due[key] = due
            heapq.heappush(self._heap, (due, key))
            if self._heap[0][1] == key:
                self.wake.set()  # a new earliest instant: the timer must sleep less

    def schedule_many(self, dues: Iterable[tuple[str, int]]) -> None:
        """`schedule` for many keys at once: one heapify instead of a push each."""
        for key, due in dues:
            if self._due.get(key) != due:
                self._due[key] = due
                self._heap.append((due, key))
        heapq.heapify(self._heap)
        self.wake.set()

    def cancel(self, key: str) -> None:
        self._due.pop(key, None)

    def retain(self, keep: Callable[[str], bool]) -> None:
        """Disarm every key `keep` refuses (their partitions went to another instance)."""
        for key in [k for k in self._due if not keep(k)]:
            del self._due[key]

    def next_due(self) -> int | None:
        """The earliest instant in the heap (it may be a superseded one: waking for nothing
        costs less than cleaning the heap)."""
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: int) -> list[tuple[int, str]]:
        """Disarm and return (instant, key) of every key whose instant has come."""
        due: list[tuple[int, str]] = []
        while self._heap and self._heap[0][0] <= now:
            at, key = heapq.heappop(self._heap)
            if self._due.get(key) != at:
                continue  # superseded by a later reschedule (lazy deletion)
            del self._due[key]
            due.append((at, key))
        return due

    async def sleep_until_due(self, also: int | None = None) -> None:
        """Sleep until the earliest instant (or `also`, if sooner), or until woken."""
        self.wake.clear()
        dues = [d for d in (self.next_due(), also) if d]
        delay = IDLE_S
        if dues:
            delay = (min(dues) - now_ms()) / 1000
            if delay <= 0:
                return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake.wait(), delay)


async def run_rounds(
    timers: TimerHeap, fire: Callable[[int], Awaitable[None]], stop: asyncio.Event, what: str
) -> None:
    """Sleep until the earliest instant, then `fire(now)`, until `stop`; a failed round is
    logged and retried shortly (what it did not commit is still due)."""
    while not stop.is_set():
        try:
            await timers.sleep_until_due()
            await fire(now_ms())
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception(f"{what} timer round failed; retrying", error=repr(exc))
            await asyncio.sleep(0.2)


async def still_running(rounds: set[asyncio.Task[None]], keep: int) -> set[asyncio.Task[None]]:
    """The rounds still running, once at most `keep` are; a failed one is re-raised (after
    its own clean-up) so that the caller's loop backs off. Finished rounds leave `rounds`
    itself, so that a failure is raised once, not on every later call."""
    done = {t for t in rounds if t.done()}
    rounds -= done
    if len(rounds) > keep:
        finished, _ = await asyncio.wait(rounds, return_when=asyncio.FIRST_COMPLETED)
        rounds -= finished
        done |= finished
    failures = [exc for t in done if not t.cancelled() and (exc := t.exception()) is not None]
    if failures:
        raise failures[0]
    return rounds
