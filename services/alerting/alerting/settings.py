"""Alerting settings: the common ones plus its port."""

from __future__ import annotations

from pydantic import Field

from pacta.settings import CommonSettings


class AlertingSettings(CommonSettings):
    alerting_port: int = Field(8003, description="HTTP port of the alerting service")
