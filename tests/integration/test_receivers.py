"""The HTTP receivers (slack, msteams, pagerduty) against a real HTTP server in the test that
captures each request and answers as the real service would, including its failures."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from alerting.receivers import msteams, pagerduty, slack
from alerting.receivers.base import DeliveryError, Sender
from tests.support.processes import free_port
from tests.unit.alerting.receivers.samples import ACK_URL, availability, breach, notification


@dataclass
class Captured:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Capture:
    """A real HTTP server on a free port: records every POST, answers from a script."""

    port: int
    requests: list[Captured] = field(default_factory=list)
    answers: deque[tuple[int, str, dict[str, str]]] = field(default_factory=deque)
    default: tuple[int, str, dict[str, str]] = (200, "ok", {})

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, status: int, body: str = "", **headers: str) -> None:
        self.answers.append((status, body, {k.replace("_", "-"): v for k, v in headers.items()}))


@pytest.fixture
def capture() -> Iterator[Capture]:
    state = Capture(port=free_port())

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length", 0)))
            state.requests.append(
                Captured(
                    self.path, {k.lower(): v for k, v in self.headers.items()}, json.loads(raw)
                )
            )
            status, body, headers = state.answers.popleft() if state.answers else state.default
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(body.encode())))
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the test reads the captured requests, not a log

    server = ThreadingHTTPServer(("127.0.0.1", state.port), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


def _slack(capture: Capture, http: httpx.AsyncClient) -> Sender:
    config = slack.Config(
        type="slack", url=capture.url("/services/T0/B0/s3cr3t"), channel="#oncall"
    )
    return slack.build(config, http)


async def test_slack_posts_the_blocks_and_reads_ok(
    capture: Capture, http: httpx.AsyncClient
) -> None:
    outcome = await _slack(capture, http).send(notification(breach(), availability()))
    assert outcome == "HTTP 200 ok"
    (request,) = capture.requests
    assert request.path == "/services/T0/B0/s3cr3t"
    assert request.headers["content-type"] == "application/json"
    assert request.body["channel"] == "#oncall"
    assert request.body["blocks"][0]["type"] == "header"
    buttons = [b["elements"][0]["url"] for b in request.body["blocks"] if b["type"] == "actions"]
    assert buttons == [ACK_URL, ACK_URL]


@pytest.mark.parametrize(
    ("status", "body", "headers", "retryable", "retry_after"),
    [
        (500, "rollup_error", {}, True, None),
        (503, "", {}, True, None),
        (400, "invalid_payload", {}, False, None),
        (404, "channel_not_found", {}, False, None),
        (410, "channel_is_archived", {}, False, None),
        (429, "rate_limited", {"Retry_After": "7"}, True, 7.0),
    ],
)
async def test_slack_failures_say_whether_to_retry(
    capture: Capture,
    http: httpx.AsyncClient,
    status: int,
    body: str,
    headers: dict[str, str],
    retryable: bool,
    retry_after: float | None,
) -> None:
    capture.answer(status, body, **headers)
    with pytest.raises(DeliveryError) as caught:
        await _slack(capture, http).send(notification())
    assert caught.value.retryable is retryable
    assert caught.value.retry_after == retry_after
    assert str(caught.value).startswith(f"HTTP {status}")
    assert "s3cr3t" not in str(caught.value)  # the webhook URL is the credential


async def test_a_receiver_that_is_down_is_retryable_and_the_url_stays_secret(
    http: httpx.AsyncClient,
) -> None:
    config = slack.Config(type="slack", url=f"http://127.0.0.1:{free_port()}/services/s3cr3t")
    with pytest.raises(DeliveryError) as caught:
        await slack.build(config, http).send(notification())
    assert caught.value.retryable
    assert "ConnectError" in str(caught.value)
    assert "s3cr3t" not in str(caught.value)


async def test_teams_posts_the_card_and_takes_a_workflows_202(
    capture: Capture, http: httpx.AsyncClient
) -> None:
    capture.answer(202)
    sender = msteams.build(msteams.Config(type="msteams", url=capture.url("/workflows/x")), http)
    assert await sender.send(notification(breach())) == "HTTP 202"
    (request,) = capture.requests
    card = request.body["attachments"][0]["content"]
    assert card["type"] == "AdaptiveCard"
    assert card["body"][1]["items"][-1]["actions"][0]["url"] == ACK_URL


@pytest.mark.parametrize(("status", "retryable"), [(400, False), (429, True), (502, True)])
async def test_teams_failures_say_whether_to_retry(
    capture: Capture, http: httpx.AsyncClient, status: int, retryable: bool
) -> None:
    capture.answer(status, "nope")
    sender = msteams.build(msteams.Config(type="msteams", url=capture.url("/x")), http)
    with pytest.raises(DeliveryError) as caught:
        await sender.send(notification())
    assert caught.value.retryable is retryable


def _pagerduty(capture: Capture, http: httpx.AsyncClient) -> Sender:
    config = pagerduty.Config(
        type="pagerduty", routing_key="R0UT1NGKEY", url=capture.url("/v2/enqueue")
    )
    return pagerduty.build(config, http)


def _accepted(key: str) -> str:
    return json.dumps({"status": "success", "message": "Event processed", "dedup_key": key})


async def test_pagerduty_triggers_then_resolves_the_same_incident(
    capture: Capture, http: httpx.AsyncClient
) -> None:
    sender = _pagerduty(capture, http)
    capture.answer(202, _accepted("alert-T-42-resolution"))
    capture.answer(202, _accepted("alert-checkout-availability"))
    fired = await sender.send(notification(breach(), availability()))
    assert fired == "HTTP 202 for 2 events (trigger 2)"
    capture.answer(202, _accepted("alert-T-42-resolution"))
    resolved = breach(kind="stopped", state="resolved", occurred_at="2026-12-01T14:30:00Z")
    done = await sender.send(notification(resolved, status="resolved", key="delivery-2"))
    assert done == "HTTP 202 for 1 events (resolve 1)"
    bodies = [r.body for r in capture.requests]
    assert [(b["event_action"], b["dedup_key"]) for b in bodies] == [
        ("trigger", "alert-T-42-resolution"),
        ("trigger", "alert-checkout-availability"),
        ("resolve", "alert-T-42-resolution"),
    ]
    assert all(r.path == "/v2/enqueue" for r in capture.requests)
    assert bodies[0]["payload"]["severity"] == "critical"
    assert bodies[0]["links"][0]["href"] == ACK_URL


@pytest.mark.parametrize(
    ("status", "headers", "retryable", "retry_after"),
    [
        (400, {}, False, None),
        (429, {"Retry_After": "30"}, True, 30.0),
        (500, {}, True, None),
        (503, {}, True, None),
    ],
)
async def test_pagerduty_failures_say_whether_to_retry(
    capture: Capture,
    http: httpx.AsyncClient,
    status: int,
    headers: dict[str, str],
    retryable: bool,
    retry_after: float | None,
) -> None:
    capture.answer(status, json.dumps({"status": "invalid event", "errors": ["x"]}), **headers)
    with pytest.raises(DeliveryError) as caught:
        await _pagerduty(capture, http).send(notification())
    assert caught.value.retryable is retryable
    assert caught.value.retry_after == retry_after
    assert "R0UT1NGKEY" not in str(caught.value)


async def test_pagerduty_stops_at_the_first_refused_event(
    capture: Capture, http: httpx.AsyncClient
) -> None:
    # the delivery is retried whole; events already accepted fold into their incident again
    capture.answer(202, _accepted("alert-T-42-resolution"))
    capture.answer(500, "")
    with pytest.raises(DeliveryError):
        await _pagerduty(capture, http).send(notification(breach(), availability(), breach()))
    assert len(capture.requests) == 2


async def test_retry_after_as_an_http_date_is_read_too(
    capture: Capture, http: httpx.AsyncClient
) -> None:
    capture.answer(429, "slow down", Retry_After=formatdate(time.time() + 120, usegmt=True))
    with pytest.raises(DeliveryError) as caught:
        await _slack(capture, http).send(notification())
    assert caught.value.retryable
    assert caught.value.retry_after is not None
    assert 100 <= caught.value.retry_after <= 120
