"""The wire contracts of pacta.events: timestamps, the occurred_at window, names, content ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from pacta.events import MAX_FUTURE, MAX_PAST, MonitoringEvent, TicketEvent

NOW = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)


def monitoring(**overrides: Any) -> dict[str, Any]:
    return {
        "service": "checkout",
        "check": "http_5xx",
        "status": "firing",
        "occurred_at": "2025-06-15T11:58:00Z",
        **overrides,
    }


def ticket(**overrides: Any) -> dict[str, Any]:
    return {
        "ticket_id": "INC-1",
        "service": "checkout",
        "action": "created",
        "occurred_at": "2025-06-15T11:58:00Z",
        **overrides,
    }


def validate(data: dict[str, Any], now: datetime | None = NOW) -> MonitoringEvent:
    return MonitoringEvent.model_validate(data, context={"now": now} if now else None)


def field_errors(exc: ValidationError) -> dict[str, str]:
    return {".".join(map(str, e["loc"])): e["msg"] for e in exc.errors()}


# --- occurred_at: the window around receipt ------------------------------------------------


@pytest.mark.parametrize(
    "occurred_at",
    [
        NOW + MAX_FUTURE,  # clock skew up to 5 minutes is tolerated
        NOW - MAX_PAST,  # backfills up to 400 days are normal
        NOW,
    ],
)
def test_window_edges_are_accepted(occurred_at: datetime) -> None:
    assert validate(monitoring(occurred_at=occurred_at.isoformat())).occurred_at == occurred_at


@pytest.mark.parametrize(
    ("occurred_at", "message"),
    [
        (NOW + MAX_FUTURE + timedelta(microseconds=1), "5 minutes in the future"),
        (NOW - MAX_PAST - timedelta(microseconds=1), "400 days in the past"),
        (datetime(1, 1, 1, tzinfo=UTC), "400 days in the past"),
        (datetime(9999, 12, 31, tzinfo=UTC), "5 minutes in the future"),
    ],
)
def test_outside_the_window_is_refused(occurred_at: datetime, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as info:
        validate(monitoring(occurred_at=occurred_at.isoformat()))
    assert list(field_errors(info.value)) == ["occurred_at"]


def test_without_a_now_there_is_no_window() -> None:
    # Consumers decode what ingest already accepted, possibly replayed years later.
    old = "2001-01-01T00:00:00Z"
    assert validate(monitoring(occurred_at=old), now=None).occurred_at.year == 2001


# --- occurred_at: RFC 3339 with an offset, normalised to UTC --------------------------------


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2025-06-15T11:58:00Z", datetime(2025, 6, 15, 11, 58, tzinfo=UTC)),
        ("2025-06-15T11:58:00+00:00", datetime(2025, 6, 15, 11, 58, tzinfo=UTC)),
        ("2025-06-15T11:58:00-00:00", datetime(2025, 6, 15, 11, 58, tzinfo=UTC)),
        ("2025-06-16T01:58:00+14:00", datetime(2025, 6, 15, 11, 58, tzinfo=UTC)),
        ("2025-06-14T23:58:00-12:00", datetime(2025, 6, 15, 11, 58, tzinfo=UTC)),
        ("2025-06-15t11:58:00z", datetime(2025, 6, 15, 11, 58, tzinfo=UTC)),
        ("2025-06-15 11:58:00Z", datetime(2025, 6, 15, 11, 58, tzinfo=UTC)),  # RFC 3339 5.6 note
        ("2025-06-15T11:58:00.5Z", datetime(2025, 6, 15, 11, 58, 0, 500000, tzinfo=UTC)),
        # nanoseconds (Go's tools send them) are cut to Python's microseconds
        ("2025-06-15T11:58:00.123456789Z", datetime(2025, 6, 15, 11, 58, 0, 123456, tzinfo=UTC)),
    ],
)
def test_rfc3339_is_normalised_to_utc(text: str, utc: datetime) -> None:
    occurred = validate(monitoring(occurred_at=text)).occurred_at
    assert occurred == utc
    assert occurred.utcoffset() == timedelta(0)
    assert occurred.tzinfo is UTC


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2025-06-15T11:58:00", "needs an offset"),
        ("2025-06-15T11:58", "needs an offset"),
        ("2025-06-15", "needs an offset"),
        ("2025-06-15T11:58Z", "not an RFC 3339 timestamp"),  # seconds are required
        ("2025-06-15T11:58:00+0000", "not an RFC 3339 timestamp"),  # the colon is required
        ("2025-06-15T11:58:00+00", "not an RFC 3339 timestamp"),
        ("20250615T115800Z", "not an RFC 3339 timestamp"),
        ("1750000000", "not an RFC 3339 timestamp"),  # pydantic alone reads epoch strings
        ("Sun, 15 Jun 2025 11:58:00 GMT", "not an RFC 3339 timestamp"),
        ("\uff12\uff10\uff12\uff15-06-15T11:58:00Z", "not an RFC 3339 timestamp"),  # fullwidth
        ("", "not an RFC 3339 timestamp"),
        (1_750_000_000, "must be an RFC 3339 timestamp string"),
        (1_750_000_000_000, "must be an RFC 3339 timestamp string"),
        (1.75e9, "must be an RFC 3339 timestamp string"),
        (None, "must be an RFC 3339 timestamp string"),
        (["2025-06-15T11:58:00Z"], "must be an RFC 3339 timestamp string"),
        ("2016-12-31T23:59:60Z", "leap seconds"),
        ("2025-02-30T00:00:00Z", "day value is outside"),
        ("2025-06-15T24:00:00Z", "valid datetime"),
        ("2025-06-15T11:58:00+24:00", "valid datetime"),
        # offsets that push the instant outside years 1..9999: a 422, never an OverflowError
        ("0001-01-01T00:00:00+14:00", "representable range"),
        ("9999-12-31T23:59:59-12:00", "representable range"),
    ],
)
def test_other_timestamps_are_refused(value: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as info:
        validate(monitoring(occurred_at=value), now=None)
    assert list(field_errors(info.value)) == ["occurred_at"]


def test_datetime_objects_from_adapters_pass() -> None:
    occurred = datetime(2025, 6, 15, 13, 58, tzinfo=timezone(timedelta(hours=2)))
    assert validate(monitoring(occurred_at=occurred)).occurred_at == occurred
    with pytest.raises(ValidationError, match="timezone"):
        validate(monitoring(occurred_at=datetime(2025, 6, 15, 11, 58)))  # noqa: DTZ001


def test_what_ingest_produces_decodes_back() -> None:
    """Consumers read ingest's JSON through the same strict model."""
    for text in (
        "2025-06-15T11:58:00Z",
        "2025-06-15T11:58:00.000001+02:00",
        "0999-01-01T00:00:00Z",
    ):
        event = validate(monitoring(occurred_at=text), now=None).with_identity(NOW)
        assert MonitoringEvent.model_validate_json(event.model_dump_json()) == event


# --- names and free text -------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "",
        "   ",
        "\t\n",
        "a\x00b",
        "pay\nments",
        "check\x7fout",
        "pay\u202ements",  # right-to-left override
        "check\u200bout",  # zero-width space: looks exactly like "checkout"
        "\ufeffcheckout",
        "x" * 201,
    ],
)
def test_bad_service_names_are_refused(name: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate(monitoring(service=name))
    assert list(field_errors(info.value)) == ["service"]


def test_names_are_trimmed_and_may_be_any_script() -> None:
    event = validate(monitoring(service="  Zahlungsverkehr-Ü ", check="日本語"))
    assert (event.service, event.check) == ("Zahlungsverkehr-Ü", "日本語")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"summary": "a\x00b"}, "summary"),
        ({"labels": {"team": "a\x00"}}, "labels.team"),
        ({"labels": {"te\x00am": "a"}}, "labels.te\x00am.[key]"),
        ({"labels": {"team": 1}}, "labels.team"),
        ({"labels": {"team": None}}, "labels.team"),
        ({"labels": {f"k{i}": "v" for i in range(65)}}, "labels"),
        ({"labels": ["team"]}, "labels"),
        ({"summary": "x" * 4097}, "summary"),
        ({"status": "Firing"}, "status"),
        ({"severity": "CRITICAL"}, "severity"),
        ({"severity": "page"}, "severity"),
        ({"id": ""}, "id"),
        ({"id": 5}, "id"),
        ({"id": "a\x00"}, "id"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_bad_monitoring_fields_are_named(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate(monitoring(**overrides))
    assert list(field_errors(info.value)) == [field]


def test_free_text_keeps_newlines_and_markup() -> None:
    summary = "line 1\nline 2\t<script>alert(1)</script> ' OR 1=1 --"
    assert validate(monitoring(summary=summary, labels={"note": "a\nb"})).summary == summary


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"priority": "P5"}, "priority"),
        ({"priority": "p1"}, "priority"),
        ({"action": "deleted"}, "action"),
        ({"type": "bug"}, "type"),
        ({"outcome": "ok"}, "outcome"),
        ({"status": "open\x00"}, "status"),
        ({"assignee": "x\x00"}, "assignee"),
        ({"ticket_id": " "}, "ticket_id"),
    ],
)
def test_bad_ticket_fields_are_named(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        TicketEvent.model_validate(ticket(**overrides), context={"now": NOW})
    assert list(field_errors(info.value)) == [field]


def test_ticket_defaults() -> None:
    event = TicketEvent.model_validate(ticket(), context={"now": NOW})
    assert (event.type, event.priority, event.source, event.key) == (
        "incident",
        None,
        "api",
        "INC-1",
    )


# --- content ids: the same content always gets the same id -----------------------------------


def content_id(data: dict[str, Any]) -> str:
    return validate(data).content_id()


def test_content_id_is_deterministic_and_ignores_notation() -> None:
    base = content_id(monitoring(labels={"a": "1", "b": "2"}))
    assert base.startswith("sha256-")
    same = [
        monitoring(labels={"b": "2", "a": "1"}),  # label order
        monitoring(labels={"a": "1", "b": "2"}, occurred_at="2025-06-16T01:58:00+14:00"),
        monitoring(labels={"a": "1", "b": "2"}, occurred_at="2025-06-15T11:58:00.000000Z"),
        monitoring(labels={"a": "1", "b": "2"}, severity="critical", source="api"),  # defaults
        monitoring(labels={"a": "1", "b": "2"}, service=" checkout "),
    ]
    assert {content_id(d) for d in same} == {base}


@pytest.mark.parametrize(
    "change",
    [
        {"status": "resolved"},
        {"severity": "minor"},
        {"occurred_at": "2025-06-15T11:58:00.000001Z"},
        {"source": "prometheus"},
        {"summary": "x"},
        {"labels": {"a": "1"}},
        {"labels": {"a": "1", "b": "3"}},
        {"check": "latency"},
    ],
)
def test_content_id_changes_with_the_content(change: dict[str, Any]) -> None:
    base = content_id(monitoring(labels={"a": "1", "b": "2"}))
    assert content_id({**monitoring(labels={"a": "1", "b": "2"}), **change}) != base


def test_with_identity_keeps_a_sent_id_and_stamps_receipt() -> None:
    sent = validate(monitoring(id="  evt-1 ")).with_identity(NOW)
    assert (sent.id, sent.received_at) == ("evt-1", NOW)
    derived = validate(monitoring()).with_identity(NOW + timedelta(seconds=9))
    again = validate(monitoring()).with_identity(NOW)
    assert derived.id == again.id == validate(monitoring()).content_id()


def test_ticket_and_monitoring_content_ids_differ() -> None:
    t = TicketEvent.model_validate(ticket(), context={"now": NOW})
    assert t.content_id() != content_id(monitoring())
    assert t.content_id() == TicketEvent.model_validate(ticket()).content_id()


def test_null_means_not_given_for_every_optional_field() -> None:
    given = validate(monitoring(labels=None, source=None, summary=None, id=None))
    absent = validate(monitoring())
    assert (given.labels, given.source, given.summary, given.id) == ({}, "api", None, None)
    assert given.content_id() == absent.content_id()
