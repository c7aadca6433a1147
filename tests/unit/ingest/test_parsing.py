"""Request bodies into events: 400 / 413 / 422 problems, and a batch is all or nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from ingest.parsing import MAX_ERRORS, parse_events
from pacta.problems import Problem

NOW = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)


def event(**overrides: Any) -> dict[str, Any]:
    return {
        "service": "checkout",
        "check": "http_5xx",
        "status": "firing",
        "occurred_at": "2025-06-15T11:58:00Z",
        **overrides,
    }


def refuse(body: Any, *, raw: bytes | None = None, max_batch: int = 10) -> Problem:
    with pytest.raises(Problem) as info:
        parse_events(
            orjson.dumps(body) if raw is None else raw, "monitoring", now=NOW, max_batch=max_batch
        )
    return info.value


def test_one_object_or_an_array() -> None:
    assert len(parse_events(orjson.dumps(event()), "monitoring", now=NOW, max_batch=1)) == 1
    body = orjson.dumps([event(id="a"), event(id="b")])
    assert [e.id for e in parse_events(body, "monitoring", now=NOW, max_batch=2)] == ["a", "b"]


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b"\xff\xfe",
        b'{"service": "\xff"}',
        b"\xef\xbb\xbf{}",
        b"NaN",
        b"[1e400]",
        b"{}{}",
    ],
)
def test_malformed_json_is_400(raw: bytes) -> None:
    problem = refuse(None, raw=raw)
    assert (problem.status, problem.title) == (400, "Malformed JSON")


def test_deep_nesting_is_400_not_a_recursion_error() -> None:
    assert refuse(None, raw=b"[" * 10_000 + b"]" * 10_000).status == 400
    assert refuse(None, raw=b'{"a":' * 10_000 + b"1" + b"}" * 10_000).status == 400


def test_an_empty_array_is_422() -> None:
    problem = refuse([])
    assert problem.status == 422
    assert problem.errors == [{"field": "body", "message": "the array holds no event"}]


def test_a_batch_over_the_maximum_is_413() -> None:
    assert refuse([event(id=str(n)) for n in range(11)], max_batch=10).status == 413


def test_one_bad_element_refuses_the_batch_naming_index_and_field() -> None:
    problem = refuse([event(id="a"), event(id="b", status="Firing"), 7, event(received_at="x")])
    assert problem.status == 422
    assert [e["field"] for e in problem.errors or []] == ["1.status", "2", "3.received_at"]
    assert (problem.detail or "").startswith("1.status: ")


def test_a_single_object_names_the_field_without_an_index() -> None:
    problem = refuse(event(occurred_at="2025-06-15T11:58:00"))
    assert problem.errors == [{"field": "occurred_at", "message": "needs an offset (Z or +hh:mm)"}]
    assert refuse("text").errors == [{"field": "body", "message": "not an object"}]


def test_the_error_list_is_bounded() -> None:
    problem = refuse([{"x": 1}] * 1000, max_batch=1000)
    assert len(problem.errors or []) == MAX_ERRORS


def test_the_window_is_checked_against_the_receipt_time() -> None:
    problem = refuse(event(occurred_at="2025-06-15T12:05:01Z"))
    assert problem.errors == [
        {"field": "occurred_at", "message": "lies more than 5 minutes in the future"}
    ]
