"""Group timing as Alertmanager's dispatcher and dedup stage: group_wait, group_interval ticks,
repeat_interval, resolves told only to those told of the firing, acks stopping repeats."""

from __future__ import annotations

from alerting.domain.grouping import GroupState, Member, Timing, flush, formed, on_change

T = Timing(group_wait_ms=30_000, group_interval_ms=300_000, repeat_interval_ms=4 * 3_600_000)


def firing(alert_id: str, signal: str = "s1", **kw: bool) -> Member:
    return Member(alert_id=alert_id, fingerprint=f"{alert_id}|{signal}", resolved=False, **kw)


def resolved(alert_id: str) -> Member:
    return Member(alert_id=alert_id, fingerprint=f"{alert_id}|met", resolved=True)


def test_first_flush_waits_group_wait_then_sends_everything_collected() -> None:
    state = formed(1_000, T)
    assert state.next_flush_at_ms == 31_000
    result = flush(state, [firing("a"), firing("b")], 31_000, T)
    assert result.send
    assert result.firing == ("a", "b")
    assert result.state is not None
    assert result.state.next_flush_at_ms == 31_000 + 300_000  # the next tick


def test_an_alert_joining_later_waits_for_the_next_tick() -> None:
    first = flush(formed(0, T), [firing("a")], 30_000, T).state
    assert first is not None
    moved = on_change(first, 100_000, T)
    assert moved.next_flush_at_ms == 330_000
    second = flush(moved, [firing("a"), firing("b")], 330_000, T)
    assert second.send
    assert second.firing == ("a", "b")


def test_nothing_new_nothing_sent_until_repeat_interval() -> None:
    state = flush(formed(0, T), [firing("a")], 30_000, T).state
    assert state is not None
    quiet = flush(state, [firing("a")], 330_000, T)
    assert not quiet.send
    assert quiet.state is not None
    # the repeat goes at the first tick after last send + 4h
    at = 30_000 + 4 * 3_600_000
    repeat = flush(quiet.state, [firing("a")], at, T)
    assert repeat.send
    assert repeat.firing == ("a",)


def test_a_new_signal_of_the_same_alert_is_news() -> None:
    state = flush(formed(0, T), [firing("a", "warn")], 30_000, T).state
    assert state is not None
    again = flush(state, [firing("a", "breach")], 330_000, T)
    assert again.send


def test_acknowledged_alerts_are_not_repeated() -> None:
    state = flush(formed(0, T), [firing("a")], 30_000, T).state
    assert state is not None
    late = flush(state, [firing("a", acknowledged=True)], 30_000 + 5 * 3_600_000, T)
    assert not late.send


def test_resolve_is_sent_to_a_receiver_told_of_the_firing_then_the_group_ends() -> None:
    state = flush(formed(0, T), [firing("a")], 30_000, T).state
    assert state is not None
    done = flush(state, [resolved("a")], 330_000, T)
    assert done.send
    assert done.resolved == ("a",)
    assert done.firing == ()
    assert done.drop == ("a",)
    assert done.state is None


def test_an_alert_that_fired_and_resolved_inside_group_wait_sends_nothing() -> None:
    done = flush(formed(0, T), [resolved("a")], 30_000, T)
    assert not done.send
    assert done.state is None


def test_muted_alerts_are_not_sent_and_are_sent_when_unmuted() -> None:
    state = formed(0, T)
    held = flush(state, [firing("a", muted=True)], 30_000, T, wake_at_ms=60_000)
    assert not held.send
    assert held.state is not None
    assert held.state.next_flush_at_ms == 60_000
    after = flush(held.state, [firing("a")], 60_000, T)
    assert after.send
    assert after.firing == ("a",)


def test_a_muted_alert_already_told_still_gets_its_resolve() -> None:
    state = flush(formed(0, T), [firing("a"), firing("b")], 30_000, T).state
    assert state is not None
    # b is silenced now; a new alert c makes the group send: b stays "told"
    mid = flush(state, [firing("a"), firing("b", muted=True), firing("c")], 330_000, T).state
    assert mid is not None
    assert "b|s1" in mid.notified
    end = flush(mid, [firing("a"), resolved("b"), firing("c")], 630_000, T)
    assert end.send
    assert end.resolved == ("b",)


def test_time_muted_route_sends_nothing_and_keeps_its_alerts() -> None:
    state = formed(0, T)
    held = flush(state, [firing("a"), resolved("b")], 30_000, T, time_muted=True)
    assert not held.send
    assert held.drop == ()
    assert held.state is not None


def test_group_wait_zero_flushes_at_once() -> None:
    zero = Timing(0, 300_000, 3_600_000)
    state = formed(5_000, zero)
    assert state.next_flush_at_ms == 5_000
    assert flush(state, [firing("a")], 5_000, zero).send


def test_seq_numbers_each_notification() -> None:
    s0 = GroupState(created_at_ms=0, next_flush_at_ms=0)
    s1 = flush(s0, [firing("a")], 0, T).state
    assert s1 is not None
    assert s1.seq == 1
    s2 = flush(s1, [firing("a"), firing("b")], 300_000, T).state
    assert s2 is not None
    assert s2.seq == 2
