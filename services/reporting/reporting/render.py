"""A monthly report rendered as JSON (canonical bytes), CSV, HTML or PDF."""

from __future__ import annotations

import asyncio
import csv
import io
import threading
from typing import Any

import orjson

from reporting.domain.report import csv_rows


def render_json(report: dict[str, Any]) -> bytes:
    # sorted keys: the same read model gives the same bytes, whatever order rows came in
    public = {k: v for k, v in report.items() if not k.startswith("_")}
    return orjson.dumps(public, option=orjson.OPT_SORT_KEYS)


def render_csv(report: dict[str, Any]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in csv_rows(report):
        writer.writerow(["" if v is None else _cell(v) for v in row])
    # a BOM so that spreadsheets open it as UTF-8
    return ("\ufeff" + out.getvalue()).encode()


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value  # no formula injection through a service name
    return value


def render_report(report: dict[str, Any], fmt: str) -> bytes:
    if fmt == "csv":
        return render_csv(report)
    if fmt == "html":
        from reporting.html import render_html

        return render_html(report).encode()
    if fmt == "pdf":
        from reporting.pdf import render_pdf

        return render_pdf(report)
    return render_json(report)


_RENDERING = threading.Lock()


async def render_off_loop(report: dict[str, Any], fmt: str) -> bytes:
    """render_report in a worker thread: a PDF of many services takes minutes of CPU, and on
    the event loop it would stop the read model's consumer (its Kafka heartbeats lapse and the
    group rebalances). One render at a time (reportlab keeps module-level font state)."""

    def render() -> bytes:
        with _RENDERING:
            return render_report(report, fmt)

    if fmt == "json":
        return render_report(report, fmt)
    return await asyncio.to_thread(render)
