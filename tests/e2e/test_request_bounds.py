"""Hostile requests are bounded before authentication on every service: a huge head is 431 at
once without growing the process, a huge body 413, an encoded body 415; and each OpenAPI
document says which routes need a key."""

from __future__ import annotations

import gzip
import os
import re
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN_KEY
from tests.support.processes import ServiceProcess

SERVICES = ("ingest", "sla_engine", "alerting", "reporting")
KEYED_POST = {  # a route of each service that needs a key and takes a body
    "ingest": "/v1/events/monitoring",
    "sla_engine": "/v1/maintenance-windows",
    "alerting": "/v1/silences",
    "reporting": "/logout",
}
MB = 1024 * 1024


@pytest.fixture(scope="module")
def stack(service_env: dict[str, str], log_dir: Path) -> Iterator[dict[str, ServiceProcess]]:
    """The four services of this module's own (the shared stack's, with a longer start: four
    processes starting at once on a loaded box take over a minute)."""
    procs = {m: ServiceProcess(m, service_env, log_dir) for m in SERVICES}
    for p in procs.values():
        p.start(wait=False)
    try:
        for p in procs.values():
            p.wait_ready(timeout=240)
        yield procs
    finally:
        for p in procs.values():
            p.stop()


def _rss_kib(pid: int) -> int:
    """Resident memory of a process and its children (ingest runs worker processes)."""
    total = 0
    pids = [pid]
    while pids:
        p = pids.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            for task in os.listdir(f"/proc/{p}/task"):
                pids += [
                    int(c) for c in Path(f"/proc/{p}/task/{task}/children").read_text().split()
                ]
        except FileNotFoundError:
            continue
    return total


def _send_head(port: int, head_bytes: int, deadline_s: float = 10.0) -> tuple[bytes, int, float]:
    """Send a GET whose one header holds `head_bytes`, 64 KiB at a time, until the server
    answers; return (answer, bytes sent, seconds until the answer)."""
    started = time.monotonic()
    sent = 0
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=deadline_s) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Filler: ")
        chunk = b"a" * 65536
        while time.monotonic() - started < deadline_s:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            if sent < head_bytes:
                try:
                    sock.sendall(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    break
                sent += len(chunk)
            else:
                sock.sendall(b"\r\n\r\n")
                select.select([sock], [], [], deadline_s)
                break
        elapsed = time.monotonic() - started
        try:
            while part := sock.recv(65536):
                answer += part
        except (ConnectionResetError, TimeoutError):
            pass
    return answer, sent, elapsed


@pytest.mark.parametrize("module", SERVICES)
def test_a_20_mb_header_is_431_at_once_and_costs_no_memory(
    stack: dict[str, ServiceProcess], module: str
) -> None:
    service = stack[module]
    assert service.proc is not None
    _send_head(service.port, 256 * 1024)  # warm up: the first 431 loads the logging path
    before = _rss_kib(service.proc.pid)
    answer, sent, elapsed = _send_head(service.port, 20 * MB)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert b"application/problem+json" in answer
    # what was sent before the answer was seen sits in the kernel's socket buffers (a few MB)
    assert sent < 8 * MB, f"{sent} bytes of the head were sent before the answer"
    assert elapsed < 3.0
    grown = _rss_kib(service.proc.pid) - before
    assert grown < 4 * 1024, f"{module} grew by {grown} KiB"
    # and the service still answers
    assert httpx.get(service.url + "/healthz", timeout=5).status_code == 200


def test_heads_under_the_limit_and_bodies_beside_them_are_served(
    stack: dict[str, ServiceProcess],
) -> None:
    ingest = stack["ingest"]
    # 60 KiB of headers in all: under the bound, served as usual
    headers = {f"x-filler-{i}": "b" * 1000 for i in range(60)}
    assert httpx.get(ingest.url + "/healthz", headers=headers, timeout=5).status_code == 200
    # 70 KiB spread over many small headers: over the bound in all
    many = {f"x-filler-{i}": "c" * 1000 for i in range(70)}
    assert httpx.get(ingest.url + "/healthz", headers=many, timeout=5).status_code == 431
    # a body of 200 KiB arriving in the same packets as its small head is not counted as head;
    # two requests on one connection are each bounded on their own
    body = b"[" + b" " * 200_000 + b"]"
    request = (
        b"POST /v1/events/monitoring HTTP/1.1\r\nHost: x\r\n"
        b"Authorization: Bearer " + ADMIN_KEY.encode() + b"\r\n"
        b"Content-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    with socket.create_connection(("127.0.0.1", ingest.port), timeout=10) as sock:
        sock.sendall(request + request)
        answers = b""
        while answers.count(b"HTTP/1.1 ") < 2:
            part = sock.recv(65536)
            assert part, answers
            answers += part
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", answers)
    assert len(statuses) == 2, answers[:400]
    assert b"431" not in statuses, answers[:400]


@pytest.mark.parametrize("module", SERVICES)
def test_a_body_over_the_limit_is_413_without_a_key(
    stack: dict[str, ServiceProcess], module: str
) -> None:
    service = stack[module]
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", service.port), timeout=10) as sock:
        sock.sendall(
            f"POST {KEYED_POST[module]} HTTP/1.1\r\nHost: x\r\n"
            "Content-Type: application/json\r\nContent-Length: 500000000\r\n\r\n".encode()
            + b"[" * 65536
        )
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert time.monotonic() - started < 3.0

    # chunked, no length declared: counted as it streams
    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b"[" * 65536

    r = httpx.post(
        service.url + KEYED_POST[module],
        content=chunks(),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert r.status_code == 413


@pytest.mark.parametrize("module", SERVICES)
def test_an_encoded_body_is_415_with_or_without_a_key(
    stack: dict[str, ServiceProcess], module: str
) -> None:
    service = stack[module]
    body = gzip.compress(b'{"service": "checkout"}')
    for headers in ({}, {"Authorization": f"Bearer {ADMIN_KEY}"}):
        r = httpx.post(
            service.url + KEYED_POST[module],
            content=body,
            headers={**headers, "Content-Type": "application/json", "Content-Encoding": "gzip"},
            timeout=5,
        )
        assert r.status_code == 415, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert r.headers["accept-encoding"] == "identity"
    # identity is no encoding at all: the request goes on to authentication
    r = httpx.post(
        service.url + KEYED_POST[module],
        content=b"{}",
        headers={"Content-Type": "application/json", "Content-Encoding": "identity"},
        timeout=5,
    )
    assert r.status_code != 415


@pytest.mark.parametrize("module", SERVICES)
def test_openapi_declares_the_key_schemes_on_the_routes_needing_a_key(
    stack: dict[str, ServiceProcess], module: str
) -> None:
    document = httpx.get(stack[module].url + "/openapi.json", timeout=5).json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["bearer"]["description"],
    }
    assert schemes["apiKey"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    keyed = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if path in ("/healthz", "/readyz", "/metrics", "/login", "/logout", "/"):
                assert "security" not in operation, (method, path)
            elif path.startswith("/v1/ack/"):
                assert "security" not in operation, (method, path)  # the token is the key
            elif path == "/v2/enqueue":  # PagerDuty's routing_key in the body may be the key
                assert "security" not in operation, (method, path)
            elif "401" in operation["responses"]:
                assert operation["security"] == [{"bearer": []}, {"apiKey": []}], (method, path)
                keyed += 1
            # a keyed route that does not declare its 401 gets no scheme: the document
            # follows what each route declares
    assert keyed >= 2
