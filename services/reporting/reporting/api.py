"""Routes of the reporting service: the monthly report in four formats and the trends."""

from __future__ import annotations

import time
from datetime import date
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from pacta.clock import now_ms
from pacta.durations import parse_timestamp_ms
from pacta.problems import Problem
from reporting import reports
from reporting.domain.periods import (
    Bucket,
    PeriodError,
    last_complete_month,
    local_midnight_ms,
    month_bounds,
    zone,
)
from reporting.metrics import REPORT_SECONDS
from reporting.render import render_report
from reporting.session import reader

router = APIRouter(prefix="/v1")
Reader = Annotated[str, Depends(reader)]
_TEXT = r"^[^\x00-\x1f\x7f]+$"
ServiceQ = Annotated[str | None, Query(min_length=1, max_length=200, pattern=_TEXT)]
TzQ = Annotated[str, Query(min_length=1, max_length=64, pattern=_TEXT)]
PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No valid key or session", **PROBLEM},
    404: {"description": "Unknown service", **PROBLEM},
    422: {"description": "A bad query parameter (named in the problem)", **PROBLEM},
}
MEDIA = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
}


def bad(field: str, message: str) -> Problem:
    return Problem(
        422, "Invalid query", f"{field}: {message}", errors=[{"field": field, "message": message}]
    )


def _checked_tz(tz: str) -> str:
    try:
        zone(tz)
    except PeriodError as exc:
        raise bad(exc.field, exc.message) from None
    return tz


async def _run(request: Request, build: Any) -> Any:
    try:
        async with request.app.state.engine.connect() as conn:
            return await build(conn, request.app.state.schema)
    except reports.UnknownService as exc:
        raise Problem(
            404,
            "Unknown service",
            f"service: no record names {exc.args[0]!r}",
            errors=[{"field": "service", "message": "no record names this service"}],
        ) from None
    except PeriodError as exc:
        raise bad(exc.field, exc.message) from None


@router.get(
    "/reports/monthly",
    tags=["reports"],
    summary="The monthly SLA report (SPEC §6) as JSON, CSV, HTML or PDF",
    responses={
        **ERRORS,
        200: {
            "content": {m: {} for m in MEDIA.values() if m != "application/json"},
            "description": "The report",
        },
    },
)
async def monthly_report(
    request: Request,
    _: Reader,
    month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")] = None,
    service: ServiceQ = None,
    tz: TzQ = "UTC",
    format: Literal["json", "csv", "html", "pdf"] = "json",
) -> Response:
    started = time.perf_counter()
    tz = _checked_tz(tz)
    now = now_ms()
    month = month or last_complete_month(now, tz)

    async def build(conn: Any, schema: str) -> dict[str, Any]:
        report = await reports.monthly(
            conn, schema, month=month, tz=tz, service=service, now_ms=now
        )
        if format in ("html", "pdf"):
            report["_trends"] = await _charts(conn, schema, month, tz, service, now)
        return report

    report = await _run(request, build)
    body = render_report(report, format)
    REPORT_SECONDS.labels(format).observe(time.perf_counter() - started)
    headers = {}
    if format in ("csv", "pdf"):
        name = f"sla-report-{month}{'-' + service if service else ''}.{format}"
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return Response(body, media_type=MEDIA[format], headers=headers)


async def _charts(
    conn: Any, schema: str, month: str, tz: str, service: str | None, now: int
) -> dict[str, Any]:
    """Daily availability and breaches over the month, for the HTML and PDF charts."""
    start, end = month_bounds(month, tz)
    out = {}
    for kind in ("availability", "breaches"):
        out[kind] = await reports.trend(
            conn,
            schema,
            kind=kind,
            service=service,
            start_ms=start,
            end_ms=end,
            bucket="day",
            tz=tz,
            now_ms=now,
        )
    return out


def _instant(text: str, field: str, tz: str) -> int:
    """An RFC 3339 timestamp, or a date meaning local midnight in the trend's zone."""
    if "\x00" in text:
        raise bad(field, "must not contain NUL characters")
    try:
        if len(text) == 10:
            return local_midnight_ms(zone(tz), date.fromisoformat(text))
        return parse_timestamp_ms(text)
    except (ValueError, OverflowError):
        raise bad(field, "must be an RFC 3339 timestamp or a date YYYY-MM-DD") from None


def _trend_route(kind: str) -> Any:
    async def get_trend(
        request: Request,
        _: Reader,
        service: ServiceQ = None,
        from_: Annotated[str | None, Query(alias="from", max_length=64)] = None,
        to: Annotated[str | None, Query(max_length=64)] = None,
        bucket: Bucket = "day",
        tz: TzQ = "UTC",
    ) -> Response:
        started = time.perf_counter()
        tz = _checked_tz(tz)
        now = now_ms()
        end = now if to is None else _instant(to, "to", tz)
        start = end - 30 * 86_400_000 if from_ is None else _instant(from_, "from", tz)
        if start >= end:
            raise bad("from", "must lie before to")
        if start < 0:
            raise bad("from", "lies before 1970")
        if end > now + 400 * 86_400_000:
            raise bad("to", "lies more than 400 days ahead")

        async def build(conn: Any, schema: str) -> dict[str, Any]:
            return await reports.trend(
                conn,
                schema,
                kind=kind,
                service=service,
                start_ms=start,
                end_ms=end,
                bucket=bucket,
                tz=tz,
                now_ms=now,
            )

        result = await _run(request, build)
        REPORT_SECONDS.labels(f"trend_{kind}").observe(time.perf_counter() - started)
        return Response(orjson.dumps(result), media_type="application/json")

    get_trend.__name__ = f"trend_{kind}"
    return get_trend


for _kind, _summary in (
    ("availability", "Availability by day, week or month"),
    ("breaches", "Breaches (retracted ones excluded) by day, week or month"),
    ("mttr", "MTTR, MTTA and MTRS by day, week or month"),
):
    router.add_api_route(
        f"/trends/{_kind}",
        _trend_route(_kind),
        methods=["GET"],
        tags=["trends"],
        summary=_summary,
        responses=ERRORS,
        response_class=Response,
    )
