"""Reporting settings: the common ones plus its port."""

from __future__ import annotations

from pydantic import Field

from pacta.settings import CommonSettings


class ReportingSettings(CommonSettings):
    reporting_port: int = Field(8004, description="HTTP port of the reporting service")
