"""Policy and calendar versions as the report reads them: records into versions, the versions
in force over a month (corrections, deletions, a policy created mid-month), clock outcomes
moved between versions in the daily aggregate, and the CSV rows."""

from datetime import date

from pacta.calendars import working_ms
from pacta.durations import parse_timestamp_ms
from reporting.domain.report import version_rows
from reporting.domain.tickets import ClockOutcome, Tally
from reporting.domain.version_counts import (
    NO_VERSION,
    by_policy_version,
    stored_key,
    sum_version_days,
    version_delta,
)
from reporting.domain.versions import (
    calendar_versions,
    month_entries,
    newest_version,
    targets_seconds,
)

OCT = (parse_timestamp_ms("2026-10-01T00:00:00Z"), parse_timestamp_ms("2026-11-01T00:00:00Z"))
MID = "2026-10-15T00:00:00Z"


def spec(p1_resolution: str | int) -> dict[str, object]:
    return {"targets": {"P1": {"response": "15m", "resolution": p1_resolution}}, "warn_at": [0.5]}


def v(number: int, since: str | None, body: object) -> dict[str, object]:
    return {"version": number, "effective_from": since, "recorded_at": "2026-09-01T00:00:00Z",
            "spec": body}  # fmt: skip


def test_targets_in_seconds_from_the_body_as_put_or_normalised() -> None:
    assert targets_seconds(spec("4h")) == {"P1": {"response": 900, "resolution": 14400}}
    assert targets_seconds(spec(7200)) == {"P1": {"response": 900, "resolution": 7200}}
    assert targets_seconds({"targets": {"P2": {"response": "nonsense"}}}) == {
        "P2": {"response": None, "resolution": None}
    }


def test_a_change_on_the_15th_cuts_the_month_in_two() -> None:
    record = {"name": "gold", "versions": [v(1, None, spec("4h")), v(2, MID, spec("2h"))]}
    first, second = month_entries("gold", record, *OCT)
    assert (first["version"], first["in_month_from"], first["in_month_until"]) == (
        1,
        "2026-10-01T00:00:00.000Z",
        "2026-10-15T00:00:00.000Z",
    )
    assert (first["effective_from"], first["effective_until"]) == (None, "2026-10-15T00:00:00.000Z")
    assert (second["effective_from"], second["effective_until"]) == (
        "2026-10-15T00:00:00.000Z",
        None,
    )
    assert second["targets"]["P1"]["resolution"] == 7200
    assert second["calendar"] == "24x7"  # the policy body's default
    assert newest_version(record) == 2


def test_a_later_change_and_a_correction_and_a_deletion() -> None:
    # v2 from the 20th (recorded first), then v3 correcting from the 10th: v2 never governs
    corrected = [v(1, None, spec("4h")), v(2, "2026-10-20T00:00:00Z", spec("2h"))]
    corrected.append(v(3, "2026-10-10T00:00:00Z", spec("3h")))
    entries = month_entries("gold", {"versions": corrected}, *OCT)
    assert [(e["version"], e["in_month_until"]) for e in entries] == [
        (1, "2026-10-10T00:00:00.000Z"),
        (3, "2026-11-01T00:00:00.000Z"),
    ]
    # a version in force after the month says when it ends even if that lies beyond the month
    later = [v(1, None, spec("4h")), v(2, "2026-12-01T00:00:00Z", spec("2h"))]
    [only] = month_entries("gold", {"versions": later}, *OCT)
    assert only["effective_until"] == "2026-12-01T00:00:00.000Z"
    gone = [v(1, None, spec("4h")), v(2, MID, None)]
    assert [(e["version"], e["deleted"], e["targets"]) for e in month_entries("g", {"versions": gone}, *OCT)] == [
        (1, False, {"P1": {"response": 900, "resolution": 14400}}),
        (2, True, {}),
    ]  # fmt: skip
    # created mid-month: nothing is in force before, and nothing is claimed for that time
    [created] = month_entries("g", {"versions": [v(1, MID, spec("4h"))]}, *OCT)
    assert created["in_month_from"] == "2026-10-15T00:00:00.000Z"


def test_a_calendar_record_without_versions_is_its_fields_since_always() -> None:
    fields = {"timezone": "UTC", "hours": {"mon": ["09:00-17:00"]}, "holidays": []}
    [only] = calendar_versions("office", {"name": "office", **fields})
    assert only.effective_from_ms is None
    assert only.value is not None
    assert working_ms(only.value, *OCT) == 4 * 8 * 3_600_000  # four Mondays in October 2026
    wide = {**fields, "hours": {"mon": ["08:00-18:00"]}}
    record = {"name": "office", **wide, "versions": [v(1, None, fields), v(2, MID, wide)]}
    first, second = calendar_versions("office", record)
    assert second.effective_from_ms == parse_timestamp_ms(MID)
    assert first.value is not None
    assert working_ms(first.value, *OCT) == 4 * 8 * 3_600_000


def clock(state: str, version: int | None, at: str = "2026-10-20T11:00:00Z") -> ClockOutcome:
    ms = parse_timestamp_ms(at)
    return ClockOutcome("T", "resolution", "shop", "P1", state, 1, 0, ms, ms if state == "breached" else None,
                        ms, policy="gold", policy_version=version)  # fmt: skip


def test_a_clock_moves_between_versions_in_the_aggregate() -> None:
    # the engine first said breached under v1, then (a correction) met under v2
    moved = sum_version_days(version_delta(clock("breached", 1), clock("met", 2)))
    assert sorted((d.policy_version, d.met, d.breached) for d in moved) == [(1, 0, -1), (2, 1, 0)]
    assert moved[0].day == date(2026, 10, 20)
    # an open clock counts nowhere; the same fact again moves nothing
    assert version_delta(None, clock("running", 2)) == []
    assert sum_version_days(version_delta(clock("met", 2), clock("met", 2))) == []
    [old] = version_delta(None, clock("met", None))
    assert (old.policy_version, stored_key(old.policy, old.policy_version)) == (
        NO_VERSION,
        ("gold", None),
    )


def test_by_policy_version_orders_and_drops_emptied_entries() -> None:
    counts = {
        ("gold", 2): {"resolution": Tally(1, 1)},
        ("gold", None): {"response": Tally(1, 0)},
        ("gold", 1): {"response": Tally(0, 0)},  # every clock moved on
    }
    assert by_policy_version(counts) == [
        {
            "policy": "gold",
            "version": None,
            "response": {"met": 1, "breached": 0, "compliance": 100.0},
            "resolution": {"met": 0, "breached": 0, "compliance": None},
        },
        {
            "policy": "gold",
            "version": 2,
            "response": {"met": 0, "breached": 0, "compliance": None},
            "resolution": {"met": 1, "breached": 1, "compliance": 50.0},
        },
    ]


def test_csv_rows_of_the_versions() -> None:
    record = {"versions": [v(1, None, spec("4h")), v(2, MID, spec("2h"))]}
    svc = {
        "policy_versions": month_entries("gold", record, *OCT),
        "tickets": {"by_policy_version": by_policy_version({("gold", 2): {"resolution": Tally(1, 1)}})},
    }  # fmt: skip
    rows = {(r[0], r[1]): r[2] for r in version_rows(svc)}
    assert rows[("policy_versions.gold v2", "targets.P1.resolution_seconds")] == 7200
    assert rows[("policy_versions.gold v1", "in_month_until")] == "2026-10-15T00:00:00.000Z"
    assert rows[("policy_versions.gold v1", "warn_at")] == "0.5"
    assert rows[("tickets.by_policy_version.gold v2", "resolution.compliance")] == 50.0
