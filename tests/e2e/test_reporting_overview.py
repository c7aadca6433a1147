"""The overview page as a manager sees it: signed in with a read key, rendered by headless
Chromium (Debian's `chromium`), its live countdown running; the screenshot is kept in
var/test-artifacts/."""

from __future__ import annotations

import asyncio
import re
import shutil
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from pacta.settings import CommonSettings
from tests.support.processes import ServiceProcess
from tests.support.reporting import FACTS, clock_fact, produce

pytestmark = pytest.mark.e2e
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts"


def _iso(d: datetime) -> str:
    return d.isoformat().replace("+00:00", "Z")


async def _chromium(*args: str) -> bytes:
    binary = shutil.which("chromium")
    assert binary, "Debian's chromium is needed (apt-get install chromium)"
    proc = await asyncio.create_subprocess_exec(
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--window-size=1000,720",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode == 0
    return out


async def test_overview_in_headless_chromium(
    stack: dict[str, ServiceProcess], settings: CommonSettings
) -> None:
    service = f"ov-{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    fact = clock_fact(
        f"{service}-INC-1",
        "resolution",
        service,
        version=1,
        state="running",
        priority="P1",
        started_at=_iso(now - timedelta(minutes=30)),
        elapsed_seconds=1800,
        deadline=_iso(now + timedelta(hours=3)),
    )
    await produce(settings.kafka_bootstrap, settings.topic_prefix, [(FACTS, service, fact)])
    base = stack["reporting"].url
    async with httpx.AsyncClient(base_url=base, timeout=15) as client:
        r = await client.post("/login", data={"key": "test-admin-key"}, follow_redirects=False)
        assert r.status_code == 303
        page = ""
        for _ in range(300):  # poll until the fact is in the read model
            page = (await client.get("/")).text
            if f"{service}-INC-1" in page:
                break
            await asyncio.sleep(0.1)
        assert f"{service}-INC-1" in page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    html = ARTIFACTS / "overview.html"
    html.write_text(page)
    shot = ARTIFACTS / "overview.png"
    shot.unlink(missing_ok=True)
    await _chromium(f"--screenshot={shot}", html.as_uri())
    assert shot.stat().st_size > 10_000
    dom = (await _chromium("--dump-dom", html.as_uri())).decode()
    assert service in dom
    assert "At-risk clocks" in dom
    # the inline script filled in the countdown: about three hours left
    row = dom[dom.index(f"{service}-INC-1") :]
    left = re.search(r'class="countdown"[^>]*>(-?\d+)h (\d\d)m (\d\d)s<', row)
    assert left is not None, row[:600]
    assert left.group(1) in ("2", "3")
