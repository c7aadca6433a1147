"""Issued reports for delivery: reporting produces one `ReportIssued` record per subscription
and revision on its topic; this consumer queues each as a delivery in the durable delivery
queue (so retries, backoff and every attempt in `GET /v1/deliveries` are the same as for
alerts), and an e-mail receiver sends it as a mail with the report attached."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from alerting.context import Context
from alerting.receivers.report_mail import KIND
from alerting.store import deliveries
from pacta.durations import ms_to_datetime
from pacta.events import REPORTS_TOPIC, ReportIssued
from pacta.kafka import BatchHandler, Record
from pacta.logs import get_logger
from pacta.runtime import ConsumerRuntime
from pacta.settings import CommonSettings

log = get_logger(__name__)


def entry(report: ReportIssued) -> dict[str, Any]:
    """The delivery's one `alerts` entry: what was issued, its link and the attachment."""
    body = report.model_dump()
    return {
        "alert_id": f"report:{report.delivery_id}",
        "kind": KIND,
        "service": ", ".join(report.services) if report.services else "all services",
        "state": "firing",
        **body,
    }


def make_handler(engine: AsyncEngine, ctx: Context, now_ms: Any) -> BatchHandler:
    async def handle(records: list[Record]) -> None:
        reports: list[ReportIssued] = []
        for r in records:
            try:
                reports.append(ReportIssued.model_validate_json(r.value or b""))
            except ValidationError:
                log.error("undecodable issued report skipped", topic=r.topic, offset=r.offset)
        if not reports:
            return
        now = ms_to_datetime(now_ms())
        async with engine.begin() as conn:
            for report in reports:
                # the key makes a record consumed twice one delivery
                await deliveries.enqueue(
                    conn,
                    delivery=deliveries.NewDelivery(
                        idempotency_key=f"report:{report.delivery_id}",
                        receiver=report.receiver,
                        group_key=f"report:{report.subscription}",
                        status="firing",
                        alerts=(entry(report),),
                        now=now,
                        detected_at=None,
                    ),
                )
        ctx.delivery_wake.set()
        log.info("issued reports queued", ids=[r.delivery_id for r in reports])

    return handle


def runtime(
    settings: CommonSettings, engine: AsyncEngine, ctx: Context, now_ms: Any
) -> ConsumerRuntime:
    """A consumer of its own group on the issued-reports topic."""
    return ConsumerRuntime(
        settings,
        group=f"{settings.topic_prefix}-alerting-reports",
        topics=[REPORTS_TOPIC],
        handler=make_handler(engine, ctx, now_ms),
        max_records=50,
    )
