"""Settings every service reads identically, from `PACTA_*` environment variables."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Role = Literal["ingest", "admin"]

#: The documented development default: never use it outside a laptop or CI.
DEV_API_KEYS = "dev-admin-key:admin,dev-ingest-key:ingest"


def parse_api_keys(text: str) -> dict[str, Role]:
    """Parse `key:role,key:role` into a mapping; a bad pair is a start-up error, not a 500 later."""
    keys: dict[str, Role] = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        key, sep, role = pair.rpartition(":")
        if not sep or not key or role not in ("ingest", "admin"):
            raise ValueError(f"PACTA_API_KEYS: {pair!r} is not key:role with role ingest or admin")
        keys[key] = role  # type: ignore[assignment]
    return keys


class CommonSettings(BaseSettings):
    """What all four services share: Kafka, PostgreSQL, topics, access and logging."""

    model_config = SettingsConfigDict(env_prefix="PACTA_", extra="ignore", frozen=True)

    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers")
    database_url: str = Field(
        "postgresql+asyncpg://pacta:pacta@127.0.0.1:5432/pacta",
        description="SQLAlchemy URL of the PostgreSQL database (asyncpg driver)",
    )
    topic_prefix: str = Field("pacta", description="prefix of every Kafka topic name")
    topic_partitions: int = Field(6, ge=1, le=1000, description="partitions of created topics")
    topic_replication: int = Field(
        1,
        ge=1,
        le=16,
        description="replicas of each created topic (3 on a Kafka cluster; the brokers' "
        "min.insync.replicas applies)",
    )
    api_keys: str = Field(DEV_API_KEYS, description="comma-separated key:role pairs")
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR")
    host: str = Field("127.0.0.1", description="address the HTTP server binds")
    instance_id: str = Field("", description="stable consumer instance id (static membership)")

    @field_validator("api_keys")
    @classmethod
    def _check_keys(cls, value: str) -> str:
        parse_api_keys(value)
        return value

    @field_validator("database_url")
    @classmethod
    def _asyncpg_driver(cls, value: str) -> str:
        # Operators write the libpq form; the services need the asyncpg dialect.
        for plain in ("postgresql://", "postgres://"):
            if value.startswith(plain):
                return "postgresql+asyncpg://" + value[len(plain) :]
        return value

    def keys(self) -> dict[str, Role]:
        return parse_api_keys(self.api_keys)
