"""/docs and /redoc load everything from the service itself: a browser offline (or behind a
proxy that blocks CDNs) still shows the API."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI

from pacta.settings import CommonSettings
from pacta.web import create_base_app


@asynccontextmanager
async def _nothing(app: FastAPI) -> AsyncIterator[None]:
    yield


@pytest.fixture
def app() -> FastAPI:
    return create_base_app(
        title="Pacta test", description="", settings=CommonSettings(), lifespan=_nothing
    )


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_docs_pages_use_only_local_assets(app: FastAPI, page: str) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://pacta") as client:
        html = (await client.get(page)).text
        urls = re.findall(r"""(?:src|href)=["']([^"']+)["']|url: ?["']([^"']+)["']""", html)
        found = [u for pair in urls for u in pair if u]
        assert found, html
        for url in found:
            assert url.startswith("/"), f"{page} loads {url} from elsewhere"
            answer = await client.get(url)
            assert answer.status_code == 200, url
        assert "fonts.googleapis" not in html


def test_docs_are_not_in_the_openapi_document(app: FastAPI) -> None:
    paths = set(app.openapi()["paths"])
    assert not {p for p in paths if p.startswith(("/docs", "/redoc"))}
