"""Half-open intervals of epoch milliseconds: union, clip, subtract. One arithmetic for the
engine's availability and reporting's recount of any period, so both count the same instants."""

from __future__ import annotations

from collections.abc import Iterable

Interval = tuple[int, int]


def union(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, disjoint intervals covering the same instants; touching ones merge."""
    merged: list[Interval] = []
    for start, end in sorted(iv for iv in intervals if iv[1] > iv[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def clip(intervals: Iterable[Interval], start_ms: int, end_ms: int) -> list[Interval]:
    return union((max(s, start_ms), min(e, end_ms)) for s, e in intervals)


def subtract(intervals: Iterable[Interval], holes: Iterable[Interval]) -> list[Interval]:
    """The parts of `intervals` that no hole covers (sorted, disjoint)."""
    result: list[Interval] = []
    cut = union(holes)
    for start, end in union(intervals):
        cursor = start
        for hole_start, hole_end in cut:
            if hole_end <= cursor or hole_start >= end:
                continue
            if hole_start > cursor:
                result.append((cursor, hole_start))
            cursor = max(cursor, hole_end)
        if cursor < end:
            result.append((cursor, end))
    return result
