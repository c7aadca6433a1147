"""Escalation steps counted from when the alert fired, and `repeat`."""

from __future__ import annotations

from alerting.domain.escalation import Policy, Step, due_steps, step_due_at

POLICY = Policy("p", (Step(0, ("slack",)), Step(900_000, ("pager", "lead"))), repeat=1)


def test_steps_fall_due_at_their_after_from_firing() -> None:
    assert step_due_at(POLICY, 1_000, 0, 0) == 1_000
    assert step_due_at(POLICY, 1_000, 0, 1) == 901_000
    due, upcoming = due_steps(POLICY, 0, 0, 0, 0)
    assert due == [(0, 0)]
    assert upcoming == (0, 1)
    due, upcoming = due_steps(POLICY, 0, 0, 1, 899_999)
    assert due == []
    assert upcoming == (0, 1)


def test_repeat_runs_the_steps_again_then_stops() -> None:
    # one run lasts the last step's delay plus the gap before it: 15m + 15m
    assert POLICY.cycle_ms == 1_800_000
    assert step_due_at(POLICY, 0, 1, 0) == 1_800_000
    due, upcoming = due_steps(POLICY, 0, 0, 1, 10_000_000)
    assert due == [(0, 1), (1, 0), (1, 1)]
    assert upcoming is None


def test_a_single_step_policy_repeats_at_least_a_minute_apart() -> None:
    single = Policy("s", (Step(0, ("a",)),), repeat=2)
    assert single.cycle_ms == 60_000
    due, upcoming = due_steps(single, 0, 0, 0, 60_000)
    assert due == [(0, 0), (1, 0)]
    assert upcoming == (2, 0)
