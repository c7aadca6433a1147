"""SLA engine settings: the common ones plus its port, config-as-code folder and fetch sizes."""

from __future__ import annotations

from pydantic import Field

from pacta.settings import CommonSettings


class EngineSettings(CommonSettings):
    sla_engine_port: int = Field(8002, description="HTTP port of the sla-engine")
    sla_engine_config_dir: str = Field(
        "", description="folder of YAML calendars/policies loaded at start-up (config as code)"
    )
    sla_engine_fetch_min_bytes: int = Field(
        64 * 1024,
        ge=1,
        description="bytes of events the broker gathers before it answers the engine's fetch "
        "(or PACTA_SLA_ENGINE_FETCH_MAX_WAIT_MS passes) while events flow: fewer, larger "
        "consumed batches, so fewer transactions, offset commits and fetches per event; after "
        "a poll that brought one event or none the next fetch is answered at its first event "
        "(1 = always)",
    )
    sla_engine_fetch_max_wait_ms: int = Field(
        20,
        ge=1,
        description="milliseconds the broker holds the engine's fetch, at most, for "
        "PACTA_SLA_ENGINE_FETCH_MIN_BYTES to gather: what it adds, at worst, to the way of an "
        "event through the engine while events flow",
    )
