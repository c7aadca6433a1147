"""Routes of alerts, silences and deliveries, and the one-click acknowledge link (which needs no
API key: its signed token names the one alert it may acknowledge)."""

from __future__ import annotations

import html
import uuid
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import HTMLResponse

from alerting import actions, store
from alerting.context import Context
from alerting.deps import Ctx
from alerting.domain import links
from alerting.live import load_silences
from alerting.specs import SilenceSpec
from alerting.store.alerts import AlertRecord
from alerting.store.silences import SilenceRow
from alerting.views import alert_view, current_state, delivery_view
from alerting.web_helpers import READ, WRITE, body_schema, invalid, json_body, responses, validate
from pacta.auth import AdminKey, ReaderKey
from pacta.clock import now_ms
from pacta.durations import datetime_to_ms, ms_to_datetime
from pacta.problems import Problem

router = APIRouter(prefix="/v1")
AlertId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
SilenceId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Token = Annotated[str, Path(max_length=200, pattern=r"^[A-Za-z0-9_.-]+$")]
StateFilter = Literal["firing", "acknowledged", "silenced", "inhibited", "resolved"]
SilenceState = Literal["pending", "active", "expired"]
Outcome = Literal["pending", "sending", "delivered", "failed"]
Text = Annotated[str, Query(max_length=200, pattern=r"^[^\x00]*$")]


async def _views(ctx: Context, records: list[AlertRecord], at: int) -> list[dict[str, Any]]:
    async with ctx.engine.connect() as conn:
        sources = await store.alerts.open_labels(conn) if ctx.live.inhibit else []
        history = await store.alerts.histories(conn, alert_ids=[r.alert.id for r in records])
    out = []
    for record in records:
        state = current_state(ctx, record.alert, sources, at)
        out.append(alert_view(record, state, history.get(record.alert.id, [])))
    return out


# ---- alerts -------------------------------------------------------------------------------


@router.get("/alerts", tags=["alerts"], responses=READ)
async def list_alerts(ctx: Ctx, _: ReaderKey, state: StateFilter | None = None) -> dict[str, Any]:
    """Every alert of the last 7 days (and any older one still open), or those in `state`."""
    at = now_ms()
    async with ctx.engine.connect() as conn:
        records = await store.alerts.recent(conn, since=ms_to_datetime(at) - timedelta(days=7))
    items = await _views(ctx, records, at)
    if state is not None:
        items = [i for i in items if i["state"] == state]
    return {"items": items}


@router.get("/alerts/{alert_id}", tags=["alerts"], responses={**READ, **responses(404)})
async def get_alert(ctx: Ctx, alert_id: AlertId, _: ReaderKey) -> dict[str, Any]:
    async with ctx.engine.connect() as conn:
        record = await store.alerts.get_record(conn, alert_id=alert_id)
    if record is None:
        raise Problem(404, "Not found", f"alert {alert_id!r} does not exist")
    return (await _views(ctx, [record], now_ms()))[0]


async def _act(ctx: Context, alert_id: str, by: str, action: actions.Action) -> dict[str, Any]:
    async with ctx.engine.begin() as conn:
        alert = await action(conn, ctx, alert_id, by, now_ms())
    if alert is None:
        raise Problem(404, "Not found", f"alert {alert_id!r} does not exist")
    ctx.wake()
    return await get_alert(ctx, alert_id, by)


@router.post("/alerts/{alert_id}/ack", tags=["alerts"], responses={**WRITE, **responses(404)})
async def ack_alert(ctx: Ctx, alert_id: AlertId, key: AdminKey) -> dict[str, Any]:
    """Acknowledge: escalation steps and repeat notifications stop."""
    return await _act(ctx, alert_id, "api", actions.ack)


@router.post("/alerts/{alert_id}/resolve", tags=["alerts"], responses={**WRITE, **responses(404)})
async def resolve_alert(ctx: Ctx, alert_id: AlertId, key: AdminKey) -> dict[str, Any]:
    """Resolve by hand: receivers that were told it fired are told it resolved."""
    return await _act(ctx, alert_id, "api", actions.resolve)


# ---- the one-click acknowledge link -------------------------------------------------------

_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<meta name="robots" content="noindex"><style>body{{font-family:sans-serif;max-width:36em;
margin:3em auto}}button{{font-size:1.2em;padding:.4em 1.2em}}</style></head><body>
<h1>{title}</h1><p>{text}</p>{form}</body></html>"""


def _page(title: str, text: str, form: str = "", status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        _PAGE.format(title=html.escape(title), text=text, form=form),
        status_code=status,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


def _token_alert(ctx: Context, token: str) -> str | None:
    return links.verify(ctx.link_secret, token, now_ms())


_LINK_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/html": {}}, "description": "A page naming the alert"},
    404: {"content": {"text/html": {}}, "description": "The link is forged or has expired"},
    **responses(422),
}


@router.get("/ack/{token}", tags=["alerts"], response_class=HTMLResponse, responses=_LINK_RESPONSES)
async def ack_page(request: Request, ctx: Ctx, token: Token) -> HTMLResponse:
    """A small page naming the alert, with a button: a GET acknowledges nothing (link
    previews and mail scanners only GET)."""
    alert_id = _token_alert(ctx, token)
    if alert_id is None:
        return _page(
            "Link not valid", "This acknowledge link is not valid or has expired.", status=404
        )
    async with ctx.engine.connect() as conn:
        alert = await store.alerts.get(conn, alert_id=alert_id)
    if alert is None:
        return _page("Link not valid", "The alert of this link no longer exists.", status=404)
    s = alert.signal
    what = html.escape(
        f"{s.kind} of {s.metric} for {s.ticket_id or s.service} (service {s.service}, "
        f"priority {s.priority or '-'})"
    )
    form = (
        f'<form method="post" action="{html.escape(str(request.url.path))}">'
        '<button type="submit">Acknowledge</button></form>'
        if alert.state == "firing"
        else ""
    )
    return _page(f"Alert {alert.id}", f"{what}. State: <b>{html.escape(alert.state)}</b>.", form)


@router.post(
    "/ack/{token}", tags=["alerts"], response_class=HTMLResponse, responses=_LINK_RESPONSES
)
async def ack_by_link(ctx: Ctx, token: Token) -> HTMLResponse:
    alert_id = _token_alert(ctx, token)
    if alert_id is None:
        return _page(
            "Link not valid", "This acknowledge link is not valid or has expired.", status=404
        )
    async with ctx.engine.begin() as conn:
        alert = await actions.ack(conn, ctx, alert_id, "link", now_ms())
    if alert is None:
        return _page("Link not valid", "The alert of this link no longer exists.", status=404)
    ctx.delivery_wake.set()  # PagerDuty hears of the ack now
    return _page(f"Alert {alert.id}", f"State: <b>{html.escape(alert.state)}</b>. Thank you.")


# ---- silences -----------------------------------------------------------------------------


def _silence_view(row: SilenceRow, at: int) -> dict[str, Any]:
    starts, ends = datetime_to_ms(row.starts_at), datetime_to_ms(row.ends_at)
    state = "pending" if at < starts else "active" if at < ends else "expired"
    return {
        "id": row.id,
        "matchers": row.matchers,
        "starts_at": row.starts_at.isoformat(),
        "ends_at": row.ends_at.isoformat(),
        "comment": row.comment,
        "created_by": row.created_by,
        "expire_on_resolve": row.expire_on_resolve,
        "state": state,
        "matched_alerts": list(row.matched),
    }


@router.post(
    "/silences",
    tags=["silences"],
    status_code=201,
    responses=WRITE,
    openapi_extra=body_schema(SilenceSpec),
)
async def add_silence(request: Request, ctx: Ctx, _: AdminKey) -> dict[str, Any]:
    spec: SilenceSpec = validate(SilenceSpec, await json_body(request))
    at = now_ms()
    starts = spec.starts_at or ms_to_datetime(at)
    if spec.ends_at <= starts or datetime_to_ms(spec.ends_at) <= at:
        # a silence that has already ended would mute nothing: refused, as in Alertmanager
        raise invalid([{"field": "ends_at", "message": "must lie in the future"}])
    silence = SilenceRow(
        id="si-" + uuid.uuid4().hex[:20],
        matchers=list(spec.matchers),
        starts_at=starts,
        ends_at=spec.ends_at,
        comment=spec.comment,
        created_by=spec.created_by,
        expire_on_resolve=spec.expire_on_resolve,
    )
    async with ctx.engine.begin() as conn:
        await store.silences.add(conn, silence=silence)
        generation = await store.config.generation(conn)
        silences = await load_silences(conn)
    live = ctx.live
    live.patch(generation, ("silences", "all"), lambda: setattr(live, "silences", silences))
    return _silence_view(silence, at)


@router.get("/silences", tags=["silences"], responses=READ)
async def list_silences(
    ctx: Ctx, _: ReaderKey, state: SilenceState | None = None
) -> dict[str, Any]:
    async with ctx.engine.connect() as conn:
        rows = await store.silences.listing(conn)
    at = now_ms()
    views = [_silence_view(r, at) for r in rows]
    return {"items": [v for v in views if state is None or v["state"] == state]}


@router.get("/silences/{silence_id}", tags=["silences"], responses={**READ, **responses(404)})
async def get_silence(ctx: Ctx, silence_id: SilenceId, _: ReaderKey) -> dict[str, Any]:
    async with ctx.engine.connect() as conn:
        row = await store.silences.get(conn, silence_id=silence_id)
    if row is None:
        raise Problem(404, "Not found", f"silence {silence_id!r} does not exist")
    return _silence_view(row, now_ms())


@router.delete(
    "/silences/{silence_id}",
    tags=["silences"],
    status_code=204,
    responses={**WRITE, **responses(404)},
)
async def delete_silence(ctx: Ctx, silence_id: SilenceId, _: AdminKey) -> Response:
    """Expire the silence now (kept in the list as expired); what it held back is sent."""
    async with ctx.engine.begin() as conn:
        ended = await actions.expire_silence(conn, ctx, silence_id, now_ms())
    if not ended:
        raise Problem(404, "Not found", f"silence {silence_id!r} does not exist or has ended")
    ctx.dispatch_wake.set()
    return Response(status_code=204)


# ---- deliveries ---------------------------------------------------------------------------


@router.get("/deliveries", tags=["deliveries"], responses=READ)
async def list_deliveries(
    ctx: Ctx,
    _: ReaderKey,
    alert_id: Text | None = None,
    receiver: Text | None = None,
    outcome: Outcome | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> dict[str, Any]:
    """Every delivery with its attempts, newest first."""
    async with ctx.engine.connect() as conn:
        rows = await store.deliveries.listing(
            conn, alert_id=alert_id, receiver=receiver, state=outcome, limit=limit
        )
        attempts = await store.deliveries.attempts_of(conn, ids=[r.id for r in rows])
    return {"items": [delivery_view(r, attempts.get(r.id, [])) for r in rows]}


@router.post(
    "/deliveries/{delivery_id}/replay",
    tags=["deliveries"],
    status_code=202,
    responses={**WRITE, **responses(404)},
)
async def replay_delivery(
    ctx: Ctx, delivery_id: Annotated[int, Path(ge=1, le=2**62)], _: AdminKey
) -> dict[str, Any]:
    """Send a delivery again with its own Idempotency-Key (a failed one, or a delivered one a
    receiver lost)."""
    async with ctx.engine.begin() as conn:
        before = await store.deliveries.replay(
            conn, delivery_id=delivery_id, now=ms_to_datetime(now_ms())
        )
    if before is None:
        raise Problem(404, "Not found", f"delivery {delivery_id} does not exist")
    ctx.delivery_wake.set()
    return {"id": delivery_id, "previous_outcome": before, "outcome": "pending"}
