"""Reporting settings: the common ones plus its port."""

from __future__ import annotations

from pacta.settings import CommonSettings
from pydantic import Field


class ReportingSettings(CommonSettings):
    reporting_port: int = Field(8004, description="HTTP port of the reporting service")
