"""Routes of the reporting service: the monthly report in four formats and the trends
(docs/reporting.md)."""

from __future__ import annotations

import time
from datetime import date
from typing import Annotated, Any, Literal
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from pacta.auth import AdminKey
from pacta.clock import now_ms
from pacta.durations import parse_timestamp_ms
from pacta.problems import Problem
from reporting import publication, reports, review, subscriptions
from reporting.context import Ctx, Reporting
from reporting.domain.periods import (
    Bucket,
    PeriodError,
    last_complete_month,
    local_midnight_ms,
    month_bounds,
    month_name,
    parse_month,
    shift_month,
    zone,
)
from reporting.metrics import REPORT_SECONDS
from reporting.render import render_off_loop
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


def download_name(month: str, service: str | None, fmt: str) -> str:
    """`Content-Disposition` for a download, whatever the service is called (RFC 6266): an
    ASCII `filename` with everything else replaced, and the exact name as UTF-8 `filename*`
    (percent-encoded, so no quote or line break can add a parameter or a header)."""
    name = f"sla-report-{month}{'-' + service if service else ''}.{fmt}"
    fallback = "".join(c if c.isascii() and (c.isalnum() or c in "-._") else "_" for c in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def checked_month(month: str | None, now: int, tz: str) -> str:
    if month is None:
        return last_complete_month(now, tz)
    try:
        parse_month(month)
    except PeriodError as exc:
        raise bad(exc.field, exc.message) from None
    return month


async def _run(ctx: Reporting, build: Any) -> Any:
    try:
        async with ctx.engine.connect() as conn:
            return await build(conn, ctx.schema)
    except reports.MonthNotStarted as exc:
        raise bad("month", f"{exc.args[0]} has not started yet") from None
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
    summary="The monthly SLA report as JSON, CSV, HTML or PDF (docs/reporting.md)",
    responses={
        **ERRORS,
        200: {
            "content": {m: {} for m in MEDIA.values() if m != "application/json"},
            "description": "The report",
        },
    },
)
async def monthly_report(
    ctx: Ctx,
    _: Reader,
    month: Annotated[str | None, Query(max_length=16, description="YYYY-MM")] = None,
    service: ServiceQ = None,
    tz: TzQ = "UTC",
    format: Literal["json", "csv", "html", "pdf"] = "json",
) -> Response:
    started = time.perf_counter()
    tz = _checked_tz(tz)
    now = now_ms()
    month = checked_month(month, now, tz)

    async def build(conn: Any, schema: str) -> dict[str, Any]:
        report = await reports.monthly(
            conn, schema, month=month, tz=tz, service=service, now_ms=now
        )
        scope = None if service is None else [service]
        published = await publication.revision_of(conn, schema, month, tz, None, scope)
        report = publication.with_publication(report, published)
        report = await review.with_review(conn, schema, report)
        if format in ("html", "pdf"):
            report["_trends"] = await _charts(conn, schema, month, tz, service, now)
        return report

    report = await _run(ctx, build)
    body = await render_off_loop(report, format)
    REPORT_SECONDS.labels(format).observe(time.perf_counter() - started)
    headers = {}
    if format in ("csv", "pdf"):
        headers["Content-Disposition"] = download_name(month, service, format)
    return Response(body, media_type=MEDIA[format], headers=headers)


async def monthly_json(
    ctx: Reporting, month: str, tz: str, service: str | None, now: int
) -> dict[str, Any]:
    """The month's report as JSON answers it (publication and review included)."""

    async def build(conn: Any, schema: str) -> dict[str, Any]:
        report = await reports.monthly(
            conn, schema, month=month, tz=tz, service=service, now_ms=now
        )
        scope = None if service is None else [service]
        published = await publication.revision_of(conn, schema, month, tz, None, scope)
        report = publication.with_publication(report, published)
        return await review.with_review(conn, schema, report)

    result: dict[str, Any] = await _run(ctx, build)
    return result


async def issued_report(ctx: Reporting, month: str, tz: str, now: int) -> dict[str, Any]:
    """The month's report over every service, charts included, as it is issued."""

    async def build(conn: Any, schema: str) -> dict[str, Any]:
        report = await reports.monthly(conn, schema, month=month, tz=tz, service=None, now_ms=now)
        report = await review.with_review(conn, schema, report)  # the actions as at issue
        report["_trends"] = await _charts(conn, schema, month, tz, None, now)
        return report

    result: dict[str, Any] = await _run(ctx, build)
    return result


async def issue_month(
    ctx: Reporting, month: str, tz: str, now: int, *, automatic: bool
) -> publication.Issued | None:
    """Issue the month's report with a delivery for every subscription in its zone."""
    report = await issued_report(ctx, month, tz, now)

    async def deliveries(conn: Any, body: dict[str, Any]) -> None:
        await subscriptions.enqueue_deliveries(conn, ctx.schema, body, now_ms=now)

    issued = await publication.issue(
        ctx.engine, ctx.schema, report, now_ms=now, automatic=automatic, also=deliveries
    )
    ctx.outbox_wake.set()
    return issued


@router.post(
    "/reports/monthly/{month}/publish",
    tags=["reports"],
    status_code=201,
    summary="Issue the month's report as it stands now, as its next revision (admin)",
    responses={**ERRORS, 403: {"description": "Not an admin key", **PROBLEM}},
)
async def publish(ctx: Ctx, _: AdminKey, month: str, tz: TzQ = "UTC") -> Response:
    tz = _checked_tz(tz)
    now = now_ms()
    month = checked_month(month, now, tz)
    if month_bounds(month, tz)[1] > now:
        raise bad("month", f"{month} has not ended yet: only a whole month is issued")
    issued = await issue_month(ctx, month, tz, now, automatic=False)
    assert issued is not None  # a call always issues
    body = {
        "month": month,
        "tz": tz,
        "revision": issued.revision,
        "published_at": issued.published_at,
    }
    return Response(orjson.dumps(body), status_code=201, media_type="application/json")


@router.get(
    "/reports/monthly/{month}/published",
    tags=["reports"],
    summary="A revision of the month's report exactly as issued (default the latest)",
    responses={
        **ERRORS,
        200: {
            "content": {m: {} for m in MEDIA.values() if m != "application/json"},
            "description": "The report as issued",
        },
    },
)
async def published(
    ctx: Ctx,
    _: Reader,
    month: str,
    revision: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
    service: ServiceQ = None,
    tz: TzQ = "UTC",
    format: Literal["json", "csv", "html", "pdf"] = "json",
) -> Response:
    tz = _checked_tz(tz)
    month = checked_month(month, now_ms(), tz)
    async with ctx.engine.connect() as conn:
        scope = None if service is None else [service]
        found = await publication.revision_of(conn, ctx.schema, month, tz, revision, scope)
    if found is None:
        what = "this revision" if revision else "no revision"
        raise Problem(
            404,
            "Not issued",
            f"{month} ({tz}): {what} has been issued",
            errors=[{"field": "revision" if revision else "month", "message": "not issued"}],
        )
    if service is not None and not found["services"]:
        raise Problem(
            404,
            "Unknown service",
            "service: the revision does not name this service",
            errors=[{"field": "service", "message": "not in this revision"}],
        )
    headers = {}
    if format in ("csv", "pdf"):
        headers["Content-Disposition"] = download_name(month, service, format)
    body = await render_off_loop(found, format)
    return Response(body, media_type=MEDIA[format], headers=headers)


async def _charts(
    conn: Any, schema: str, month: str, tz: str, service: str | None, now: int
) -> dict[str, Any]:
    """Daily availability and breaches over the month, and twelve months of availability and
    compliance up to it, for the HTML and PDF charts."""
    start, end = month_bounds(month, tz)
    year_start = month_bounds(shift_name(month, -11), tz)[0]
    out = {}
    for key, kind, a, bucket in (
        ("availability", "availability", start, "day"),
        ("breaches", "breaches", start, "day"),
        ("year_availability", "availability", year_start, "month"),
        ("year_compliance", "mttr", year_start, "month"),
    ):
        out[key] = await reports.trend(
            conn,
            schema,
            kind=kind,
            service=service,
            start_ms=a,
            end_ms=end,
            bucket=bucket,  # type: ignore[arg-type]
            tz=tz,
            now_ms=now,
        )
    return out


def shift_name(month: str, by: int) -> str:
    """The month `by` months from `month` (never before January 1970)."""
    year, number = shift_month(*parse_month(month), by)
    return month_name(max(year, 1970), number if year >= 1970 else 1)


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
        ctx: Ctx,
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

        result = await _run(ctx, build)
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
