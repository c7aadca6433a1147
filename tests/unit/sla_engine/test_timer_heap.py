"""The timer heap ticket clocks and outages share: the latest instant of a key counts, what
comes due is handed out once, and what is disarmed or not retained never fires."""

import asyncio

import pytest

from sla_engine.timers import TimerHeap, still_running


def test_latest_instant_counts_and_fires_once() -> None:
    timers = TimerHeap()
    timers.schedule("a", 100)
    timers.schedule("b", 50)
    timers.schedule("a", 200)  # rescheduled: its entry at 100 is stale
    assert timers.next_due() == 50
    assert timers.pop_due(150) == [(50, "b")]
    assert timers.pop_due(150) == []
    assert timers.pop_due(200) == [(200, "a")]
    assert "a" not in timers


def test_disarmed_and_unretained_keys_never_fire() -> None:
    timers = TimerHeap()
    timers.schedule_many([("a", 10), ("b", 20), ("c", 30)])
    timers.cancel("a")
    timers.schedule("b", None)
    timers.retain(lambda key: key != "c")
    assert timers.pop_due(100) == []
    assert timers.keys() == []


def test_an_earlier_instant_wakes_the_sleeper() -> None:
    timers = TimerHeap()
    timers.schedule("a", 100)
    timers.wake.clear()
    timers.schedule("b", 200)
    assert not timers.wake.is_set()  # not the earliest: the sleeper's deadline stands
    timers.schedule("c", 50)
    assert timers.wake.is_set()


async def test_a_failed_round_is_raised_once() -> None:
    async def fail() -> None:
        raise RuntimeError("round failed")

    rounds = {asyncio.create_task(fail())}
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError):
        await still_running(rounds, 3)
    assert rounds == set()  # the caller's set no longer holds it: the next call is quiet
    assert await still_running(rounds, 3) == set()
