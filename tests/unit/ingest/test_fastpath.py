"""The events' fast path does the shared middlewares' work itself: the 415 for an encoded body,
the 413 over the body limit (declared or streamed), and the request-timing metric."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.responses import Response

from ingest.app import create_app
from ingest.settings import IngestSettings
from pacta.auth import presented_in
from pacta.web import HTTP_SECONDS, JSONBytes

PATH = "/v1/events/monitoring"
LIMIT = 2048


def timed(status: int) -> float:
    """Requests to the events path the timer recorded with `status` so far."""
    for metric in HTTP_SECONDS.collect():
        for sample in metric.samples:
            labels = sample.labels
            if (
                sample.name.endswith("_count")
                and labels.get("route") == PATH
                and labels.get("status") == str(status)
            ):
                return sample.value
    return 0.0


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    # no lifespan: every answer here comes before Kafka or PostgreSQL would be asked
    app = create_app(IngestSettings(api_keys="k:ingest", ingest_max_body_bytes=LIMIT))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as c:
        yield c


async def test_an_encoded_body_is_415_and_timed(client: httpx.AsyncClient) -> None:
    before = timed(415)
    r = await client.post(PATH, content=b"{}", headers={"Content-Encoding": "gzip"})
    assert r.status_code == 415
    assert r.headers["accept-encoding"] == "identity"
    assert timed(415) == before + 1


async def test_a_body_over_the_limit_is_413_declared_or_streamed(client: httpx.AsyncClient) -> None:
    before = timed(413)
    declared = await client.post(PATH, content=b"x" * (LIMIT + 1))
    assert declared.status_code == 413

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it streams
        for _ in range(3):
            yield b"x" * 1000

    streamed = await client.post(PATH, content=chunks())
    assert streamed.status_code == 413
    assert "2048" in streamed.json()["detail"]
    assert timed(413) == before + 2


async def test_a_body_within_the_limit_reaches_the_key_check(client: httpx.AsyncClient) -> None:
    before = timed(401)
    r = await client.post(PATH, content=b"x" * LIMIT)
    assert r.status_code == 401
    assert timed(401) == before + 1


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Authorization": "Bearer k"}, 422),
        ({"Authorization": "Key k"}, 422),
        ({"X-API-Key": "k"}, 422),
        ({"Authorization": "Bearer wrong", "X-API-Key": "k"}, 401),  # Authorization first
        ({"Authorization": "Basic k", "X-API-Key": "k"}, 422),  # not a key scheme
        ({"Authorization": "Bearer  "}, 401),
        ({}, 401),
    ],
)
async def test_the_key_is_read_from_the_raw_headers_as_the_routes_read_it(
    client: httpx.AsyncClient, headers: dict[str, str], status: int
) -> None:
    r = await client.post(PATH, content=b"{}", headers=headers)
    assert r.status_code == status
    if status == 401:
        assert r.headers["www-authenticate"] == "Bearer"


def test_presented_in_takes_the_first_of_each_header() -> None:
    scope = {
        "headers": [
            (b"x-api-key", b"first"),
            (b"x-api-key", b"second"),
            (b"authorization", b"Token t"),
            (b"authorization", b"Bearer later"),
        ]
    }
    assert presented_in(scope) == "first"


def test_a_json_bytes_answer_has_the_general_responses_head() -> None:
    body = b'{"accepted":1}'
    general = Response(body, status_code=202, media_type="application/json")
    lean = JSONBytes(body, 202)
    assert (lean.status_code, lean.body, lean.raw_headers) == (
        general.status_code,
        general.body,
        general.raw_headers,
    )
