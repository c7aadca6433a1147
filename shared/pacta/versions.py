"""Versions with effective dates (a change never rewrites the past): which version of a policy or calendar is in force at
an instant, and the stretches of a period each one governs. Pure: instants in epoch ms."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

SINCE_ALWAYS = -(2**62)
"""The effective instant of a version with no `effective_from` (a first version)."""


@dataclass(frozen=True, slots=True)
class Version(Generic[T]):
    """One version: `value` is in force from `effective_from_ms` (None: since always) for as
    long as no later-recorded version takes effect; None as value: deleted from then on."""

    version: int
    effective_from_ms: int | None
    value: T | None
    recorded_at_ms: int = 0

    @property
    def starts_ms(self) -> int:
        return SINCE_ALWAYS if self.effective_from_ms is None else self.effective_from_ms


def in_effect(versions: Iterable[Version[T]], at_ms: int) -> Version[T] | None:
    """The version in force at `at_ms`: of those effective by then, the latest recorded. A
    correction recorded later with an earlier `effective_from` thus overrides from its instant
    on, and every instant before it keeps what it had (a change never rewrites the past)."""
    best: Version[T] | None = None
    for candidate in versions:
        if candidate.starts_ms <= at_ms and (best is None or candidate.version > best.version):
            best = candidate
    return best


def change_instants(versions: Iterable[Version[T]]) -> list[int]:
    """Every instant at which the version in force may change, ascending."""
    return sorted({v.effective_from_ms for v in versions if v.effective_from_ms is not None})


def segments(
    versions: Sequence[Version[T]], start_ms: int, end_ms: int
) -> list[tuple[int, int, Version[T] | None]]:
    """[start, end) cut at each change: (from, until, version in force); neighbours in force
    under the same version are merged, and a stretch with none in force says None."""
    cuts = [t for t in change_instants(versions) if start_ms < t < end_ms]
    out: list[tuple[int, int, Version[T] | None]] = []
    for lo, hi in zip([start_ms, *cuts], [*cuts, end_ms], strict=True):
        current = in_effect(versions, lo)
        if out and out[-1][2] == current:
            out[-1] = (out[-1][0], hi, current)
        else:
            out.append((lo, hi, current))
    return [s for s in out if s[0] < s[1]]
