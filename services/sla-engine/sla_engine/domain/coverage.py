"""Coverage of a service's monitoring (docs/design.md, "Coverage"): the stretches of time in
which nothing measured the service, which count neither as up nor as down. Pure: instants in
epoch ms, intervals half-open."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from pacta.intervals import Interval, clip, subtract, union
from sla_engine.domain.availability import OpenInterval, close_open

HEARTBEAT_CHECK = "heartbeat"
"""A check whose events only say that the service's monitoring is alive: never down."""


@dataclass(frozen=True, slots=True)
class Monitoring:
    """What a service's monitoring events say about when it was measured."""

    first_ms: int | None  # its first monitoring event of any check, ever (None: none yet)
    silences: tuple[OpenInterval, ...] = ()  # from an event + max_silence to the next event


def silences(instants: Iterable[int], max_silence_ms: int) -> list[OpenInterval]:
    """Where a service went without any monitoring event for longer than `max_silence_ms`:
    from the last event + `max_silence_ms` to the next event (None: no next event yet)."""
    ordered = sorted(set(instants))
    out: list[OpenInterval] = [
        (a + max_silence_ms, b) for a, b in pairwise(ordered) if b - a > max_silence_ms
    ]
    if ordered:
        out.append((ordered[-1] + max_silence_ms, None))
    return out


def unmeasured(
    monitoring: Monitoring | None,
    firing: Sequence[OpenInterval],
    start_ms: int,
    end_ms: int,
    *,
    open_silence: bool = True,
) -> list[Interval]:
    """The unmeasured stretches inside [start_ms, end_ms): before the service's first
    monitoring event, and its silences while no check of it fired (a firing check is a
    measurement: the service is known to have that problem). `open_silence`: count the
    silence still going on (to `end_ms`); False leaves it out, as for the whole month's budget,
    which must not depend on when it is computed. None: nothing known, nothing unmeasured."""
    if monitoring is None or end_ms <= start_ms:
        return []
    pieces: list[Interval] = []
    first = monitoring.first_ms
    if first is None or first > start_ms:
        pieces.append((start_ms, end_ms if first is None else min(first, end_ms)))
    quiet = [s for s in monitoring.silences if open_silence or s[1] is not None]
    pieces += close_open(quiet, end_ms)
    measured = union(close_open(firing, end_ms))
    return subtract(clip(union(pieces), start_ms, end_ms), measured)
