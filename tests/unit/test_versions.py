"""Which version is in force when: first versions since always, later ones from their instant,
corrections recorded later overriding from an earlier instant on, deletions."""

from pacta.versions import Version, in_effect, segments

DAY = 86_400_000
V1 = Version(1, None, "v1")
V2 = Version(2, 15 * DAY, "v2")


def test_first_version_is_in_force_since_always() -> None:
    assert in_effect([V1], -(10**12)) is V1
    assert in_effect([V2], 14 * DAY) is None


def test_a_later_version_takes_over_at_its_instant_and_not_before() -> None:
    assert in_effect([V1, V2], 15 * DAY - 1) is V1
    assert in_effect([V1, V2], 15 * DAY) is V2


def test_a_correction_recorded_later_overrides_from_its_earlier_instant() -> None:
    v3 = Version(3, 10 * DAY, "v3")
    versions = [V1, V2, v3]
    assert in_effect(versions, 9 * DAY) is V1
    assert in_effect(versions, 12 * DAY) is v3
    assert in_effect(versions, 20 * DAY) is v3  # v2 is superseded from the 10th on


def test_a_deletion_is_a_version_with_no_value() -> None:
    gone = Version(2, 5 * DAY, None)
    assert in_effect([V1, gone], 6 * DAY) is gone


def test_segments_cut_a_period_at_each_change_and_merge_the_same_version() -> None:
    v3 = Version(3, 20 * DAY, "v1 again")
    assert segments([V1, V2, v3], 0, 31 * DAY) == [
        (0, 15 * DAY, V1),
        (15 * DAY, 20 * DAY, V2),
        (20 * DAY, 31 * DAY, v3),
    ]
    assert segments([V2], 0, 31 * DAY) == [(0, 15 * DAY, None), (15 * DAY, 31 * DAY, V2)]
    assert segments([V1, V2], 16 * DAY, 17 * DAY) == [(16 * DAY, 17 * DAY, V2)]
