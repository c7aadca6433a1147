"""render: what every receiver says about an alert, from the signal's own fields only."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerting.receivers import msteams, pagerduty, slack
from alerting.receivers.render import headline, lateness, progress, render, severity, view_alert
from tests.unit.alerting.receivers.samples import ACK_URL, availability, breach, notification


@pytest.mark.parametrize(
    ("kind", "threshold", "labels", "expected"),
    [
        ("breach", 1.0, {}, "Resolution breach"),
        ("warning", 0.75, {}, "Resolution warning at 75%"),
        ("met", None, {}, "Resolution met"),
        ("stopped", 1.0, {}, "Resolution stopped after its breach"),
        ("retracted", 1.0, {}, "Resolution breach retracted"),
        ("availability_breach", 1.0, {}, "Availability breach"),
        ("availability_warning", 0.5, {}, "Error budget warning at 50%"),
        ("burn_rate", 14.4, {"burn_rule": "fast"}, "Fast burn rate (14.4x)"),
        ("burn_rate", None, {}, "Burn rate"),
        ("recovered", None, {}, "Recovered"),
        ("something_new", None, {}, "Something new"),
    ],
)
def test_headline_says_what_happened(
    kind: str, threshold: float | None, labels: dict[str, str], expected: str
) -> None:
    assert headline(kind, "resolution", threshold, labels) == expected


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, "at the deadline"),  # detected 350 ms after: not worth a number
        ({"detected_at": "2026-12-01T14:12:00Z", "late": True}, "12m past the deadline"),
        (
            {"kind": "warning", "occurred_at": "2026-12-01T13:00:00Z"},
            "due in 1h",
        ),
        ({"kind": "met", "occurred_at": "2026-12-01T13:40:00Z"}, "met 20m before the deadline"),
        (
            {"kind": "stopped", "occurred_at": "2026-12-01T14:35:30Z"},
            "stopped 35m30s after the deadline",
        ),
        (
            {"kind": "retracted"},
            "the breach was withdrawn: a late event shows the deadline was met",
        ),
        ({"deadline": None}, None),
        ({"kind": "burn_rate"}, None),
    ],
)
def test_lateness_compares_the_signal_instants_with_the_deadline(
    changes: dict[str, object], expected: str | None
) -> None:
    assert lateness(breach(**changes)) == expected


def test_lateness_takes_datetimes_as_well_as_strings() -> None:
    deadline = datetime(2026, 12, 1, 14, tzinfo=UTC)
    alert = breach(deadline=deadline, detected_at=datetime(2026, 12, 1, 16, 5, tzinfo=UTC))
    assert lateness(alert) == "2h5m past the deadline"


def test_progress_is_elapsed_against_target() -> None:
    assert progress(10800.0, 14400.0) == "3h of 4h target (75%)"
    assert progress(15000, 14400) == "4h10m of 4h target (104%)"
    assert progress(None, 14400) is None
    assert progress(10, 0) is None


@pytest.mark.parametrize(
    ("kind", "priority", "expected"),
    [
        ("breach", "P1", "critical"),
        ("breach", "P2", "error"),
        ("breach", None, "error"),
        ("availability_breach", None, "critical"),
        ("burn_rate", None, "error"),
        ("warning", "P1", "warning"),
        ("availability_warning", None, "warning"),
        ("met", "P1", "info"),
        ("recovered", None, "info"),
    ],
)
def test_severity_scale(kind: str, priority: str | None, expected: str) -> None:
    assert severity(kind, priority) == expected


def test_a_ticket_alert_carries_every_fact_in_one_order() -> None:
    view = view_alert(breach())
    assert view.subject == "Ticket T-42"
    assert view.ack_url == ACK_URL
    assert view.occurred_at == "2026-12-01T14:00:00Z"
    assert view.facts() == [
        ("Ticket", "T-42"),
        ("Service", "checkout"),
        ("Customer", "acme"),
        ("Priority", "P1"),
        ("Metric", "resolution (policy gold v2)"),  # the version it was computed under
        ("Deadline", "2026-12-01 14:00:00 UTC"),
        ("How late", "at the deadline"),
        ("Elapsed", "4h of 4h target (100%)"),
        ("State", "firing"),
        ("Labels", "region=eu, team=payments"),  # sorted by name, whatever order they came in
    ]


def test_an_availability_alert_names_the_service_and_leaves_out_what_does_not_apply() -> None:
    view = view_alert(availability())
    assert view.subject == "Service checkout"
    assert view.summary == "downtime exceeded the error budget of 2592s in 2026-12"
    assert [name for name, _ in view.facts()] == [
        "Service",
        "Metric",
        "Deadline",
        "How late",
        "State",
        "Labels",
    ]


def test_a_signal_found_late_says_so() -> None:
    view = view_alert(breach(late=True, detected_at="2026-12-03T09:00:00Z"))
    facts = dict(view.facts())
    assert facts["How late"] == "1d19h past the deadline"
    assert facts["Detected"] == "late, from replayed events"
    assert "Detected" not in dict(view_alert(breach()).facts())


def test_a_resolved_alert_is_resolving_and_informational_whatever_its_kind() -> None:
    view = view_alert(breach(state="resolved"))
    assert view.resolving
    assert view.severity == "info"
    assert view_alert(breach(kind="met")).resolving


def test_title_counts_the_alerts_and_names_what_they_share() -> None:
    one = render(notification(breach()))
    assert one.title == "[FIRING:1] checkout resolution breach"
    two = render(notification(breach(), breach(ticket_id="T-43", alert_id="a-2")))
    assert two.title == "[FIRING:2] checkout resolution breach"
    mixed = render(notification(breach(), breach(kind="warning", threshold=0.9)))
    assert mixed.title == "[FIRING:2] checkout resolution breach, resolution warning at 90%"
    done = render(notification(breach(kind="met", state="resolved"), status="resolved"))
    assert done.title == "[RESOLVED] checkout resolution met"
    # as Alertmanager: a firing group counts and names its firing alerts only
    partly = render(notification(breach(), breach(kind="met", alert_id="a-2", ticket_id="T-2")))
    assert partly.title == "[FIRING:1] checkout resolution breach"


def test_title_is_one_short_line_whatever_the_input() -> None:
    rendered = render(notification(breach(service="check\nout\r\n" + "x" * 300)))
    assert "\n" not in rendered.title
    assert "\r" not in rendered.title
    assert len(rendered.title) == 150
    assert rendered.title.endswith("…")


def test_render_is_deterministic_and_does_not_touch_its_input() -> None:
    alert = breach()
    before = dict(alert)
    first = render(notification(alert))
    assert render(notification(alert)) == first
    assert alert == before


def test_missing_fields_render_without_failing() -> None:
    rendered = render(notification({"kind": "breach"}))
    assert rendered.title == "[FIRING:1] clock breach"
    assert rendered.alerts[0].facts() == []
    assert rendered.alerts[0].lateness is None


def test_text_fallback_lists_each_alert_with_its_ack_link() -> None:
    text = render(notification(breach(), availability())).text()
    assert text.splitlines() == [
        "[FIRING:2] checkout resolution breach, availability breach",
        "Resolution breach: Ticket T-42",
        "  at the deadline",
        f"  Acknowledge: {ACK_URL}",
        "Availability breach: Service checkout",
        "  at the deadline",
        f"  Acknowledge: {ACK_URL}",
    ]


VALUES = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
ALERT = st.fixed_dictionaries(
    {},
    optional={
        name: VALUES
        for name in (
            "kind",
            "metric",
            "service",
            "ticket_id",
            "priority",
            "threshold",
            "deadline",
            "occurred_at",
            "detected_at",
            "elapsed_seconds",
            "target_seconds",
            "state",
            "ack_url",
            "summary",
            "customer",
            "alert_id",
        )
    }
    | {"labels": st.dictionaries(st.text(max_size=10), st.text(max_size=10)) | VALUES},
)
INSTANTS = st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat())


@settings(max_examples=300, deadline=None)
@given(alerts=st.lists(ALERT, min_size=1, max_size=3), instants=st.lists(INSTANTS, max_size=3))
def test_every_receiver_renders_whatever_the_alert_holds(
    alerts: list[dict[str, object]], instants: list[str]
) -> None:
    # instants mixed in so that the lateness arithmetic meets real dates, far apart ones too
    for alert, instant in zip(alerts, instants, strict=False):
        alert["deadline"] = instant
    n = notification(*alerts)
    rendered = render(n)
    assert "\n" not in rendered.title
    assert len(rendered.title) <= 150
    slack.payload(n, slack.Config(type="slack", url="https://hooks.slack.com/x"))
    msteams.payload(n)
    pagerduty.events(n, pagerduty.Config(type="pagerduty", routing_key="k"))
