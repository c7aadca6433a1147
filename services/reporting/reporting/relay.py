"""Produces reporting's outbox (issued reports for the subscriptions) to Kafka: a row is marked
sent once the broker acknowledged it, so a crash in between sends it again (alerting queues a
delivery once per `delivery_id`)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import orjson
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer

from pacta.events import REPORTS_TOPIC, topic_name
from pacta.kafka import create_producer, send_all, start_with_retry
from pacta.logs import get_logger
from reporting.context import Reporting
from reporting.render import render_off_loop
from reporting.store import q
from reporting.subscriptions import ATTACH, with_attachment

log = get_logger(__name__)
BATCH = 20
IDLE_S = 5.0
"""How often the outbox is looked at with nothing announced: an issue in this process wakes
the relay at once (`outbox_wake`), so this only paces retries after a failed send."""


async def attached(ctx: Reporting, body: dict[str, Any]) -> dict[str, Any]:
    try:
        return await with_attachment(ctx.engine, ctx.schema, body, render_off_loop)
    except Exception as exc:  # a report that cannot be rendered still goes out, as its link
        log.exception(
            "report attachment not rendered", error=repr(exc), key=body.get("delivery_id")
        )
        return {k: v for k, v in body.items() if k != ATTACH}


async def relay_once(ctx: Reporting, producer: AIOKafkaProducer) -> int:
    s = q(ctx.schema)
    async with ctx.engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.text(
                    f"SELECT id, key, body FROM {s}.outbox WHERE sent_at IS NULL "
                    "ORDER BY id LIMIT :n"
                ),
                {"n": BATCH},
            )
        ).all()
    if not rows:
        return 0
    topic = topic_name(ctx.settings.topic_prefix, REPORTS_TOPIC)
    records: list[tuple[str, bytes, bytes, list[tuple[str, bytes]]]] = [
        (topic, key.encode(), orjson.dumps(await attached(ctx, body)), []) for _, key, body in rows
    ]
    await send_all(producer, records, 30.0)
    async with ctx.engine.begin() as conn:
        await conn.execute(
            sa.text(f"UPDATE {s}.outbox SET sent_at = now() WHERE id = ANY(:ids)"),
            {"ids": [r[0] for r in rows]},
        )
    log.info("issued reports produced", count=len(rows), keys=[r[1] for r in rows])
    return len(rows)


async def run(ctx: Reporting, stop: asyncio.Event) -> None:
    producer = create_producer(ctx.settings, "reporting-relay")
    if not await start_with_retry(producer, "reporting-relay", stop):
        return
    try:
        while not stop.is_set():
            try:
                if await relay_once(ctx, producer):
                    continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Kafka or PostgreSQL away: the rows wait for the next try
                log.warning("issued reports not produced yet", error=repr(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ctx.outbox_wake.wait(), IDLE_S)
            ctx.outbox_wake.clear()
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(producer.stop(), 10)
