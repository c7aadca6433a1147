"""The HTML overview (`GET /`) and its sign-in: a read key posted once in a form, a signed
session cookie after that (a key never goes into a URL)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from pacta.auth import lookup
from pacta.clock import now_ms
from pacta.problems import Problem
from reporting import queries, reports
from reporting.context import Ctx
from reporting.domain.periods import PeriodError, month_bounds, month_of, zone
from reporting.domain.report import figures_block, headline, missed
from reporting.html import environment
from reporting.metrics import REPORT_SECONDS
from reporting.session import COOKIE, LIFETIME_S, close_session, open_session, signed_in

router = APIRouter(tags=["overview"])
REFRESH_S = 30


def _login_page(request: Request, error: str | None, status: int = 200) -> HTMLResponse:
    html = environment().get_template("login.html").render(error=error)
    return HTMLResponse(html, status_code=status)


def risk(row: dict[str, Any]) -> tuple[int, float, float, str]:
    """Most at risk first: a headline figure missed, then the most error budget consumed,
    then the lowest ticket compliance, then by name."""
    consumed = row["availability"]["budget_consumed"]
    compliance = [c for c in (row["response"], row["resolution"]) if c is not None]
    return (
        0 if row["missed"] else 1,
        -(consumed or 0.0),
        min(compliance, default=100.0),
        row["service"],
    )


@router.get(
    "/",
    summary="The HTML overview: services, month-to-date compliance, at-risk clocks, breaches",
    response_class=HTMLResponse,
)
async def overview(request: Request, ctx: Ctx, tz: str = "UTC") -> Response:
    now = now_ms()
    if not await signed_in(request, ctx, now):
        return _login_page(request, None)
    try:
        zone(tz)
    except PeriodError as exc:
        raise Problem(
            422, "Invalid query", exc.message, errors=[{"field": "tz", "message": exc.message}]
        ) from None
    started = time.perf_counter()
    month = month_of(now, tz)
    start, end = month_bounds(month, tz)
    async with ctx.engine.connect() as conn:
        services = await queries.known_services(conn, ctx.schema)
        avail = await reports.availability_by_service(conn, ctx.schema, services, start, end, now)
        counts = await queries.ticket_counts(conn, ctx.schema, services, start, end)
        clocks = await queries.open_clocks(conn, ctx.schema, 50)
        recent = await queries.recent_breaches(conn, ctx.schema, 20)
    rows: list[dict[str, Any]] = []
    for s in services:
        block = figures_block(avail.get(s), counts.get(s))
        fig = avail.get(s)
        budget_left = None
        if fig is not None and fig.budget_ms is not None:
            budget_left = (fig.budget_ms - fig.downtime_ms) / 1000
        head = headline(block)
        rows.append(
            {
                "service": s,
                "availability": block["availability"],
                "budget_left": budget_left,
                "headline": head,
                "response": head["response"]["compliance"],
                "resolution": head["resolution"]["compliance"],
                "missed": missed(block),
                "breached": block["tickets"]["response"]["breached"]
                + block["tickets"]["resolution"]["breached"],
            }
        )
    rows.sort(key=risk)
    html = (
        environment()
        .get_template("overview.html")
        .render(
            month=month,
            tz=tz,
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


def _same_origin(request: Request) -> bool:
    """A browser names where a form was posted from: only this site's own pages may sign in
    or out (no login CSRF). A client that sends no Origin is not a browser form."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    own = f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"
    return origin == own


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post(
    "/login",
    summary="Sign in with a read key (form field `key`); sets the session cookie",
    response_class=HTMLResponse,
    responses={
        303: {"description": "Signed in: back to the overview"},
        401: {"description": "Bad key"},
        403: {"description": "Posted from another site"},
        429: {"description": "Too many failed attempts from this address; see Retry-After"},
    },
)
async def login(request: Request, ctx: Ctx) -> Response:
    if not _same_origin(request):
        return _login_page(request, "Sign in from this site's own page.", status=403)
    now_s = time.monotonic()
    wait = ctx.logins.retry_after(_client(request), now_s)
    if wait is not None:
        page = _login_page(request, "Too many failed attempts; try again shortly.", status=429)
        page.headers["Retry-After"] = str(wait)
        return page
    body = (await request.body()).decode("utf-8", errors="replace")
    key = (parse_qs(body).get("key") or [""])[0].strip()
    if not key or "\x00" in key or lookup(ctx.api_keys, key) is None:
        ctx.logins.failed(_client(request), now_s)
        return _login_page(request, "That key is not valid.", status=401)
    token = await open_session(ctx.engine, ctx.schema, key, now_ms())
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        max_age=LIFETIME_S,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post(
    "/logout",
    summary="End the session on the server (the cookie stops working everywhere)",
    responses={
        303: {"description": "Signed out"},
        403: {"description": "Posted from another site"},
    },
    response_class=HTMLResponse,
)
async def logout(request: Request, ctx: Ctx) -> Response:
    if not _same_origin(request):
        return HTMLResponse("Sign out from this site's own page.", status_code=403)
    token = request.cookies.get(COOKIE)
    if token:
        await close_session(ctx.engine, ctx.schema, token)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
