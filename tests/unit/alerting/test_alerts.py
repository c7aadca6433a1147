"""The alert state machine (docs/alerting.md, "Concepts"): which signals open, update and resolve
an alert."""

from __future__ import annotations

from typing import Any

from alerting.domain.alerts import (
    acknowledge,
    alert_key,
    alert_labels,
    apply_signal,
    resolve_by_hand,
)
from pacta.events import Signal


def sig(kind: str, sid: str, **kw: Any) -> Signal:
    base = {
        "signal_id": sid,
        "kind": kind,
        "service": "checkout",
        "metric": "response",
        "ticket_id": "INC-1",
        "priority": "P1",
        "policy": "gold",
        "labels": {"team": "pay"},
        "occurred_at": "2026-03-02T09:00:00Z",
        "detected_at": "2026-03-02T09:00:01Z",
    }
    return Signal.model_validate({**base, **kw})


def test_one_alert_per_ticket_clock_and_per_service_availability() -> None:
    assert alert_key(sig("breach", "1")) == "clock:INC-1:response"
    assert alert_key(sig("breach", "1", metric="resolution")) == "clock:INC-1:resolution"
    avail = sig("availability_breach", "1", metric="availability", ticket_id=None)
    assert alert_key(avail) == "availability:checkout"


def test_labels_are_signal_fields_plus_labels_fields_winning() -> None:
    labels = alert_labels(sig("breach", "1", labels={"team": "pay", "service": "spoof"}))
    assert labels["service"] == "checkout"
    assert labels["team"] == "pay"
    assert labels["kind"] == "breach"
    assert labels["priority"] == "P1"
    assert "customer" not in labels


def test_fires_updates_and_resolves() -> None:
    alert, change = apply_signal(None, sig("warning", "w1", threshold=0.5), 1_000)
    assert change == "fired"
    assert alert is not None
    assert alert.state == "firing"
    breach, change = apply_signal(alert, sig("breach", "b1"), 2_000)
    assert change == "updated"
    assert breach is not None
    assert breach.id == alert.id
    assert breach.labels["kind"] == "breach"
    done, change = apply_signal(breach, sig("stopped", "s1"), 3_000)
    assert change == "resolved"
    assert done is not None
    assert done.state == "resolved"
    assert done.resolved_at_ms == 3_000
    # it keeps the labels it was routed by, so the resolve reaches the same groups
    assert done.labels["kind"] == "breach"


def test_every_firing_and_resolving_kind() -> None:
    for kind in ("warning", "breach", "availability_warning", "availability_breach", "burn_rate"):
        _, change = apply_signal(None, sig(kind, kind), 0)
        assert change == "fired", kind
    for kind in ("met", "stopped", "retracted", "recovered"):
        alert, _ = apply_signal(None, sig("breach", "x"), 0)
        _, change = apply_signal(alert, sig(kind, kind), 1)
        assert change == "resolved", kind


def test_met_without_an_open_alert_is_ignored() -> None:
    assert apply_signal(None, sig("met", "m"), 0) == (None, "ignored")


def test_a_new_episode_after_a_resolve_gets_a_new_id() -> None:
    first, _ = apply_signal(None, sig("breach", "b1"), 0)
    done, _ = apply_signal(first, sig("retracted", "r1"), 1)
    again, change = apply_signal(done, sig("breach", "b2"), 2)
    assert change == "fired"
    assert again is not None
    assert first is not None
    assert again.id != first.id


def test_the_same_first_signal_names_the_same_alert() -> None:
    a, _ = apply_signal(None, sig("breach", "b1"), 0)
    b, _ = apply_signal(None, sig("breach", "b1"), 99)
    assert a is not None
    assert b is not None
    assert a.id == b.id


def test_a_late_warning_after_the_breach_changes_nothing() -> None:
    breach, _ = apply_signal(None, sig("breach", "b1"), 0)
    same, change = apply_signal(breach, sig("warning", "w9"), 1)
    assert change == "ignored"
    assert same == breach


def test_ack_and_manual_resolve() -> None:
    alert, _ = apply_signal(None, sig("breach", "b1"), 0)
    assert alert is not None
    acked = acknowledge(alert, "alice", 10)
    assert acked.state == "acknowledged"
    assert acked.acked_by == "alice"
    assert acknowledge(acked, "bob", 20) is acked
    done = resolve_by_hand(acked, 30)
    assert done.state == "resolved"
    assert acknowledge(done, "x", 40) is done


def test_a_firing_alert_shows_its_most_severe_signal_in_force() -> None:
    avail: dict[str, Any] = {"metric": "availability", "ticket_id": None, "priority": None}
    alert, _ = apply_signal(None, sig("availability_warning", "w", **avail), 1)
    alert, _ = apply_signal(alert, sig("availability_breach", "b", **avail), 2)
    assert alert is not None
    # burn_rate processed after the budget was exhausted: the breach stays the face
    after, change = apply_signal(alert, sig("burn_rate", "r", **avail), 3)
    assert after is not None
    assert after.signal.kind == "availability_breach"
    assert change == "ignored"
    # and a warning after a burn rate
    alert, _ = apply_signal(None, sig("burn_rate", "r1", **avail), 1)
    after, _ = apply_signal(alert, sig("availability_warning", "w1", **avail), 2)
    assert after is not None
    assert after.signal.kind == "burn_rate"
    # the more severe one replaces the face
    after, change = apply_signal(after, sig("availability_breach", "b1", **avail), 3)
    assert after is not None
    assert after.signal.kind == "availability_breach"
    assert change == "updated"


def test_a_retraction_resolving_with_a_met_in_the_same_batch_says_retracted() -> None:
    alert, _ = apply_signal(None, sig("breach", "b"), 1)
    met, change = apply_signal(alert, sig("met", "m"), 5)
    assert met is not None
    assert change == "resolved"
    after, change = apply_signal(met, sig("retracted", "b/retracted"), 5)
    assert after is not None
    assert after.signal.kind == "retracted"
    assert after.state == "resolved"
    assert change == "resolved"
    # a retraction arriving in a later batch is a new condition's business, not this face's
    _later, change = apply_signal(met, sig("retracted", "b/retracted"), 6)
    assert change == "ignored"
    # the other order: the retraction resolves, the met changes nothing
    alert, _ = apply_signal(None, sig("breach", "b"), 1)
    retracted, _ = apply_signal(alert, sig("retracted", "b/retracted"), 5)
    after, change = apply_signal(retracted, sig("met", "m"), 5)
    assert change == "ignored"
    assert retracted is not None
    assert retracted.signal.kind == "retracted"
