"""Agreed service time under calendar versions, hand-computed: October 2026 (1 Oct a Thursday)
with office hours widened on the 15th, maintenance across the change, deletions, corrections,
and a calendar without versions counting exactly as before."""

from datetime import UTC, datetime

from pacta.agreed_time import agreed_ms, since_always, working_ms_each, working_ms_in_force
from pacta.calendars import CALENDAR_24X7, Calendar, working_ms
from pacta.versions import Version

H = 3_600_000
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
NINE_TO_FIVE = Calendar("office", hours={d: ["09:00-17:00"] for d in WEEKDAYS})
EIGHT_TO_SIX = Calendar("office", hours={d: ["08:00-18:00"] for d in WEEKDAYS})


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


OCT = (ms("2026-10-01T00:00"), ms("2026-11-01T00:00"))
MID = ms("2026-10-15T00:00")
WIDENED = [Version(1, None, NINE_TO_FIVE), Version(2, MID, EIGHT_TO_SIX)]


def test_without_versions_it_is_the_plain_working_time() -> None:
    assert agreed_ms(NINE_TO_FIVE, [], *OCT) == working_ms(NINE_TO_FIVE, *OCT) == 22 * 8 * H
    assert agreed_ms(since_always(NINE_TO_FIVE), [], *OCT) == 22 * 8 * H
    window = (ms("2026-10-05T16:00"), ms("2026-10-05T18:00"))  # Monday: one working hour
    assert agreed_ms(NINE_TO_FIVE, [window], *OCT) == 22 * 8 * H - H


def test_each_stretch_counts_under_the_version_in_force() -> None:
    # 1-14 Oct: 10 weekdays of 8 h; 15-31 Oct: 12 weekdays of 10 h
    assert working_ms_in_force(WIDENED, *OCT) == 10 * 8 * H + 12 * 10 * H
    assert agreed_ms(WIDENED, [], *OCT) == 200 * H
    # a maintenance window from Wednesday 14th 16:00 to Thursday 15th 09:00 (UTC): one hour of
    # v1's working time on the 14th, one hour (08:00-09:00) of v2's on the 15th
    window = (ms("2026-10-14T16:00"), ms("2026-10-15T09:00"))
    assert agreed_ms(WIDENED, [window], *OCT) == 200 * H - 2 * H
    # overlapping windows count once; windows outside the period are cut off
    again = (ms("2026-10-15T08:30"), ms("2026-10-15T08:45"))
    early = (ms("2026-09-30T09:00"), ms("2026-10-01T10:00"))
    assert agreed_ms(WIDENED, [window, again, early], *OCT) == 200 * H - 3 * H


def test_downtime_pieces_are_counted_in_the_version_of_their_instant() -> None:
    evening = (ms("2026-10-05T17:00"), ms("2026-10-05T18:00"))  # v1: after hours
    later = (ms("2026-10-20T17:00"), ms("2026-10-20T18:00"))  # v2: working
    assert working_ms_each(WIDENED, [evening, later]) == [0, H]
    assert working_ms_each(NINE_TO_FIVE, [evening, later]) == [0, 0]


def test_a_correction_recorded_later_overrides_from_its_instant() -> None:
    # v3, recorded after v2, takes 24x7 from the 20th: 15-19 Oct (3 weekdays) stay v2's
    v3 = Version(3, ms("2026-10-20T00:00"), CALENDAR_24X7)
    assert agreed_ms([*WIDENED, v3], [], *OCT) == 80 * H + 3 * 10 * H + 12 * 24 * H


def test_stretches_without_a_calendar_count_in_the_fallback() -> None:
    deleted = [Version(1, None, NINE_TO_FIVE), Version(2, MID, None)]
    assert agreed_ms(deleted, [], *OCT) == 80 * H + 17 * 24 * H
    assert agreed_ms(deleted, [], *OCT, fallback=NINE_TO_FIVE) == 22 * 8 * H
    later_only = [Version(1, MID, EIGHT_TO_SIX)]
    assert agreed_ms(later_only, [], *OCT, fallback=NINE_TO_FIVE) == 200 * H


def test_an_empty_period_agrees_nothing() -> None:
    assert agreed_ms(WIDENED, [], MID, MID) == 0
    assert working_ms_in_force(WIDENED, MID, MID - 1) == 0
