"""Reports as issued (docs/reporting.md, "Issue and restate"): each issue of a month keeps
the whole report as it stood, as a numbered revision; later reports of the month list every
figure late events have changed since the latest revision. Issuers of one month and zone are
serialised by a PostgreSQL advisory lock, so two instances never issue the same revision."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from pacta.durations import format_timestamp_ms, ms_to_datetime
from reporting.store import q

SKIPPED = frozenset({"previous", "breaches", "policy_versions", "headline", "by_policy_version"})
"""Not figures of the month (the month before, lists, and what is derived from the rest)."""


@dataclass(frozen=True, slots=True)
class Issued:
    month: str
    tz: str
    revision: int
    published_at: str
    automatic: bool


def _lock_key(month: str, tz: str) -> str:
    return f"reporting-publish:{month}:{tz}"


async def issue(
    engine: AsyncEngine,
    schema: str,
    report: dict[str, Any],
    *,
    now_ms: int,
    automatic: bool,
    also: Callable[[AsyncConnection, dict[str, Any]], Awaitable[Any]] | None = None,
) -> Issued | None:
    """Keep `report` as the month's next revision; an automatic issue is kept only while the
    month has none (None otherwise). `also` runs in the same transaction with the revision."""
    month, tz = report["month"], report["tz"]
    s = q(schema)
    async with engine.begin() as conn:
        await conn.execute(
            sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
            {"k": _lock_key(month, tz)},
        )
        latest = await latest_revision(conn, schema, month, tz)
        if automatic and latest is not None:
            return None
        revision = int(latest or 0) + 1
        published = format_timestamp_ms(now_ms)
        body = {**report, "published_at": published, "revision": revision, "restatements": []}
        head = {k: v for k, v in body.items() if k != "services"}
        params = {"m": month, "z": tz, "r": revision}
        await conn.execute(
            sa.text(
                f"INSERT INTO {s}.publications (month, tz, revision, published_at, automatic, "
                "body) VALUES (:m, :z, :r, :at, :auto, CAST(:b AS jsonb))"
            ),
            {**params, "at": ms_to_datetime(now_ms), "auto": automatic, "b": _json(head)},
        )
        # one row per service, in the report's order, in one statement
        await conn.execute(
            sa.text(
                f"INSERT INTO {s}.publication_services (month, tz, revision, service, position, "
                "body) SELECT :m, :z, :r, x.value->>'service', x.ordinality, x.value "
                "FROM jsonb_array_elements(CAST(:b AS jsonb)) WITH ORDINALITY AS x"
            ),
            {**params, "b": _json(body["services"])},
        )
        if also is not None:
            await also(conn, body)  # in the same transaction: the subscriptions' deliveries
    return Issued(month, tz, revision, published, automatic)


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


async def latest_revision(conn: AsyncConnection, schema: str, month: str, tz: str) -> int | None:
    """The month's latest revision number (None: never issued)."""
    found = await conn.scalar(
        sa.text(f"SELECT max(revision) FROM {q(schema)}.publications WHERE month = :m AND tz = :z"),
        {"m": month, "z": tz},
    )
    return None if found is None else int(found)


async def revision_of(
    conn: AsyncConnection,
    schema: str,
    month: str,
    tz: str,
    revision: int | None,
    services: list[str] | None = None,
) -> dict[str, Any] | None:
    """A revision's report exactly as issued (None: the latest), with every service or only
    those of `services`."""
    s = q(schema)
    if revision is None:
        revision = await latest_revision(conn, schema, month, tz)
        if revision is None:
            return None
    params: dict[str, Any] = {"m": month, "z": tz, "r": revision}
    head = await conn.scalar(
        sa.text(
            f"SELECT body FROM {s}.publications WHERE month = :m AND tz = :z AND revision = :r"
        ),
        params,
    )
    if head is None:
        return None
    sql = (
        f"SELECT body FROM {s}.publication_services WHERE month = :m AND tz = :z AND revision = :r"
    )
    if services is not None:
        sql += " AND service = ANY(:svc)"
        params["svc"] = services
    rows = await conn.execute(sa.text(sql + " ORDER BY position"), params)
    return {**dict(head), "services": [dict(body) for (body,) in rows]}


def figures(block: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """A service's figures as (dotted path, value), the breach list as its count."""
    for key, value in block.items():
        if key.startswith("_") or key in ("service", "policy"):
            continue
        if key == "breaches" and not prefix:
            yield "breaches.count", len(value)
            continue
        if key in SKIPPED:
            continue
        if isinstance(value, dict):
            yield from figures(value, f"{prefix}{key}.")
        elif not isinstance(value, list):
            yield f"{prefix}{key}", value


def restatements(published: dict[str, Any], now: dict[str, Any]) -> list[dict[str, Any]]:
    """Every figure that differs between the revision as issued and the report now (a service
    the revision did not have: each of its figures with `published` null)."""
    before = {s["service"]: dict(figures(s)) for s in published["services"]}
    out: list[dict[str, Any]] = []
    for svc in now["services"]:
        old = before.get(svc["service"])
        for path, value in figures(svc):
            was = None if old is None else old.get(path)
            if old is None or was != value:
                out.append(
                    {"service": svc["service"], "figure": path, "published": was, "now": value}
                )
    return out


def with_publication(report: dict[str, Any], published: dict[str, Any] | None) -> dict[str, Any]:
    """The report with the latest revision's `published_at`, `revision` and restatements."""
    if published is None:
        return report
    wanted = {s["service"] for s in report["services"]}
    scope = {**published, "services": [s for s in published["services"] if s["service"] in wanted]}
    return {
        **report,
        "published_at": published["published_at"],
        "revision": published["revision"],
        "restatements": restatements(scope, report),
    }
