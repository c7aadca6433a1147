"""The report's other faces against a real read model: CSV parsed back, the PDF's text
extracted (A4, footer on every page), the HTML page, trends, the overview's sign-in, and
problem documents that name the field for every bad input."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from pacta.settings import CommonSettings
from tests.integration.test_reporting_read_model import scenario
from tests.support.processes import ServiceProcess
from tests.support.reporting import READ, get_report, produce, wait_report

SVC = f"fmt-{uuid.uuid4().hex[:6]}"
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts"


@pytest.fixture(scope="module")
def reporting(service_env: dict[str, str], log_dir: Path) -> Iterator[ServiceProcess]:
    proc = ServiceProcess("reporting", service_env, log_dir).start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
async def seeded(reporting: ServiceProcess, settings: CommonSettings) -> str:
    await produce(settings.kafka_bootstrap, settings.topic_prefix, scenario(SVC))
    wait_report(
        reporting.url,
        lambda r: (
            len(r["services"][0]["breaches"]) == 2 and r["services"][0]["changes"]["total"] == 2
        ),
        month="2026-10",
        service=SVC,
    )
    return reporting.url


async def test_csv_pdf_html_and_trends(seeded: str) -> None:
    r = get_report(seeded, month="2026-10", service=SVC, format="csv")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0] == ["month", "tz", "service", "section", "metric", "value"]
    cells = {(row[3], row[4]): row[5] for row in rows[1:]}
    assert cells[("availability", "downtime_seconds")] == "3600.0"
    assert cells[("availability", "met")] == "false"
    assert cells[("tickets", "response.breached")] == "1"
    assert cells[("changes", "success_rate")] == "50.0"
    assert cells[("breaches", "count")] == "2"
    assert {row[2] for row in rows[1:]} == {SVC}

    r = get_report(seeded, month="2026-10", service=SVC, tz="Europe/Berlin", format="pdf")
    assert r.status_code == 200
    assert r.content.startswith(b"%PDF")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "report.pdf").write_bytes(r.content)
    pdf = PdfReader(io.BytesIO(r.content))
    assert len(pdf.pages) >= 2
    for number, page in enumerate(pdf.pages, start=1):
        assert round(float(page.mediabox.width)) == 595  # A4 in points
        assert round(float(page.mediabox.height)) == 842
        text = page.extract_text()
        assert f"Page {number} of {len(pdf.pages)}" in text
        assert "time zone Europe/Berlin" in text
        # the period on the report zone's wall clock, without fractions of a second
        assert "2026-10-01 00:00:00 CEST" in text
        assert "generated 20" in text
    whole = "\n".join(p.extract_text() for p in pdf.pages)
    assert SVC in whole
    assert "Headline" in whole
    assert "Breaches" in whole

    r = get_report(seeded, month="2026-10", service=SVC, format="html")
    assert r.status_code == 200
    html = r.text
    assert SVC in html
    assert "<svg" in html
    assert 'class="missed"' in html or "missed" in html
    assert f"{SVC}-T2" in html  # the breach list names the ticket
    assert "2026-10-31 23:30:00 UTC" in html  # and its deadline, in the zone, no fractions
    assert 'src="http' not in html
    assert 'href="http' not in html

    r = httpx.get(
        f"{seeded}/v1/trends/availability",
        params={"service": SVC, "from": "2026-10-01", "to": "2026-11-01", "bucket": "week"},
        headers=READ,
        timeout=10,
    )
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert items[0]["start"] == "2026-10-01T00:00:00.000Z"
    assert items[1]["start"] == "2026-10-05T00:00:00.000Z"  # ISO weeks start on Monday
    assert sum(i["downtime_seconds"] for i in items) == 3600.0
    r = httpx.get(
        f"{seeded}/v1/trends/breaches",
        params={"service": SVC, "from": "2026-10-01", "to": "2026-11-01", "bucket": "month"},
        headers=READ,
        timeout=10,
    )
    assert r.json()["items"] == [
        {
            "start": "2026-10-01T00:00:00.000Z",
            "end": "2026-11-01T00:00:00.000Z",
            "breaches": 2,
            "response": 1,
            "resolution": 0,
            "availability": 1,
        }
    ]
    r = httpx.get(
        f"{seeded}/v1/trends/mttr",
        params={"service": SVC, "from": "2026-10-01", "to": "2026-11-01", "bucket": "month"},
        headers=READ,
        timeout=10,
    )
    item = r.json()["items"][0]
    assert item["mttr_seconds"] == 6900.0
    assert item["mtrs_seconds"] == 1800.0


async def test_overview_sign_in_and_page(seeded: str) -> None:
    async with httpx.AsyncClient(base_url=seeded, timeout=10) as client:
        page = await client.get("/")
        assert page.status_code == 200
        assert 'name="key"' in page.text
        assert "pacta_session" not in page.headers.get("set-cookie", "")
        bad = await client.post("/login", data={"key": "nope"})
        assert bad.status_code == 401
        ok = await client.post("/login", data={"key": "test-admin-key"}, follow_redirects=False)
        assert ok.status_code == 303
        cookie = ok.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=strict" in cookie
        assert "test-admin-key" not in cookie
        overview = await client.get("/")
        assert overview.status_code == 200
        assert SVC in overview.text
        assert "At-risk clocks" in overview.text
        assert f"{SVC}-T2" in overview.text  # its resolution clock is still open
        assert 'http-equiv="refresh"' in overview.text
        assert "countdown" in overview.text
        # the cookie also opens the reports, so the page's links work
        assert (
            await client.get("/v1/reports/monthly", params={"month": "2026-10"})
        ).status_code == 200
        await client.post("/logout")
        client.cookies.clear()
        assert (await client.get("/v1/reports/monthly")).status_code == 401


@pytest.mark.parametrize(
    ("path", "params", "status", "field"),
    [
        ("/v1/reports/monthly", {"month": "2026-13"}, 422, "month"),
        ("/v1/reports/monthly", {"month": "october"}, 422, "month"),
        ("/v1/reports/monthly", {"month": "1969-12"}, 422, "month"),
        ("/v1/reports/monthly", {"tz": "Mars/Olympus"}, 422, "tz"),
        ("/v1/reports/monthly", {"tz": "UTC\x00"}, 422, "tz"),
        ("/v1/reports/monthly", {"format": "xls"}, 422, "format"),
        ("/v1/reports/monthly", {"service": "no-such-service"}, 404, "service"),
        ("/v1/reports/monthly", {"service": "a\x00b"}, 422, "service"),
        ("/v1/trends/availability", {"from": "2026-11-02", "to": "2026-11-01"}, 422, "from"),
        ("/v1/trends/breaches", {"from": "yesterday"}, 422, "from"),
        ("/v1/trends/mttr", {"bucket": "year"}, 422, "bucket"),
        ("/v1/trends/mttr", {"tz": "Nowhere/Land"}, 422, "tz"),
        ("/v1/trends/availability", {"from": "2000-01-01", "bucket": "day"}, 422, "bucket"),
    ],
)
async def test_bad_input_is_a_problem_naming_the_field(
    reporting: ServiceProcess, path: str, params: dict[str, str], status: int, field: str
) -> None:
    r = httpx.get(reporting.url + path, params=params, headers=READ, timeout=10)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert any(e["field"].split(".")[-1] == field for e in body["errors"]), body
