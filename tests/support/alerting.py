"""What the alerting tests share: a real HTTP receiver that checks every signature, a real SMTP
server, an alerting process of its own (database and topic prefix), signals produced straight
onto its topic. `hook` and `mailbox` are fixtures for every tier (registered in
tests/conftest.py)."""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaProducer
from aiosmtpd.controller import Controller

from pacta.events import CALENDARS_TOPIC, SIGNALS_TOPIC, topic_name
from tests.support.client import ADMIN_KEY
from tests.support.postgres import create_database, drop_database
from tests.support.processes import ServiceProcess, free_port, wait_for

SECRET = "whsec-test"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


@dataclass
class Received:
    at: float
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    answered: int


@dataclass
class WebhookCollector:
    """A real HTTP server: records each POST, checks `X-Pacta-Signature` against the body and
    the timestamp (a bad one fails the test), answers `status` (set 503 to be "down")."""

    port: int = field(default_factory=free_port)
    status: int = 200
    delay: float = 0.0  # seconds each answer takes (a slow receiver)
    in_flight: int = 0
    max_in_flight: int = 0
    received: list[Received] = field(default_factory=list)
    bad_signatures: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", "0")))
                ts = self.headers.get("x-pacta-timestamp", "")
                expected = (
                    "sha256="
                    + hmac.new(
                        SECRET.encode(), ts.encode() + b"." + raw, hashlib.sha256
                    ).hexdigest()
                )
                if not hmac.compare_digest(expected, self.headers.get("x-pacta-signature", "")):
                    collector.bad_signatures.append(self.path)
                answer = collector.status
                with collector.lock:
                    collector.in_flight += 1
                    collector.max_in_flight = max(collector.max_in_flight, collector.in_flight)
                if collector.delay:
                    time.sleep(collector.delay)  # the receiver is slow: that is the point
                with collector.lock:
                    collector.in_flight -= 1
                collector.received.append(
                    Received(time.time(), self.path, dict(self.headers), json.loads(raw), answer)
                )
                self.send_response(answer)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def accepted(self, path: str | None = None) -> list[Received]:
        return [r for r in self.received if r.answered < 300 and (path is None or r.path == path)]

    def alerts(self, path: str | None = None) -> list[dict[str, Any]]:
        return [a for r in self.accepted(path) for a in r.body["alerts"]]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Alerting:
    proc: ServiceProcess
    prefix: str
    bootstrap: str
    database_url: str = ""

    async def close(self) -> None:
        """Stop the process, delete its topics and drop its database."""
        self.proc.stop()
        from aiokafka.admin import AIOKafkaAdminClient

        from pacta.events import ALL_TOPICS

        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=10_000)
        await admin.start()
        try:
            await admin.delete_topics([topic_name(self.prefix, t) for t in ALL_TOPICS])
        finally:
            await admin.close()
        if self.database_url:
            await drop_database_at(self.database_url)

    @property
    def url(self) -> str:
        return self.proc.url

    def call(self, method: str, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        headers = kw.pop("headers", ADMIN)
        return httpx.request(method, self.url + path, json=body, headers=headers, timeout=15, **kw)

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        r = self.call(method, path, body)
        assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content else None

    def webhook(self, name: str, collector: WebhookCollector, path: str) -> None:
        body = {"type": "webhook", "url": collector.url(path), "secret": SECRET}
        self.ok("PUT", f"/v1/receivers/{name}", body)

    def alerts(self, **params: str) -> list[dict[str, Any]]:
        r = self.call("GET", "/v1/alerts", params=params)
        assert r.status_code == 200, r.text
        return r.json()["items"]  # type: ignore[no-any-return]

    async def signal(self, **fields: Any) -> dict[str, Any]:
        return (await self.signals([fields]))[0]

    async def signals(self, many: list[dict[str, Any]]) -> list[dict[str, Any]]:
        now = datetime.now(UTC).isoformat()
        out = []
        for f in many:
            s = {
                "signal_id": uuid.uuid4().hex,
                "service": "checkout",
                "policy": "gold",
                "metric": "response",
                "priority": "P1",
                "occurred_at": now,
                "detected_at": now,
                "deadline": now,
                "labels": {},
                **f,
            }
            out.append(s)
        await produce(self.bootstrap, topic_name(self.prefix, SIGNALS_TOPIC), out)
        return out

    async def calendar(self, record: dict[str, Any]) -> None:
        await produce(
            self.bootstrap,
            topic_name(self.prefix, CALENDARS_TOPIC),
            [record],
            key=record["name"],
        )


async def produce(
    bootstrap: str, topic: str, values: list[dict[str, Any]], key: str | None = None
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for v in values:
            k = key or str(v.get("service", "x"))
            await producer.send_and_wait(topic, orjson.dumps(v), key=k.encode())
    finally:
        await producer.stop()


async def drop_database_at(url: str) -> None:
    await drop_database(url.rsplit("/", 1)[1])


async def fresh_database() -> str:
    return await create_database(f"pacta_alerting_{uuid.uuid4().hex[:10]}")


def start_alerting(
    env: dict[str, str], log_dir: Path, database_url: str, prefix: str, **extra: str
) -> ServiceProcess:
    proc = ServiceProcess(
        "alerting",
        {
            **env,
            "PACTA_DATABASE_URL": database_url,
            "PACTA_TOPIC_PREFIX": prefix,
            "PACTA_ALERTING_RETRY_INITIAL_SECONDS": "0.2",
            "PACTA_ALERTING_RETRY_MAX_SECONDS": "1",
            **extra,
        },
        log_dir,
    )
    proc.env["PACTA_ALERTING_PUBLIC_URL"] = proc.url
    return proc.start()


def wait_count(what: str, probe: Any, n: int, timeout: float = 20.0) -> list[Any]:
    return wait_for(what, lambda: (lambda got: got if len(got) >= n else None)(probe()), timeout)


def collectors() -> Iterator[WebhookCollector]:
    c = WebhookCollector()
    try:
        yield c
    finally:
        c.close()


async def own_alerting(
    kafka_bootstrap: str, service_env: dict[str, str], log_dir: Path, **extra: str
) -> Alerting:
    """An alerting process with a database and topic prefix of its own: its routes and
    receivers cannot meet another test's."""
    from pacta.kafka import ensure_topics
    from pacta.settings import CommonSettings

    prefix = f"al{uuid.uuid4().hex[:10]}"
    await ensure_topics(CommonSettings(kafka_bootstrap=kafka_bootstrap, topic_prefix=prefix))
    url = await fresh_database()
    proc = start_alerting(service_env, log_dir, url, prefix, **extra)
    return Alerting(proc, prefix, kafka_bootstrap, url)


@asynccontextmanager
async def running_alerting(
    kafka_bootstrap: str, service_env: dict[str, str], log_dir: Path, **extra: str
) -> AsyncIterator[Alerting]:
    """`own_alerting`, stopped and cleaned up however the block ends."""
    a = await own_alerting(kafka_bootstrap, service_env, log_dir, **extra)
    try:
        yield a
    finally:
        await a.close()


def put_config(base: str, path: str, body: object) -> None:
    """PUT a configuration resource with the admin key; it must be taken (200 or 201)."""
    r = httpx.put(base + path, json=body, headers=ADMIN, timeout=10)
    assert r.status_code in (200, 201), f"{path}: {r.status_code} {r.text}"


class Mailbox:
    """An SMTP server's handler (aiosmtpd): keeps every message it is sent."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.messages.append(message)
        return "250 OK"


@contextmanager
def smtp_mailbox() -> Iterator[tuple[Mailbox, int]]:
    """A real SMTP server on a free port: (its mailbox, its port)."""
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def hook() -> Iterator[WebhookCollector]:
    """A webhook receiver for the tests of one module."""
    yield from collectors()


@pytest.fixture(scope="module")
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    """An SMTP server for the tests of one module: (its mailbox, its port)."""
    with smtp_mailbox() as found:
        yield found
