"""Which events of a cycle are produced, and how new ids are shared among its requests."""

from __future__ import annotations

from dataclasses import dataclass

from ingest.domain.dedup import RecentIds, candidates, fresh_per_request


@dataclass(frozen=True)
class Ev:
    id: str | None
    n: int = 0


def test_recent_ids_forget_the_oldest_past_capacity() -> None:
    recent = RecentIds(3)
    recent.add_all(["a", "b"])
    recent.add_all(["c", "d"])
    assert len(recent) == 3
    assert "a" not in recent
    assert all(i in recent for i in "bcd")


def test_a_capacity_of_zero_remembers_nothing() -> None:
    recent = RecentIds(0)
    recent.add_all(["a"])
    assert "a" not in recent
    assert len(recent) == 0


def test_candidates_skip_known_ids_and_repeats_within_the_cycle() -> None:
    recent = RecentIds(10)
    recent.add_all(["old"])
    first, repeat = Ev("x", 1), Ev("x", 2)
    todo = candidates([[Ev("old"), first], [repeat, Ev("y")]], recent)
    assert todo == [first, Ev("y")]  # the first occurrence is the one produced


def test_new_ids_go_to_their_first_occurrence_in_arrival_order() -> None:
    a1, a2, b = Ev("a", 1), Ev("a", 2), Ev("b")
    fresh = fresh_per_request([[a1], [a2, b], [Ev("c")]], {"a", "b"})
    assert fresh == [[a1], [b], []]  # c was claimed before (another process, or a restart)


def test_nothing_is_new_when_the_claim_found_every_id() -> None:
    assert fresh_per_request([[Ev("a")], [Ev("a")]], set()) == [[], []]
