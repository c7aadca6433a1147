"""Reporting settings: the common ones plus its port and when months are issued."""

from __future__ import annotations

from pydantic import Field, field_validator

from pacta.durations import parse_duration
from pacta.settings import CommonSettings


class ReportingSettings(CommonSettings):
    reporting_port: int = Field(8004, description="HTTP port of the reporting service")
    report_publish_after: str = Field(
        "3d",
        description="how long after a month ends it is issued automatically if nobody did",
    )
    report_tz: str = Field("UTC", description="time zone of the months issued automatically")
    report_publish_check_s: float = Field(
        60.0, gt=0, description="seconds between checks for a month due to be issued"
    )

    @field_validator("report_publish_after")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value, allow_zero=True)
        return value

    @property
    def publish_after_ms(self) -> int:
        return parse_duration(self.report_publish_after, allow_zero=True) * 1000
