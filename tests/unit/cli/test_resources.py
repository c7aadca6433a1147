"""`pacta apply`'s comparison: what counts as a change, and the diff it shows."""

from __future__ import annotations

from pathlib import Path

import pytest

from pacta_cli.resources import Resource, differs, read_folder, render_diff, same, seconds


def policy(body: dict[str, object]) -> Resource:
    return Resource("policies", "gold", body, Path("sla.yaml"))


STORED = {
    "name": "gold",
    "version": 3,
    "origin": "api",
    "effective_from": None,
    "match": {"service": "checkout", "customer": None, "type": None},
    "calendar": "24x7",
    "targets": {"P1": {"response": 900, "resolution": 14400}},
    "pause_statuses": ["pending", "waiting_for_customer"],
    "warn_at": [0.5, 0.75, 0.9],
    "availability": None,
    "warn_before": [],
}


def test_durations_compare_in_seconds_and_sets_unordered() -> None:
    assert seconds("4h30m") == 16200
    assert seconds("PT4H") == 14400
    assert seconds("soon") is None
    assert same("15m", 900)
    assert not same("16m", 900)
    assert same(["waiting_for_customer", "pending"], ["pending", "waiting_for_customer"])
    assert same("s3cret", "<set>")  # a write-only secret cannot be compared


def test_the_file_as_the_server_stores_it_is_no_change() -> None:
    body = {
        "match": {"service": "checkout"},
        "targets": {"P1": {"response": "15m", "resolution": "4h"}},
        "pause_statuses": ["waiting_for_customer", "pending"],
    }
    assert not differs(policy(body), STORED)
    assert differs(policy(body), None)
    changed = {**body, "targets": {"P1": {"response": "15m", "resolution": "2h"}}}
    assert differs(policy(changed), STORED)
    diff = render_diff(policy(changed), STORED)
    assert "-    resolution: 4h\n" in diff
    assert "+    resolution: 2h\n" in diff
    assert "response" not in [
        line[1:].strip().split(":")[0]
        for line in diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def test_a_field_left_out_returns_to_its_default() -> None:
    body = {
        "match": {"service": "checkout"},
        "targets": {"P1": {"response": "15m", "resolution": "4h"}},
    }
    # the server pauses on statuses the file no longer lists: applying removes them
    assert differs(policy(body), STORED)
    assert "pause_statuses" in render_diff(policy(body), STORED)


def test_folders_are_read_in_reference_order(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("route: {receiver: r}\npolicies: {p: {calendar: c}}\n")
    (tmp_path / "b.yml").write_text("calendars: {c: {timezone: UTC}}\nreceivers: {r: {type: x}}\n")
    order = [r.label for r in read_folder(tmp_path)]
    assert order == ["calendars/c", "policies/p", "receivers/r", "route"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("services: {}\n", "unknown sections ['services']"),
        ("- 1\n", "the top level must be a mapping"),
        ("policies: [1]\n", "policies: must be a mapping of name -> body"),
        ("route: [1]\n", "route: must be a mapping"),
    ],
)
def test_malformed_files_are_named(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "x.yaml").write_text(text)
    with pytest.raises(ValueError, match=r"x\.yaml") as caught:
        read_folder(tmp_path)
    assert message in str(caught.value)


def test_a_resource_defined_twice_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("policies: {p: {calendar: c}}\n")
    (tmp_path / "b.yaml").write_text("policies: {p: {calendar: d}}\n")
    with pytest.raises(ValueError, match="also defined in"):
        read_folder(tmp_path)


def test_inhibit_rules_compare_with_the_items_the_server_lists() -> None:
    rules = [{"source_matchers": ["kind=availability_breach"], "equal": ["service"]}]
    resource = Resource("inhibit_rules", "all", rules, Path("a.yaml"))
    stored = {"items": [{**rules[0], "target_matchers": ["kind=warning"]}]}
    assert not differs(resource, stored)
    assert differs(resource, {"items": []})
