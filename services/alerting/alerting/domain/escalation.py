"""Escalation policies: steps notified at `after` from when the alert fired unless it has been
acknowledged, the whole sequence run again `repeat` more times."""

from __future__ import annotations

from dataclasses import dataclass

MIN_CYCLE_MS = 60_000


@dataclass(frozen=True)
class Step:
    after_ms: int
    receivers: tuple[str, ...]
    schedules: tuple[str, ...] = ()  # the users on call in them, through their receivers


@dataclass(frozen=True)
class Policy:
    name: str
    steps: tuple[Step, ...]
    repeat: int = 0

    @property
    def cycle_ms(self) -> int:
        """Length of one run of the steps. The last step waits as long as the gap before it
        (or its own delay when it is the only step) before the run starts again, as a
        PagerDuty rule waits its escalation delay; never less than a minute."""
        last = self.steps[-1].after_ms
        gap = last - self.steps[-2].after_ms if len(self.steps) > 1 else last
        return max(last + gap, MIN_CYCLE_MS)


def step_due_at(policy: Policy, fired_at_ms: int, cycle: int, step: int) -> int:
    return fired_at_ms + cycle * policy.cycle_ms + policy.steps[step].after_ms


def next_step(policy: Policy, cycle: int, step: int) -> tuple[int, int] | None:
    """The (cycle, step) after this one, or None when the policy is done."""
    if step + 1 < len(policy.steps):
        return cycle, step + 1
    if cycle < policy.repeat:
        return cycle + 1, 0
    return None


def due_steps(
    policy: Policy, fired_at_ms: int, cycle: int, step: int, now_ms: int
) -> tuple[list[tuple[int, int]], tuple[int, int] | None]:
    """Steps from (cycle, step) on that are due at `now_ms`, and the first one still ahead."""
    due: list[tuple[int, int]] = []
    at: tuple[int, int] | None = (cycle, step)
    while at is not None and step_due_at(policy, fired_at_ms, *at) <= now_ms:
        due.append(at)
        at = next_step(policy, *at)
    return due, at
