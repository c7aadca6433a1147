"""Ingest settings: the common ones plus body, batch, rate, produce and signature limits."""

from __future__ import annotations

import os

from pydantic import Field, SecretStr, model_validator

from ingest.signatures import parse_secrets
from pacta.settings import CommonSettings


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
    ingest_recent_ids: int = Field(
        200_000,
        ge=0,
        description=(
            "acknowledged ids each worker keeps in memory to answer retries as duplicates "
            "without a produce (PostgreSQL stays the authority; 0 = none)"
        ),
    )
    ingest_claim_fsync: bool = Field(
        True,
        description=(
            "wait for PostgreSQL's WAL flush of each id claim before the 202 (false: ~10 % "
            "faster, but a PostgreSQL crash may forget the last ~0.6 s of claims; their "
            "retries are then answered as new, produced again and still applied once)"
        ),
    )
    ingest_workers: int = Field(
        0,
        ge=0,
        le=64,
        description="ingest processes serving the one port (0 = one per CPU core)",
    )
    ingest_cycle_wait_ms: float = Field(
        8.0,
        ge=0,
        le=50,
        description=(
            "how long a produce-and-claim cycle waits, at most, for more requests to join it "
            "(it goes at once when every connection active lately has a request waiting, or "
            "once it holds 16 events)"
        ),
    )
    ingest_dedup_days: int = Field(35, ge=1, description="days an event id is remembered for dedup")
    ingest_hmac_secrets: SecretStr = Field(
        SecretStr(""),
        description=(
            "comma-separated api-key:secret pairs; requests with such a key must carry "
            "X-Pacta-Signature and X-Pacta-Timestamp (list a key twice while rotating)"
        ),
    )
    ingest_mappings_file: str = Field(
        "",
        description=(
            "YAML file of per-source mappings of the native formats (Jira, ServiceNow, "
            "Alertmanager labels...); empty = the defaults of docs/integrations.md"
        ),
    )
    ingest_hmac_window: int = Field(
        300, ge=1, le=3600, description="seconds a signature's timestamp may be off; one use each"
    )

    @model_validator(mode="after")
    def _secrets_name_known_keys(self) -> IngestSettings:
        # A typo (or a secret holding a colon) would otherwise leave a sender unsigned silently.
        unknown = set(self.hmac_secrets()) - set(self.keys())
        if unknown:
            raise ValueError(
                f"PACTA_INGEST_HMAC_SECRETS names {len(unknown)} key(s) not in PACTA_API_KEYS"
            )
        return self

    def worker_count(self) -> int:
        """PACTA_INGEST_WORKERS, or one per CPU this process may run on (a container's cpuset)."""
        return self.ingest_workers or len(os.sched_getaffinity(0)) or 1

    def hmac_secrets(self) -> dict[str, list[bytes]]:
        return parse_secrets(self.ingest_hmac_secrets.get_secret_value())
