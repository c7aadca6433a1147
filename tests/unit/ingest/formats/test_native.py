"""The native routes' shell: Alertmanager and Grafana are never rate-limited (they drop alerts
on a 429), other formats are; unknown sources and bad payloads are refused before Kafka."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from starlette.requests import Request

from ingest.committer import Committer
from ingest.formats.mapping import load_mappings
from ingest.native import ingest_native
from ingest.ratelimit import RateLimiter
from ingest.settings import IngestSettings
from pacta.problems import Problem
from tests.unit.ingest.formats.conftest import raw


def state() -> SimpleNamespace:
    return SimpleNamespace(
        api_keys={"k": "ingest"},
        signatures=None,
        limiter=RateLimiter(rate=0.001, burst=1),
        settings=IngestSettings(api_keys="k:ingest"),
        mappings=load_mappings(None),
        # Kafka not reachable yet: a request that gets that far answers 503
        committer=Committer(None, lambda: None, prefix="t", timeout=1),  # type: ignore[arg-type]
    )


def request(st: SimpleNamespace, body: bytes, headers: dict[str, str] | None = None) -> Request:
    headers = {"authorization": "Bearer k", **(headers or {})}
    raw_headers = [(k.encode(), v.encode()) for k, v in headers.items()]
    scope: dict[str, Any] = {
        "type": "http",
        "headers": raw_headers,
        "app": SimpleNamespace(state=st),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(scope, receive)


async def status(
    st: SimpleNamespace, fmt: str, body: bytes, source: str | None = None, **h: str
) -> int:
    with pytest.raises(Problem) as info:
        await ingest_native(request(st, body, h), fmt, source)
    return info.value.status


async def test_alertmanager_and_grafana_skip_the_rate_limit() -> None:
    st = state()
    body = raw("alertmanager/group-firing-and-resolved.json")
    assert [await status(st, "alertmanager", body) for _ in range(3)] == [503, 503, 503]
    assert [await status(st, "grafana", raw("grafana/firing.json")) for _ in range(3)] == [503] * 3


async def test_other_formats_meet_the_per_key_bucket() -> None:
    st = state()
    body = raw("cloudevents/structured-monitoring.json")
    ce = {"content-type": "application/cloudevents+json"}
    assert [await status(st, "cloudevents", body, **ce) for _ in range(2)] == [503, 429]
    assert await status(st, "jira", raw("jira/created.json")) == 429


async def test_unknown_source_and_bad_payload_are_refused() -> None:
    st = state()
    assert await status(st, "jira", raw("jira/created.json"), source="jira-us") == 422
    assert await status(st, "servicenow", orjson.dumps({"result": {}})) == 422
    assert await status(st, "alertmanager", b"{") == 400
    with pytest.raises(Problem) as info:
        await ingest_native(request(state(), b"{}", {"authorization": "Bearer nope"}), "jira", None)
    assert info.value.status == 401


async def test_a_jira_webhook_signed_with_the_sources_secret_needs_no_key(tmp_path: Path) -> None:
    path = tmp_path / "m.yml"
    path.write_text("sources:\n  jira:\n    webhook_secret: s3cret\n")
    st = state()
    st.mappings = load_mappings(path)
    body = raw("jira/created.json")
    good = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()

    async def answer(signature: str) -> int:
        req = request(st, body, {"authorization": "", "x-hub-signature": signature})
        with pytest.raises(Problem) as info:
            await ingest_native(req, "jira", None)
        return info.value.status

    assert await answer(good) == 503  # authenticated; Kafka is not there
    assert await answer("sha256=" + "0" * 64) == 401
    assert await answer(good.replace("sha256", "sha1")) == 401
