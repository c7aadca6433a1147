"""The alert state machine (docs/alerting.md, "Concepts"): one alert per ticket clock or per
service availability, firing on at-risk and breach signals, resolving on met, stopped, retracted
and recovered."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from pacta.events import Signal

FIRING_KINDS = frozenset(
    {"warning", "breach", "availability_warning", "availability_breach", "burn_rate"}
)
RESOLVING_KINDS = frozenset({"met", "stopped", "retracted", "recovered"})
SEVERITY = {
    "warning": 1,
    "breach": 2,
    "availability_warning": 1,
    "burn_rate": 2,
    "availability_breach": 3,
}
"""Which firing signal an alert shows while several are in force: the most severe."""
LABEL_FIELDS = ("kind", "service", "metric", "policy", "priority", "ticket_id", "customer")
"""Signal fields that become routing labels (beside the signal's own `labels`)."""

_BODIES: dict[int, tuple[Signal, dict[str, Any]]] = {}
_BODIES_KEPT = 20_000


def signal_body(signal: Signal) -> dict[str, Any]:
    """A signal's fields as JSON values, dumped once per signal object: a batch writes each
    signal to the inbox record and its alert, then into a notification. Kept by the object's
    identity (the object is held with it, so its id is not reused meanwhile). Callers copy the
    dict, never change it."""
    found = _BODIES.get(id(signal))
    if found is not None and found[0] is signal:
        return found[1]
    if len(_BODIES) >= _BODIES_KEPT:
        _BODIES.clear()
    body = signal.model_dump(mode="json")
    _BODIES[id(signal)] = (signal, body)
    return body


BaseState = Literal["firing", "acknowledged", "resolved"]
State = Literal["firing", "acknowledged", "silenced", "inhibited", "resolved"]


def alert_key(signal: Signal) -> str:
    """Which alert a signal belongs to: its ticket clock, or its service's availability."""
    if signal.metric == "availability" or not signal.ticket_id:
        return f"availability:{signal.service}"
    return f"clock:{signal.ticket_id}:{signal.metric}"


def alert_labels(signal: Signal) -> dict[str, str]:
    """Routing labels: the signal's `labels`, then its fields (which win over a label of the
    same name, since they are what the engine concluded)."""
    labels = {str(k): str(v) for k, v in signal.labels.items()}
    for name in LABEL_FIELDS:
        value = getattr(signal, name)
        if value is not None:
            labels[name] = str(value)
    return labels


def alert_id_for(key: str, first_signal_id: str) -> str:
    """Stable across replays: the same first signal of an episode always names the same alert."""
    digest = hashlib.sha256(f"{key}\x00{first_signal_id}".encode()).hexdigest()
    return "al-" + digest[:24]


@dataclass(frozen=True)
class Alert:
    id: str
    key: str
    state: BaseState
    signal: Signal  # the latest signal applied: what notifications show
    labels: Mapping[str, str]
    fired_at_ms: int
    resolved_at_ms: int | None = None
    acked_at_ms: int | None = None
    acked_by: str | None = None

    @property
    def open(self) -> bool:
        return self.state != "resolved"


Change = Literal["fired", "updated", "resolved", "ignored"]


def apply_signal(current: Alert | None, signal: Signal, now_ms: int) -> tuple[Alert | None, Change]:
    """The alert after `signal`, and what happened to it.

    `current` is the key's open alert, if any (a resolved one counts as none: the next firing
    signal opens a new episode with a new id)."""
    kind = signal.kind
    if current is not None and not current.open:
        if _retracts_in_same_batch(current, kind, now_ms):
            # a retraction and a met in one batch: the receiver is told it was retracted
            return replace(current, signal=signal), "resolved"
        current = None
    if kind in FIRING_KINDS:
        if current is None:
            key = alert_key(signal)
            alert = Alert(
                id=alert_id_for(key, signal.signal_id),
                key=key,
                state="firing",
                signal=signal,
                labels=alert_labels(signal),
                fired_at_ms=now_ms,
            )
            return alert, "fired"
        if SEVERITY[kind] < SEVERITY.get(current.signal.kind, 0):
            # a less severe signal (a late warning after the breach, a burn rate after the
            # budget ran out) says nothing new: the alert keeps its most severe face
            return current, "ignored"
        return replace(current, signal=signal, labels=alert_labels(signal)), "updated"
    if kind in RESOLVING_KINDS:
        if current is None:
            # met with nothing firing (the common case: a clock stopped in time)
            return None, "ignored"
        # labels stay those it was routed by: the resolve goes to the groups it fired in
        resolved = replace(current, state="resolved", signal=signal, resolved_at_ms=now_ms)
        return resolved, "resolved"
    return current, "ignored"


def _retracts_in_same_batch(resolved: Alert, kind: str, now_ms: int) -> bool:
    return (
        kind == "retracted"
        and resolved.resolved_at_ms == now_ms
        and resolved.signal.kind in ("met", "stopped")
    )


def acknowledge(alert: Alert, by: str, now_ms: int) -> Alert:
    if alert.state != "firing":
        return alert
    return replace(alert, state="acknowledged", acked_at_ms=now_ms, acked_by=by)


def resolve_by_hand(alert: Alert, now_ms: int) -> Alert:
    if not alert.open:
        return alert
    return replace(alert, state="resolved", resolved_at_ms=now_ms)
