"""Ingest settings: the common ones plus body, batch, rate and produce limits."""

from __future__ import annotations

from pacta.settings import CommonSettings
from pydantic import Field


class IngestSettings(CommonSettings):
    ingest_port: int = Field(8001, description="HTTP port of the ingest service")
    ingest_max_body_bytes: int = Field(1024 * 1024, ge=1024, description="request body limit (413)")
    ingest_max_batch: int = Field(1000, ge=1, description="events per request at most (413)")
    ingest_rate_limit: float = Field(
        20000.0, ge=0, description="requests per second per API key (0 = unlimited), 429 above"
    )
    ingest_rate_burst: int = Field(40000, ge=1, description="requests a key may send in a burst")
    ingest_produce_timeout: float = Field(
        3.0, gt=0, description="seconds to wait for Kafka's acknowledgement before answering 503"
    )
    ingest_retry_after: int = Field(5, ge=1, description="Retry-After seconds on 503")
    ingest_dedup_days: int = Field(35, ge=1, description="days an event id is remembered for dedup")
