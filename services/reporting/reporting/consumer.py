"""Reporting's Kafka shell: every event and signal, applied to the read models exactly once."""

from __future__ import annotations

from fastapi import FastAPI

from pacta.db import claim_events
from pacta.kafka import BatchHandler, Record, decode_events
from pacta.logs import get_logger
from reporting import store

log = get_logger(__name__)


def make_handler(app: FastAPI) -> BatchHandler:
    async def handle(records: list[Record]) -> None:
        items = decode_events(records)
        async with app.state.engine.begin() as conn:
            new = await claim_events(conn, store.SCHEMA, [store.item_id(i) for i in items])
            fresh = [i for i in items if store.item_id(i) in new]
            await store.journal(conn, items=fresh)
        if fresh:
            log.info("items applied", ids=[store.item_id(i) for i in fresh][:20], count=len(fresh))

    return handle
