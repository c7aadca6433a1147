"""Coverage: time nothing measured is neither up nor down, and a month with no monitoring data
has no availability figure (docs/design.md, "Coverage")."""

from __future__ import annotations

from datetime import UTC, datetime

from pacta.calendars import CALENDAR_24X7
from pacta.durations import datetime_to_ms
from sla_engine.domain.coverage import Monitoring, silences, unmeasured
from sla_engine.domain.downtime import Objective, month_figures

M = 60_000
H = 60 * M
DAY = 24 * H
OBJECTIVE = Objective("gold", 99.9, CALENDAR_24X7, frozenset({"critical"}), (), 1, 0, (), 10 * M)


def at(text: str) -> int:
    return datetime_to_ms(datetime.fromisoformat(text).replace(tzinfo=UTC))


def test_silences_run_from_the_last_event_plus_max_silence_to_the_next() -> None:
    t = at("2026-11-02T10:00")
    events = [t, t + 5 * M, t + H, t + H + 10 * M]
    assert silences(events, 10 * M) == [(t + 15 * M, t + H), (t + H + 20 * M, None)]
    assert silences([], 10 * M) == []


def test_a_firing_check_is_a_measurement_even_without_events() -> None:
    t = at("2026-11-02T10:00")
    monitoring = Monitoring(t, tuple(silences([t, t + 2 * H], 10 * M)))
    # the check fired at t and resolved at t + 2h: the hours between are known (down)
    assert unmeasured(monitoring, [(t, t + 2 * H)], t, t + 3 * H) == [
        (t + 2 * H + 10 * M, t + 3 * H)
    ]
    assert unmeasured(monitoring, [], t, t + 3 * H) == [
        (t + 10 * M, t + 2 * H),
        (t + 2 * H + 10 * M, t + 3 * H),
    ]


def test_a_service_first_seen_in_december_has_no_figure_for_november() -> None:
    """The issue's case: after a policy version back-dated to 15 November, a service first
    seen on 7 December showed 100 % for October and November."""
    first = at("2026-12-07T09:00")
    monitoring = Monitoring(first, ())
    now = at("2026-12-07T12:00")
    for month in ("2026-10", "2026-11"):
        fig = month_figures("svc", month, OBJECTIVE, [], [], now, monitoring)
        assert fig.actual_pct is None, month
        assert fig.met is None
        assert fig.coverage_pct == 0.0
        assert fig.agreed_to_date_ms == 0
        assert fig.unmeasured_ms == fig.end_ms - fig.start_ms
    december = month_figures("svc", "2026-12", OBJECTIVE, [], [], now, monitoring)
    assert december.actual_pct == 100.0
    assert december.agreed_to_date_ms == 3 * H
    assert december.unmeasured_ms == first - december.start_ms
    # without a coverage block the time before the first event is unmeasured all the same
    plain = Objective("gold", 99.9, CALENDAR_24X7, frozenset({"critical"}), ())
    assert month_figures("svc", "2026-11", plain, [], [], now, monitoring).actual_pct is None


def test_heartbeats_give_full_coverage_and_a_quiet_monitoring_shows_the_gap() -> None:
    start, now = at("2026-11-01T00:00"), at("2026-11-03T00:00")
    beats = range(start, now + 1, 5 * M)
    fig = month_figures(
        "svc", "2026-11", OBJECTIVE, [], [], now, Monitoring(start, tuple(silences(beats, 10 * M)))
    )
    assert fig.coverage_pct == 100.0
    assert fig.unmeasured_ms == 0
    # the monitoring went quiet from the 2nd at noon: the time after the last beat + 10 m
    quiet = [b for b in beats if b <= at("2026-11-02T12:00")]
    monitoring = Monitoring(start, tuple(silences(quiet, 10 * M)))
    fig = month_figures("svc", "2026-11", OBJECTIVE, [], [], now, monitoring)
    assert fig.unmeasured_ms == 12 * H - 10 * M
    assert fig.agreed_to_date_ms == 2 * DAY - fig.unmeasured_ms
    assert fig.coverage_pct == 100.0 * fig.agreed_to_date_ms / (2 * DAY)
    assert fig.actual_pct == 100.0
    # a silence still going on leaves the whole month's budget as it was; a closed one not
    assert fig.agreed_month_ms == 30 * DAY
    back = [*quiet, at("2026-11-02T18:00")]
    closed = month_figures(
        "svc", "2026-11", OBJECTIVE, [], [], now, Monitoring(start, tuple(silences(back, 10 * M)))
    )
    assert closed.agreed_month_ms == 30 * DAY - (6 * H - 10 * M)


def test_downtime_counts_against_measured_time_only() -> None:
    start, now = at("2026-11-01T00:00"), at("2026-11-01T10:00")
    # events at 0:00 and 1:00 (an outage of one hour), then nothing until 10:00
    down = [(start, start + H)]
    monitoring = Monitoring(start, tuple(silences([start, start + H], 10 * M)))
    fig = month_figures("svc", "2026-11", OBJECTIVE, down, [], now, monitoring, firing=down)
    assert fig.downtime_ms == H
    assert fig.agreed_to_date_ms == H + 10 * M  # the outage, then 10 minutes of grace
    assert fig.actual_pct == 100.0 * (1 - H / (H + 10 * M))
