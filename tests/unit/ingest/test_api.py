"""The request shell's order: signature, rate limit, validation, Kafka; and which refusals
give a signature back (those of requests that were not processed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import orjson
import pytest
from starlette.requests import Request

from ingest.api import ingest_events
from ingest.ratelimit import RateLimiter
from ingest.settings import IngestSettings
from ingest.signatures import SignatureGuard, sign
from pacta.problems import Problem

SECRET = b"secret"


def request(state: SimpleNamespace, body: bytes, ts: int | None = None) -> Request:
    stamp = ts if ts is not None else int(datetime.now(UTC).timestamp())
    headers = [
        (b"x-pacta-signature", sign(SECRET, stamp, body).encode()),
        (b"x-pacta-timestamp", str(stamp).encode()),
    ]
    return Request({"type": "http", "headers": headers, "app": SimpleNamespace(state=state)})


def state(*, burst: int = 100) -> SimpleNamespace:
    return SimpleNamespace(
        signatures=SignatureGuard({"k": [SECRET]}),
        limiter=RateLimiter(rate=0.001, burst=burst),
        settings=IngestSettings(api_keys="k:ingest"),
        producer=None,  # Kafka not reachable yet: every valid request answers 503
    )


def body(**overrides: str) -> bytes:
    occurred = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    event = {"service": "s", "check": "c", "status": "firing", "occurred_at": occurred}
    return orjson.dumps({**event, **overrides})


async def status(st: SimpleNamespace, raw: bytes, ts: int | None = None) -> int:
    with pytest.raises(Problem) as info:
        await ingest_events(request(st, raw, ts), "k", "monitoring", raw)
    return info.value.status


async def test_a_503_gives_the_signature_back_for_the_retry() -> None:
    st, raw, now = state(), body(), _now()
    assert [await status(st, raw, now) for _ in range(3)] == [503, 503, 503]
    assert len(st.signatures) == 0


async def test_a_429_gives_the_signature_back() -> None:
    st, now = state(burst=1), _now()
    assert await status(st, body(check="first"), now) == 503
    raw = body(check="second")
    assert await status(st, raw, now) == 429
    st.limiter = RateLimiter(rate=0, burst=1)  # the bucket refilled
    assert await status(st, raw, now) == 503


async def test_a_refused_body_spends_its_signature() -> None:
    st, raw, now = state(), body(status="Firing"), _now()
    assert await status(st, raw, now) == 422
    assert await status(st, raw, now) == 401


async def test_the_signature_is_checked_before_the_rate_limit() -> None:
    st, raw = state(burst=1), body()
    assert await status(st, raw, _now() - 3600) == 401
    assert st.limiter.acquire("k") == 0.0  # the refused request took no token


def _now() -> int:
    return int(datetime.now(UTC).timestamp())
