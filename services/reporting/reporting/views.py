"""The HTML overview (`GET /`) and its sign-in: a read key posted once in a form, a signed
session cookie after that (a key never goes into a URL)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from pacta.auth import lookup
from reporting import queries, reports
from reporting.domain.periods import month_bounds, month_of
from reporting.domain.report import figures_block, headline_compliance
from reporting.html import environment
from reporting.metrics import REPORT_SECONDS
from reporting.session import COOKIE, LIFETIME_S, issue, signed_in

router = APIRouter(tags=["overview"])
REFRESH_S = 30


def _login_page(request: Request, error: str | None, status: int = 200) -> HTMLResponse:
    html = environment().get_template("login.html").render(error=error)
    return HTMLResponse(html, status_code=status)


@router.get(
    "/",
    summary="The HTML overview: services, month-to-date compliance, at-risk clocks, breaches",
    response_class=HTMLResponse,
)
async def overview(request: Request) -> Response:
    if not signed_in(request):
        return _login_page(request, None)
    started = time.perf_counter()
    now = time.time_ns() // 1_000_000
    month = month_of(now, "UTC")
    start, end = month_bounds(month, "UTC")
    schema = request.app.state.schema
    async with request.app.state.engine.connect() as conn:
        services = await queries.known_services(conn, schema)
        avail = await reports.availability_by_service(conn, schema, services, start, end, now)
        counts = await queries.ticket_counts(conn, schema, services, start, end)
        clocks = await queries.open_clocks(conn, schema, 50)
        recent = await queries.recent_breaches(conn, schema, 20)
    rows: list[dict[str, Any]] = []
    for s in services:
        block = figures_block(avail.get(s), counts.get(s))
        fig = avail.get(s)
        budget_left = None
        if fig is not None and fig.budget_ms is not None:
            budget_left = (fig.budget_ms - fig.downtime_ms) / 1000
        rows.append(
            {
                "service": s,
                "availability": block["availability"],
                "budget_left": budget_left,
                "compliance": headline_compliance(block),
                "breached": block["tickets"]["response"]["breached"]
                + block["tickets"]["resolution"]["breached"],
            }
        )
    html = (
        environment()
        .get_template("overview.html")
        .render(
            month=month,
            now_ms=now,
            rows=rows,
            clocks=[{**c, "deadline_ms": _ms(c["deadline"])} for c in clocks],
            breaches=recent,
            refresh=REFRESH_S,
        )
    )
    REPORT_SECONDS.labels("overview").observe(time.perf_counter() - started)
    return HTMLResponse(html)


def _ms(value: Any) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)


@router.post(
    "/login",
    summary="Sign in with a read key (form field `key`); sets the session cookie",
    response_class=HTMLResponse,
    responses={
        303: {"description": "Signed in: back to the overview"},
        401: {"description": "Bad key"},
    },
)
async def login(request: Request) -> Response:
    body = (await request.body()).decode("utf-8", errors="replace")
    key = (parse_qs(body).get("key") or [""])[0].strip()
    keys = request.app.state.api_keys
    if not key or "\x00" in key or lookup(keys, key) is None:
        return _login_page(request, "That key is not valid.", status=401)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        COOKIE,
        issue(keys, key, int(time.time())),
        max_age=LIFETIME_S,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post(
    "/logout",
    summary="End the session",
    responses={303: {"description": "Signed out"}},
    response_class=HTMLResponse,
)
async def logout() -> Response:
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
