"""Report subscriptions (`/v1/report-subscriptions/{name}`): who gets each revision issued,
and the records that carry a revision to alerting, written with the revision itself."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import Any, Literal
from urllib.parse import quote

import orjson
import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from pacta.durations import ms_to_datetime
from pacta.events import ReportIssued
from reporting.domain.periods import PeriodError, zone
from reporting.publication import revision_of
from reporting.store import q

MAX_ATTACHMENT = 600_000
"""Bytes of report carried in a record; a larger one travels as its link only (a Kafka record
stays under the broker's 1 MiB default)."""
MEDIA = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
}


class Subscription(BaseModel):
    """The body of `PUT /v1/report-subscriptions/{name}`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    receiver: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
    format: Literal["json", "csv", "html", "pdf"] = "pdf"
    services: list[str] | None = Field(None, max_length=1000)
    tz: str = "UTC"

    @field_validator("tz")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            zone(value)
        except PeriodError as exc:
            raise ValueError(exc.message) from None
        return value

    @field_validator("services")
    @classmethod
    def _services(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and any(not s or len(s) > 200 or "\x00" in s for s in value):
            raise ValueError("each service is a name of 1 to 200 characters")
        return None if value is None else sorted(set(value))


NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"


async def put(conn: AsyncConnection, schema: str, name: str, sub: Subscription) -> bool:
    """Store it; True when it is new."""
    row = await conn.execute(
        sa.text(
            f"INSERT INTO {q(schema)}.subscriptions (name, body) VALUES (:n, CAST(:b AS jsonb)) "
            "ON CONFLICT (name) DO UPDATE SET body = EXCLUDED.body RETURNING (xmax = 0)"
        ),
        {"n": name, "b": sub.model_dump_json()},
    )
    return bool(row.scalar())


async def get(conn: AsyncConnection, schema: str, name: str) -> dict[str, Any] | None:
    found = await conn.scalar(
        sa.text(f"SELECT body FROM {q(schema)}.subscriptions WHERE name = :n"), {"n": name}
    )
    return None if found is None else {"name": name, **found}


async def listed(conn: AsyncConnection, schema: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        sa.text(f"SELECT name, body FROM {q(schema)}.subscriptions ORDER BY name")
    )
    return [{"name": n, **b} for n, b in rows]


async def delete(conn: AsyncConnection, schema: str, name: str) -> bool:
    row = await conn.execute(
        sa.text(f"DELETE FROM {q(schema)}.subscriptions WHERE name = :n RETURNING name"),
        {"n": name},
    )
    return row.scalar() is not None


ATTACH = "_attach"
"""Set on an outbox row whose attachment the relay still has to render (never produced)."""


async def with_attachment(
    engine: AsyncEngine,
    schema: str,
    body: dict[str, Any],
    render: Callable[[dict[str, Any], str], Awaitable[bytes]],
) -> dict[str, Any]:
    """The outbox row's record as produced: the revision as issued rendered in the
    subscription's format and attached when it is small enough (otherwise the link only)."""
    record = {k: v for k, v in body.items() if k != ATTACH}
    if not body.get(ATTACH):
        return record
    async with engine.connect() as conn:
        report = await revision_of(
            conn, schema, record["month"], record["tz"], record["revision"], record["services"]
        )
    if report is None:  # not possible while revisions are never deleted; the link still works
        return record
    content = await render(report, record["format"])
    if len(content) <= MAX_ATTACHMENT:
        record["content_base64"] = base64.b64encode(content).decode()
    return record


def _summary(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "service": s["service"],
            "availability": s["availability"]["actual"],
            "availability_target": s["availability"]["target"],
            "availability_met": s["availability"]["met"],
            "response_compliance": s["tickets"]["response"]["compliance"],
            "resolution_compliance": s["tickets"]["resolution"]["compliance"],
            "response_met": s["headline"]["response"]["met"],
            "resolution_met": s["headline"]["resolution"]["met"],
        }
        for s in report["services"]
    ]


async def enqueue_deliveries(
    conn: AsyncConnection,
    schema: str,
    report: dict[str, Any],
    *,
    now_ms: int,
) -> int:
    """One outbox record per subscription in the revision's zone, in the issuing transaction;
    returns how many. The attachment is rendered later, by the relay (`attachment`): a PDF of
    thousands of services takes minutes, which the issuing request must not wait for."""
    s = q(schema)
    rows = await conn.execute(sa.text(f"SELECT name, body FROM {s}.subscriptions ORDER BY name"))
    count = 0
    for name, body in rows:
        sub = Subscription.model_validate(body)
        if sub.tz != report["tz"]:
            continue
        wanted = sub.services
        scoped = report
        if wanted is not None:
            scoped = {
                **report,
                "services": [x for x in report["services"] if x["service"] in wanted],
            }
        month, revision = report["month"], report["revision"]
        filename = f"sla-report-{month}-r{revision}.{sub.format}"
        record = ReportIssued(
            delivery_id=f"{name}:{month}:{report['tz']}:{revision}",
            subscription=name,
            receiver=sub.receiver,
            month=month,
            tz=report["tz"],
            revision=revision,
            published_at=report["published_at"],
            services=wanted,
            format=sub.format,
            filename=filename,
            content_type=MEDIA[sub.format],
            content_base64=None,
            link=(
                f"/v1/reports/monthly/{month}/published?revision={revision}"
                f"&tz={quote(report['tz'], safe='')}&format={sub.format}"
            ),
            summary=_summary(scoped),
        )
        await conn.execute(
            sa.text(
                f"INSERT INTO {s}.outbox (key, body, created_at) "
                "VALUES (:k, CAST(:b AS jsonb), :at)"
            ),
            {
                "k": name,
                "b": orjson.dumps({**record.model_dump(), ATTACH: True}).decode(),
                "at": ms_to_datetime(now_ms),
            },
        )
        count += 1
    return count
