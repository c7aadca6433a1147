"""Watermarks of a backfill: a partition fed with history is judged at the history's instant,
its timers wait for the history to pass them, and the wall clock rules again once live data
comes back or the partition has been quiet (a moment after a few late events, longer after an
import); a live stream never waits."""

from __future__ import annotations

from sla_engine.domain.watermarks import (
    BEHIND_MS,
    ENTER_EVENTS,
    IMPORT_EVENTS,
    IMPORT_QUIET_MS,
    QUIET_MS,
    Watermarks,
)
from sla_engine.kafka.ownership import partition_of

NOW = 10**12
DAY = 86_400_000
PARTITIONS = 6
TICKET = "T-1"
P = partition_of(TICKET, PARTITIONS)


def backfilling(at: int = NOW - DAY) -> Watermarks:
    marks = Watermarks(partition_of)
    marks.observe(PARTITIONS, {P: [at] * ENTER_EVENTS}, NOW)
    return marks


def test_a_live_stream_is_judged_at_the_wall_clock() -> None:
    marks = Watermarks(partition_of)
    marks.observe(PARTITIONS, {P: [NOW - BEHIND_MS // 2] * 5_000}, NOW)  # recent
    assert marks.now_for(TICKET, NOW) == NOW
    assert not marks.park(TICKET, NOW - DAY + 60_000, NOW)


def test_one_late_event_waits_a_moment_for_the_rest_of_its_history() -> None:
    """The first history events of an import may come few to a partition: a `created` judged
    at the wall clock would breach at once and be retracted by its `resolved` a batch later.
    So one late event's timer waits too, but only `QUIET_MS`: then it fires, late."""
    marks = Watermarks(partition_of)
    marks.observe(PARTITIONS, {P: [NOW - DAY]}, NOW)
    assert marks.now_for(TICKET, NOW) == NOW - DAY
    assert marks.park(TICKET, NOW - DAY + 60_000, NOW)
    marks.settle(NOW)
    assert marks.next_expiry() == NOW + QUIET_MS
    assert marks.expire(NOW + QUIET_MS)
    assert marks.released() == [TICKET]


def test_an_import_that_pauses_is_not_over() -> None:
    """History produced while the engine consumes comes in spurts: the consumer reaches the
    end of the partition between two of them. An import (IMPORT_EVENTS or more) ends only
    after IMPORT_QUIET_MS without events, so its timers never fire in a pause."""
    marks = Watermarks(partition_of)
    marks.observe(PARTITIONS, {P: [NOW - DAY] * IMPORT_EVENTS}, NOW)
    assert marks.park(TICKET, NOW - DAY + 60_000, NOW)
    marks.settle(NOW)
    assert QUIET_MS < 10_000 <= IMPORT_QUIET_MS
    assert not marks.expire(NOW + 10_000)  # a pause of the producer
    assert marks.next_expiry() == NOW + IMPORT_QUIET_MS
    marks.observe(PARTITIONS, {P: [NOW - DAY + 1_000]}, NOW + 10_000)  # the next spurt
    marks.settle(NOW + 10_000)
    assert marks.released() == []
    assert marks.expire(NOW + 10_000 + IMPORT_QUIET_MS)
    assert marks.released() == [TICKET]


def test_a_backfill_is_judged_at_its_history_and_its_timers_wait() -> None:
    marks = backfilling()
    assert marks.now_for(TICKET, NOW) == NOW - DAY
    assert marks.park(TICKET, NOW - DAY + 3_600_000, NOW)  # an hour after the history's instant
    assert not marks.park(TICKET, NOW - DAY - 1, NOW)  # already passed: fires
    assert marks.released() == []
    # the history moves past the timer (even with a small batch): released, fires then
    marks.observe(PARTITIONS, {P: [NOW - DAY + 7_200_000, NOW - 5]}, NOW)
    assert marks.released() == [TICKET]
    assert marks.now_for(TICKET, NOW) == NOW - DAY + 7_200_000


def test_live_data_ends_the_backfill_once_its_batch_is_committed() -> None:
    marks = backfilling()
    assert marks.park(TICKET, NOW - DAY + 60_000, NOW)
    marks.observe(PARTITIONS, {P: [NOW - 1_000]}, NOW)  # live events only
    # the batch that brought them is still judged at the history's instant ...
    assert marks.now_for(TICKET, NOW) == NOW - DAY
    assert marks.released() == []
    marks.settle(NOW)  # ... and once it is committed the wall clock rules and timers fire
    assert marks.now_for(TICKET, NOW) == NOW
    assert marks.released() == [TICKET]
    assert not marks.park(TICKET, NOW - DAY + 60_000, NOW)


def test_live_events_beside_the_history_neither_move_the_watermark_nor_end_it() -> None:
    marks = backfilling()
    marks.observe(PARTITIONS, {P: [NOW - DAY + 1_000, NOW - 5]}, NOW)
    marks.settle(NOW)
    assert marks.now_for(TICKET, NOW) == NOW - DAY + 1_000


def test_a_quiet_backfill_ends_and_releases_its_timers() -> None:
    marks = backfilling()
    assert marks.park(TICKET, NOW - DAY + 60_000, NOW)
    assert not marks.expire(NOW + 10 * QUIET_MS)  # a batch still being applied is no quiet
    marks.settle(NOW)
    assert marks.next_expiry() == NOW + QUIET_MS
    assert not marks.expire(NOW + QUIET_MS - 1)
    assert marks.expire(NOW + QUIET_MS)
    assert marks.now_for(TICKET, NOW) == NOW
    assert marks.released() == [TICKET]
    assert marks.next_expiry() is None


def test_revoked_partitions_are_forgotten() -> None:
    marks = backfilling()
    assert marks.park(TICKET, NOW - DAY + 60_000, NOW)
    marks.forget({P})
    assert marks.now_for(TICKET, NOW) == NOW
    assert marks.released() == []


def test_a_live_deadline_fires_on_time_in_a_partition_being_backfilled() -> None:
    """Live tickets share partitions with the history: their breaches never wait for it."""
    marks = backfilling()
    assert not marks.park(TICKET, NOW - 5, NOW)
    assert marks.fire_at(TICKET, NOW - 5, NOW) == NOW
    assert marks.fire_at(TICKET, NOW - DAY - 1, NOW) == NOW - DAY  # history: its watermark
