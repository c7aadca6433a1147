"""End to end: the ingest HTTP contract (docs/api.md, Ingest) against the real process.

Refusals are checked for what they answer and for what they leave behind: an event of a refused
request must never reach a consumer. That is proven with an ordering barrier, not a sleep: a good
event with the same partition key, posted afterwards, reaches both consumers' inboxes, and
anything produced before it on that partition would have been applied by then.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from ingest.signatures import sign
from tests.support.client import (
    ADMIN_KEY,
    INGEST_KEY,
    SLA_ENGINE_APPLIED,
    ago,
    poll_value,
    post,
)
from tests.support.processes import ServiceProcess, wait_for

pytestmark = pytest.mark.e2e
MONITORING = "/v1/events/monitoring"
TICKETS = "/v1/events/tickets"
PROBLEM = "application/problem+json"
MAX_BODY = 1024 * 1024  # the default PACTA_INGEST_MAX_BODY_BYTES the stack runs with
HMAC_SECRET = "e2e-signing-secret"


def tag() -> str:
    return uuid.uuid4().hex[:8]


def monitoring(service: str, **overrides: Any) -> dict[str, Any]:
    event = {"service": service, "check": "http_5xx", "status": "firing"}
    return {**event, "occurred_at": ago(minutes=1), **overrides}


def ticket(t: str, **overrides: Any) -> dict[str, Any]:
    return {
        "ticket_id": f"INC-{t}",
        "service": f"svc-{t}",
        "priority": "P2",
        "action": "created",
        "occurred_at": ago(minutes=1),
        **overrides,
    }


def send(
    base: str,
    content: Any,
    *,
    path: str = MONITORING,
    key: str | None = INGEST_KEY,
    headers: dict[str, str] | None = None,
    **kw: Any,
) -> httpx.Response:
    """POST raw bytes (or a generator of them) exactly as given."""
    all_headers = {"X-API-Key": key} if key else {}
    all_headers.update(headers or {})
    return httpx.post(base + path, content=content, headers=all_headers, timeout=30, **kw)


def assert_problem(response: httpx.Response, status: int, field: str | None = None) -> Any:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    body = response.json()
    assert body["status"] == status
    assert body["title"]
    if field is not None:
        fields = [e["field"] for e in body.get("errors", [])]
        assert field in fields, body
        assert field in body["detail"], body
    return body


async def assert_never_delivered(
    db: asyncpg.Connection, ingest: str, service: str, ids: list[str]
) -> None:
    """Post a barrier event keyed like the refused ones; once the engine applied it, any
    refused event that had been produced before it would be in its journals too (reporting keeps
    no monitoring event ids: it only learns the service's name from them)."""
    barrier = f"barrier-{tag()}"
    accepted = post(ingest, MONITORING, monitoring(service, id=barrier, check="barrier"))
    assert accepted.status_code == 202, accepted.text
    for table in (SLA_ENGINE_APPLIED,):
        await poll_value(db, f"SELECT count(*) FROM {table} WHERE event_id = $1", barrier, expect=1)
        leaked = await db.fetchval(
            f"SELECT array_agg(event_id) FROM {table} WHERE event_id = ANY($1::text[])", ids
        )
        assert leaked is None, f"refused events reached {table}: {leaked}"


@pytest.fixture(scope="module")
def ingest(stack: dict[str, ServiceProcess]) -> str:
    return stack["ingest"].url


# --- access --------------------------------------------------------------------------------


def test_no_wrong_or_query_string_key_is_401(ingest: str) -> None:
    body = orjson.dumps(monitoring(f"svc-{tag()}"))
    for response in (
        send(ingest, body, key=None),
        send(ingest, body, key="not-a-key"),
        send(ingest, body, key=INGEST_KEY + "x"),
        send(ingest, body, key=None, headers={"Authorization": "Bearer"}),
        send(ingest, body, key=None, headers={"Authorization": f"Basic {INGEST_KEY}"}),
        send(ingest, body, key=None, params={"api_key": INGEST_KEY}),
        send(ingest, body, key=None, params={"key": INGEST_KEY, "apikey": INGEST_KEY}),
    ):
        problem = assert_problem(response, 401)
        assert "API key" in problem["detail"]
        assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "headers",
    [
        {"X-API-Key": INGEST_KEY},
        {"Authorization": f"Key {INGEST_KEY}"},
        {"Authorization": f"Bearer {INGEST_KEY}"},
        {"Authorization": f"bearer {ADMIN_KEY}"},  # admin may post too
    ],
)
def test_accepted_key_headers(ingest: str, headers: dict[str, str]) -> None:
    response = send(ingest, orjson.dumps(monitoring(f"svc-{tag()}")), key=None, headers=headers)
    assert response.status_code == 202, response.text


# --- size limits ---------------------------------------------------------------------------


async def test_bodies_and_batches_over_the_limits_are_413(
    ingest: str, db: asyncpg.Connection
) -> None:
    service = f"svc-{tag()}"
    ids = [f"big-{service}-{n}" for n in range(1001)]
    events = [monitoring(service, id=i) for i in ids]
    padded = orjson.dumps(events[:2] + [monitoring(service, id=ids[2], summary="x" * 4000)] * 300)
    assert len(padded) > MAX_BODY

    assert_problem(send(ingest, padded), 413)  # with Content-Length

    def chunks() -> Iterator[bytes]:  # chunked: no Content-Length to refuse up front
        for start in range(0, len(padded), 64 * 1024):
            yield padded[start : start + 64 * 1024]

    chunked = send(ingest, chunks())
    assert chunked.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in chunked.request.headers
    assert_problem(chunked, 413)

    batch = orjson.dumps(events)  # 1001 events, within the byte limit
    assert len(batch) < MAX_BODY
    problem = assert_problem(send(ingest, batch), 413)
    assert "1000" in problem["detail"]
    await assert_never_delivered(db, ingest, service, ids)


# --- malformed bodies ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b'{"service": "a", ', id="truncated"),
        pytest.param(b"{'service': 'a'}", id="single-quotes"),
        pytest.param(b'{"service": "\xff\xfe"}', id="invalid-utf8"),
        pytest.param(b'"\xed\xa0\x80"', id="utf8-encoded-surrogate"),
        pytest.param(b"", id="empty"),
        pytest.param(b"   \n", id="whitespace"),
        pytest.param(b"\xef\xbb\xbf{}", id="bom"),
        pytest.param(b'{"service": "a\x00b"}', id="raw-nul"),
        pytest.param(b"{} {}", id="two-documents"),
        pytest.param(b"service=a&check=b", id="form-encoded"),
    ],
)
def test_malformed_json_is_400(ingest: str, raw: bytes) -> None:
    assert_problem(send(ingest, raw), 400)


# --- invalid fields ------------------------------------------------------------------------


def _invalid_monitoring() -> list[Any]:
    # computed at collection time: margins wide enough for a long suite run
    future, past = ago(minutes=-60), ago(days=420)
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("no-offset", {"occurred_at": ago(minutes=1).removesuffix("Z")}, "occurred_at"),
        ("epoch-number", {"occurred_at": int(time.time())}, "occurred_at"),
        ("epoch-string", {"occurred_at": str(int(time.time()))}, "occurred_at"),
        ("future", {"occurred_at": future}, "occurred_at"),
        ("past", {"occurred_at": past}, "occurred_at"),
        ("year-1-plus-14", {"occurred_at": "0001-01-01T00:00:00+14:00"}, "occurred_at"),
        ("unknown-status", {"status": "open"}, "status"),
        ("Firing", {"status": "Firing"}, "status"),
        ("unknown-severity", {"severity": "fatal"}, "severity"),
        ("empty-service", {"service": ""}, "service"),
        ("whitespace-service", {"service": " \t "}, "service"),
        ("nul-service", {"service": "pay\u0000ments"}, "service"),
        ("rtl-override-service", {"service": "pay\u202ements"}, "service"),
        ("missing-check", {"check": None}, "check"),
        ("int-label", {"labels": {"team": 5}}, "labels.team"),
        ("null-label", {"labels": {"team": None}}, "labels.team"),
        ("too-many-labels", {"labels": {f"k{n}": "v" for n in range(10_000)}}, "labels"),
        ("nul-summary", {"summary": "a\u0000b"}, "summary"),
        ("extra-field", {"runbook": "https://x"}, "runbook"),
        ("received-at", {"received_at": ago(minutes=1)}, "received_at"),
    ]
    return [pytest.param(c[1], c[2], id=c[0]) for c in cases]


@pytest.mark.parametrize(("overrides", "field"), _invalid_monitoring())
def test_invalid_monitoring_fields_are_422_naming_the_field(
    ingest: str, overrides: dict[str, Any], field: str
) -> None:
    event = {k: v for k, v in {**monitoring(f"svc-{tag()}"), **overrides}.items() if v is not None}
    assert_problem(send(ingest, orjson.dumps(event)), 422, field)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        pytest.param({"priority": "P0"}, "priority", id="unknown-priority"),
        pytest.param({"priority": "p1"}, "priority", id="priority-case"),
        pytest.param({"action": "deleted"}, "action", id="unknown-action"),
        pytest.param({"type": "bug"}, "type", id="unknown-type"),
        pytest.param({"outcome": "rolled_back"}, "outcome", id="unknown-outcome"),
        pytest.param({"service": "  "}, "service", id="whitespace-service"),
        pytest.param({"occurred_at": "2025-01-31 09:00"}, "occurred_at", id="no-offset"),
    ],
)
def test_invalid_ticket_fields_are_422_naming_the_field(
    ingest: str, overrides: dict[str, Any], field: str
) -> None:
    assert_problem(send(ingest, orjson.dumps(ticket(tag(), **overrides)), path=TICKETS), 422, field)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param([], "body", id="empty-array"),
        pytest.param("an event", "body", id="string"),
        pytest.param(None, "body", id="null"),
        pytest.param([{"service": "a"}, 5], "1", id="non-object-element"),
        pytest.param([[]], "0", id="nested-array"),
    ],
)
def test_non_events_are_422(ingest: str, body: Any, field: str) -> None:
    assert_problem(send(ingest, orjson.dumps(body)), 422, field)


async def test_a_batch_with_one_bad_element_is_refused_whole(
    ingest: str, db: asyncpg.Connection
) -> None:
    service = f"svc-{tag()}"
    ids = [f"batch-{service}-{n}" for n in range(5)]
    batch = [monitoring(service, id=i) for i in ids]
    batch[3]["severity"] = "sev1"
    problem = assert_problem(send(ingest, orjson.dumps(batch)), 422, "3.severity")
    assert [e["field"] for e in problem["errors"]] == ["3.severity"]

    tickets = [ticket(tag(), id=f"batch-{service}-t{n}", service=service) for n in range(3)]
    tickets[0]["occurred_at"] = ago(minutes=-10)
    assert_problem(send(ingest, orjson.dumps(tickets), path=TICKETS), 422, "0.occurred_at")

    await assert_never_delivered(db, ingest, service, [*ids, *(t["id"] for t in tickets)])
    # The same events, corrected, are new: the refusal claimed none of their ids.
    batch[3]["severity"] = "major"
    assert post(ingest, MONITORING, batch).json() == {
        "accepted": 5,
        "duplicates": 0,
        "ids": ids,
    }


# --- never a 500 ---------------------------------------------------------------------------


def _hostile_bodies() -> list[Any]:
    now = ago(minutes=1)
    good = orjson.dumps(monitoring("hostile")).decode()
    cases = {
        "depth-10000-arrays": b"[" * 10_000 + b"]" * 10_000,
        "depth-10000-objects": b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
        "depth-10000-in-labels": good[:-1].encode()
        + b',"labels":'
        + b'{"a":' * 10_000
        + b'"x"'
        + b"}" * 10_001,
        "nan": good.replace('"firing"', "NaN").encode(),
        "infinity": good.replace('"firing"', "Infinity").encode(),
        "minus-infinity": good.replace('"firing"', "-Infinity").encode(),
        "1e400": good.replace('"firing"', "1e400").encode(),
        "huge-integer-field": good.replace('"firing"', "9" * 5000).encode(),
        "huge-integer-label": good[:-1].encode() + b',"labels":{"a":' + b"9" * 4300 + b"}}",
        "huge-integer-body": b"9" * 100_000,
        "escaped-nul-everywhere": orjson.dumps(
            {"service": "\0", "check": "\0", "status": "\0", "occurred_at": "\0", "summary": "\0"}
        ),
        "nul-in-label-key": orjson.dumps(monitoring("s", labels={"a\u0000": "b"})),
        "lone-surrogate": good.replace("hostile", "\\ud800").encode(),
        "duplicate-keys": good[:-1].encode() + b',"service":"","service":"again"}',
        "summary-1MB": orjson.dumps(monitoring("s", summary="x" * 1_000_000)),
        "summary-over-limit": orjson.dumps(monitoring("s", summary="x" * MAX_BODY)),
        "occurred-at-object": orjson.dumps(monitoring("s", occurred_at={"$date": now})),
        "occurred-at-far-offset": orjson.dumps(monitoring("s", occurred_at=now[:-1] + "+99:99")),
        "year-9999-minus-12": orjson.dumps(
            monitoring("s", occurred_at="9999-12-31T23:59:59-12:00")
        ),
        "labels-as-list": orjson.dumps(monitoring("s", labels=[["a", "b"]])),
        "id-object": orjson.dumps(monitoring("s", id={"a": 1})),
        "sql-and-html": orjson.dumps(
            monitoring("'; DROP TABLE x; --", summary="<script>alert(1)</script>")
        ),
    }
    return [pytest.param(body, id=name) for name, body in cases.items()]


@pytest.mark.parametrize("raw", _hostile_bodies())
def test_hostile_bodies_never_get_a_500(
    ingest: str, stack: dict[str, ServiceProcess], raw: bytes
) -> None:
    for path in (MONITORING, TICKETS):
        response = send(ingest, raw, path=path)
        assert response.status_code < 500, response.text
        if response.status_code != 202:
            assert_problem(response, response.status_code)
            assert response.status_code in (400, 413, 422)
    assert stack["ingest"].proc is not None
    assert stack["ingest"].proc.poll() is None
    assert httpx.get(ingest + "/healthz", timeout=5).status_code == 200


# --- accepted: the answer, duplicates, ids, timestamps ---------------------------------------


async def test_accepted_answer_counts_duplicates(ingest: str, db: asyncpg.Connection) -> None:
    service = f"svc-{tag()}"
    a, b, c = (f"dup-{service}-{n}" for n in "abc")
    first = post(ingest, MONITORING, [monitoring(service, id=a), monitoring(service, id=a)])
    assert first.status_code == 202
    assert first.headers["content-type"] == "application/json"
    assert first.json() == {"accepted": 1, "duplicates": 1, "ids": [a, a]}

    second = post(ingest, MONITORING, [monitoring(service, id=b), monitoring(service, id=a)])
    assert second.json() == {"accepted": 1, "duplicates": 1, "ids": [b, a]}
    assert post(ingest, MONITORING, monitoring(service, id=a)).json() == {
        "accepted": 0,
        "duplicates": 1,
        "ids": [a],
    }
    tickets = post(ingest, TICKETS, [ticket(tag(), id=c), ticket(tag(), id=c)])
    assert tickets.status_code == 202
    assert tickets.json() == {"accepted": 1, "duplicates": 1, "ids": [c, c]}

    # reporting keeps the ids of ticket events only (a monitoring event just names a service)
    for table, event_ids in ((SLA_ENGINE_APPLIED, (a, b, c)), ("reporting.inbox", (c,))):
        for event_id in event_ids:
            await poll_value(
                db, f"SELECT count(*) FROM {table} WHERE event_id = $1", event_id, expect=1
            )


def test_events_without_an_id_get_one_from_their_content(ingest: str) -> None:
    service = f"svc-{tag()}"
    event = monitoring(service, occurred_at=ago(minutes=2))
    first = post(ingest, MONITORING, event).json()
    (derived,) = first["ids"]
    assert derived.startswith("sha256-")
    assert first["accepted"] == 1

    # The same content in another notation (offset, label order, explicit defaults) is the
    # same event: a sender's retry without an id counts once.
    same = {
        **event,
        "severity": "critical",
        "source": "api",
        "service": f" {service} ",
        "labels": {},
    }
    assert post(ingest, MONITORING, same).json() == {
        "accepted": 0,
        "duplicates": 1,
        "ids": [derived],
    }
    other = post(ingest, MONITORING, {**event, "status": "resolved"}).json()
    assert other["accepted"] == 1
    assert other["ids"] != [derived]

    t = ticket(tag())
    ticket_ids = {post(ingest, TICKETS, t).json()["ids"][0] for _ in range(2)}
    assert len(ticket_ids) == 1


@pytest.mark.parametrize(
    "offset_time",
    [
        pytest.param("+14:00", id="plus-14"),
        pytest.param("-12:00", id="minus-12"),
        pytest.param("nanoseconds", id="nanoseconds"),
        pytest.param("lowercase", id="lowercase-t-z"),
    ],
)
def test_rfc3339_variants_are_accepted(ingest: str, offset_time: str) -> None:
    when = datetime.now(UTC) - timedelta(minutes=1)
    if offset_time == "nanoseconds":
        text = when.strftime("%Y-%m-%dT%H:%M:%S.123456789Z")
    elif offset_time == "lowercase":
        text = when.strftime("%Y-%m-%dt%H:%M:%Sz")
    else:
        hours = int(offset_time[:3])
        text = when.astimezone(timezone(timedelta(hours=hours))).isoformat()
        assert text.endswith(offset_time)
    event = monitoring(f"svc-{tag()}", id=f"ts-{tag()}", occurred_at=text)
    response = post(ingest, MONITORING, event)
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == 1


# --- rate limit ----------------------------------------------------------------------------


def test_rate_limit_is_per_key_with_retry_after(service_env: dict[str, str], log_dir: Path) -> None:
    limited = ServiceProcess(
        "ingest",
        {**service_env, "PACTA_INGEST_RATE_LIMIT": "5", "PACTA_INGEST_RATE_BURST": "5"},
        log_dir,
    )
    limited.start()
    try:
        started = time.monotonic()
        statuses: list[int] = []
        refused: httpx.Response | None = None
        # `[]` is refused quickly (422) after the rate limit, so the loop outpaces the refill.
        for _ in range(50):
            response = send(limited.url, b"[]")
            statuses.append(response.status_code)
            if response.status_code == 429:
                refused = response
                break
        elapsed = time.monotonic() - started
        assert refused is not None, statuses
        assert statuses[:5] == [422] * 5  # the burst
        # Never more than the burst plus what the rate refilled meanwhile.
        assert len(statuses) - 1 <= 5 + 5 * elapsed + 1, (statuses, elapsed)
        assert_problem(refused, 429)
        assert refused.headers["Retry-After"] == "1"  # 5/s: the next token is < 1 s away

        # Another key has its own bucket; a valid event still flows for it.
        other = send(limited.url, orjson.dumps(monitoring(f"svc-{tag()}")), key=ADMIN_KEY)
        assert other.status_code == 202, other.text
        # And the limited key gets through again once its bucket refills.
        wait_for(
            "the rate limit to let the key through again",
            lambda: send(limited.url, b"[]").status_code == 422,
            timeout=5,
            every=0.1,
        )
    finally:
        limited.stop()


# --- HMAC signatures -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def signed_ingest(service_env: dict[str, str], log_dir: Path) -> Iterator[ServiceProcess]:
    proc = ServiceProcess(
        "ingest",
        {**service_env, "PACTA_INGEST_HMAC_SECRETS": f"{INGEST_KEY}:{HMAC_SECRET}"},
        log_dir,
    )
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


def signed(body: bytes, *, ts: int | None = None, secret: str = HMAC_SECRET) -> dict[str, str]:
    stamp = int(time.time()) if ts is None else ts
    return {
        "X-Pacta-Signature": sign(secret.encode(), stamp, body),
        "X-Pacta-Timestamp": str(stamp),
    }


async def test_hmac_signatures(
    signed_ingest: ServiceProcess, ingest: str, db: asyncpg.Connection
) -> None:
    url = signed_ingest.url
    service = f"svc-{tag()}"
    event = monitoring(service, id=f"signed-{service}")
    body = orjson.dumps(event)
    refused_ids = []

    def refused(candidate: bytes, headers: dict[str, str], reason: str) -> None:
        problem = assert_problem(send(url, candidate, headers=headers), 401)
        assert reason in problem["detail"], problem

    def variant(n: int) -> bytes:
        refused_ids.append(f"unsigned-{service}-{n}")
        return orjson.dumps({**event, "id": refused_ids[-1]})

    refused(variant(0), {}, "X-Pacta-Signature")
    refused(variant(1), {"X-Pacta-Timestamp": str(int(time.time()))}, "X-Pacta-Signature")
    v = variant(2)
    refused(v, {"X-Pacta-Signature": signed(v)["X-Pacta-Signature"]}, "X-Pacta-Timestamp")
    v = variant(3)
    refused(v, signed(v, secret="wrong-secret"), "does not match")
    v = variant(4)
    reserialised = orjson.dumps(orjson.loads(v), option=orjson.OPT_INDENT_2)
    refused(reserialised, signed(v), "does not match")
    v = variant(5)
    refused(v, signed(v, ts=int(time.time()) - 330), "away from the server's clock")
    v = variant(6)
    refused(v, signed(v, ts=int(time.time()) + 330), "away from the server's clock")
    v = variant(7)
    refused(v, {**signed(v), "X-Pacta-Timestamp": "soon"}, "unix seconds")
    v = variant(8)
    refused(v, {**signed(v), "X-Pacta-Signature": "sha1=abc"}, "sha256=")

    headers = signed(body)
    accepted = send(url, body, headers=headers)
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["ids"] == [event["id"]]
    # The very same request again is a replay, refused although the body is identical.
    refused(body, headers, "already used")
    # A fresh signature over the same body is a legitimate retry: a duplicate, not a refusal.
    retry = send(url, body, headers=signed(body, ts=int(headers["X-Pacta-Timestamp"]) + 1))
    assert retry.json() == {"accepted": 0, "duplicates": 1, "ids": [event["id"]]}

    # A request refused for its content spent its signature too (only 429 and 503 give it
    # back, as those were not processed and may be retried exactly as they were).
    bad = orjson.dumps({**event, "status": "Firing"})
    bad_headers = signed(bad)
    assert_problem(send(url, bad, headers=bad_headers), 422, "status")
    refused(bad, bad_headers, "already used")

    # Keys without a secret need no signature.
    unsigned = send(url, orjson.dumps(monitoring(service)), key=ADMIN_KEY)
    assert unsigned.status_code == 202, unsigned.text

    await assert_never_delivered(db, ingest, service, refused_ids)


# --- the service's own routes --------------------------------------------------------------


def test_openapi_lists_both_endpoints_with_their_request_schema(ingest: str) -> None:
    spec = httpx.get(ingest + "/openapi.json", timeout=10).json()
    required = {MONITORING: {"service", "check", "status"}, TICKETS: {"ticket_id", "action"}}
    for path, fields in required.items():
        operation = spec["paths"][path]["post"]
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        one, many = schema["oneOf"]
        assert many == {"type": "array", "items": one, "minItems": 1}
        assert fields | {"occurred_at"} <= set(one["required"])
        assert fields | {"id", "occurred_at", "labels", "summary"} <= set(one["properties"])
        assert "received_at" not in one["properties"]
        assert one["additionalProperties"] is False
        assert set(operation["responses"]) >= {"202", "400", "401", "413", "422", "429", "503"}
        assert PROBLEM in operation["responses"]["422"]["content"]
    monitoring_schema = spec["paths"][MONITORING]["post"]["requestBody"]["content"]
    props = monitoring_schema["application/json"]["schema"]["oneOf"][0]["properties"]
    assert props["status"]["enum"] == ["firing", "resolved"]
    assert props["occurred_at"]["format"] == "date-time"


def test_health_and_metrics(ingest: str) -> None:
    health = httpx.get(ingest + "/healthz", timeout=10)
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    ready = httpx.get(ingest + "/readyz", timeout=10)
    assert ready.json() == {"status": "ready", "checks": {"database": True, "kafka": True}}

    assert post(ingest, MONITORING, monitoring(f"svc-{tag()}")).status_code == 202
    metrics = httpx.get(ingest + "/metrics", timeout=10)
    assert metrics.status_code == 200
    lines = metrics.text.splitlines()
    received = [
        line
        for line in lines
        if line.startswith("pacta_ingest_events_received_total{")
        and 'kind="monitoring"' in line
        and 'source="api"' in line
    ]
    assert received, metrics.text
    assert float(received[0].rsplit(" ", 1)[1]) >= 1
    assert any(line.startswith("pacta_kafka_produce_seconds_count{") for line in lines)
    assert any(line.startswith("pacta_kafka_produce_seconds_bucket{") for line in lines)
