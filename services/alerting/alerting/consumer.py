"""Alerting's Kafka shell: signals in, each recorded exactly once."""

from __future__ import annotations

from fastapi import FastAPI

from alerting import store
from pacta.db import claim_events
from pacta.events import Signal
from pacta.kafka import BatchHandler, Record, decode_events
from pacta.logs import get_logger

log = get_logger(__name__)


def make_handler(app: FastAPI) -> BatchHandler:
    async def handle(records: list[Record]) -> None:
        signals = [s for s in decode_events(records) if isinstance(s, Signal)]
        async with app.state.engine.begin() as conn:
            new = await claim_events(conn, store.SCHEMA, [s.signal_id for s in signals])
            fresh = [s for s in signals if s.signal_id in new]
            await store.record_signals(conn, signals=fresh)
        if fresh:
            log.info("signals recorded", ids=[s.signal_id for s in fresh][:20], count=len(fresh))

    return handle
