"""SLA engine settings: the common ones plus its port and config-as-code folder."""

from __future__ import annotations

from pydantic import Field

from pacta.settings import CommonSettings


class EngineSettings(CommonSettings):
    sla_engine_port: int = Field(8002, description="HTTP port of the sla-engine")
    sla_engine_config_dir: str = Field(
        "", description="folder of YAML calendars/policies loaded at start-up (config as code)"
    )
