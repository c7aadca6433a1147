"""Figures as people read them: never rounded onto the target, durations in h and min, times
in the report's zone without fractions, download names safe for any service name."""

from __future__ import annotations

from reporting.api import download_name
from reporting.domain.wording import duration, local_time, percent


def test_a_figure_under_its_target_never_prints_as_the_target() -> None:
    assert percent(99.89957, 99.9) == "99.899"
    assert percent(99.8996, 99.9) == "99.899"
    assert percent(99.9, 99.9) == "99.900"
    assert percent(99.99999, 99.99) == "99.999"
    assert percent(99.9994, 99.9995) == "99.9994"
    assert percent(100.0) == "100.000"
    assert percent(None) == "\u2013"


def test_durations_in_hours_and_minutes() -> None:
    assert duration(2690) == "44 min 50 s"
    assert duration(3900) == "1 h 05 min"
    assert duration(31 * 86400) == "744 h 00 min"
    assert duration(42) == "42 s"
    assert duration(None) == "\u2013"


def test_times_in_the_report_zone_without_fractions() -> None:
    assert local_time("2026-10-31T23:30:00.123Z", "Europe/Berlin") == "2026-11-01 00:30:00 CET"
    assert local_time("2026-10-31T23:30:00.000Z", "UTC") == "2026-10-31 23:30:00 UTC"


def test_download_names_follow_rfc_6266_for_any_service() -> None:
    for name in (
        "Kasse\u2013Web",
        "Zahlung\u20ac",
        "\u652f\u4ed8",
        "\u041a\u0430\u0441\u0441\u0430",
        "P\u0142atno\u015b\u0107",
    ):
        header = download_name("2026-10", name, "pdf")
        header.encode("latin-1")  # a header value must be Latin-1
        assert "filename*=UTF-8''sla-report-2026-10-" in header
    evil = download_name("2026-10", "x\"; filename*=UTF-8''evil.html\r\nSet-Cookie: a=b", "csv")
    assert evil.count("filename*=") == 1
    assert '"' not in evil.split('filename="', 1)[1].split('"', 1)[0]
    assert "\r" not in evil
    assert "\n" not in evil
    assert evil.endswith(".csv")


def test_arabic_is_shaped_and_drawn_right_to_left() -> None:
    from reporting.shaping import visual

    # "khidma" (service): kha initial, dal final (dal never joins on), meem initial, teh
    # marbuta final; drawn right to left
    assert visual("\u062e\u062f\u0645\u0629") == "\ufe94\ufee3\ufeaa\ufea7"
    assert visual("Kasse 42") == "Kasse 42"
    assert visual("\u062e\u062f\u0645\u0629-7") == "\ufe94\ufee3\ufeaa\ufea7-7"
