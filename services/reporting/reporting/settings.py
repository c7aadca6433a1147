"""Reporting settings: the common ones plus its port and when months are issued."""

from __future__ import annotations

import os

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

    rebuild_replays: int = Field(
        default_factory=lambda: 2 if (os.cpu_count() or 1) > 1 else 1,
        ge=1,
        le=16,
        description="replays a rebuild runs at once, each over a share of the partitions "
        "(default 2, 1 on a one-core box: PostgreSQL needs a core too)",
    )

    @field_validator("report_publish_after")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value, allow_zero=True)
        return value

    @property
    def publish_after_ms(self) -> int:
        return parse_duration(self.report_publish_after, allow_zero=True) * 1000
