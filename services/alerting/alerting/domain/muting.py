"""Silences and inhibition rules with Alertmanager's semantics, and time-interval muting by
business calendars: the three reasons a firing alert is recorded but not sent."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from alerting.domain.matchers import Matcher, matches_all
from pacta.calendars import Calendar, is_working, next_transition


@dataclass(frozen=True)
class Silence:
    id: str
    matchers: tuple[Matcher, ...]
    starts_at_ms: int
    ends_at_ms: int
    expire_on_resolve: bool = False

    def active(self, now_ms: int) -> bool:
        return self.starts_at_ms <= now_ms < self.ends_at_ms

    def matches(self, labels: Mapping[str, str]) -> bool:
        return matches_all(self.matchers, labels)


def silenced_by(
    silences: Iterable[Silence], labels: Mapping[str, str], now_ms: int
) -> list[Silence]:
    """The silences active at `now_ms` that match `labels` (all of a silence's matchers)."""
    return [s for s in silences if s.active(now_ms) and s.matches(labels)]


@dataclass(frozen=True)
class InhibitRule:
    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...]


def inhibited(
    rules: Sequence[InhibitRule],
    target_id: str,
    labels: Mapping[str, str],
    firing: Iterable[tuple[str, Mapping[str, str]]],
) -> bool:
    """Whether a firing source alert mutes this one: it matches a rule's source matchers, this
    one its target matchers, and both agree on every `equal` label (a label missing on both
    sides agrees, as in Alertmanager). An alert never inhibits itself, and, as in
    Alertmanager, an alert matching both sides of a rule is not muted by a source that also
    matches both (else every such alert would mute all the others)."""
    applicable = [r for r in rules if matches_all(r.target, labels)]
    if not applicable:
        return False
    sources = list(firing)
    for rule in applicable:
        two_sided = matches_all(rule.source, labels)
        for source_id, source in sources:
            if source_id == target_id or not matches_all(rule.source, source):
                continue
            if not all(source.get(n, "") == labels.get(n, "") for n in rule.equal):
                continue
            if two_sided and matches_all(rule.target, source):
                continue
            return True
    return False


def time_muted(
    mute: Sequence[str], active: Sequence[str], calendars: Mapping[str, Calendar], now_ms: int
) -> bool:
    """A route sends nothing while one of its mute calendars is in working time, or while none
    of its active calendars is. An unknown calendar name mutes nothing and restricts nothing
    (failing open: a typo must not stop pages)."""
    for name in mute:
        cal = calendars.get(name)
        if cal is not None and is_working(cal, now_ms):
            return True
    known = [calendars[n] for n in active if n in calendars]
    return bool(known) and not any(is_working(c, now_ms) for c in known)


def next_time_change(
    names: Iterable[str], calendars: Mapping[str, Calendar], now_ms: int
) -> int | None:
    """The next instant one of the named calendars turns working or not (a flush to wake at)."""
    found = [next_transition(calendars[n], now_ms) for n in names if n in calendars]
    hits = [t for t in found if t is not None]
    return min(hits) if hits else None
