"""Time zones come with the Python environment (the `tzdata` package) as well as from the
system: a slim image or a Debian without `tzdata-legacy` still knows `US/Eastern`."""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator

import pytest

from pacta.calendars import Calendar


@pytest.fixture
def no_system_zones() -> Iterator[None]:
    zoneinfo.reset_tzpath(to=[])
    zoneinfo.ZoneInfo.clear_cache()
    try:
        yield
    finally:
        zoneinfo.reset_tzpath()
        zoneinfo.ZoneInfo.clear_cache()


@pytest.mark.usefixtures("no_system_zones")
@pytest.mark.parametrize("name", ["US/Eastern", "Europe/Berlin", "Asia/Kolkata", "UTC"])
def test_zones_resolve_without_the_system_database(name: str) -> None:
    assert zoneinfo.TZPATH == ()
    Calendar(name="check", timezone=name)  # raises on an unknown zone
