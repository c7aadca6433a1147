"""bench/results.json: its schema, the merge of a phase's entries, and the table rendered from it
into docs/benchmarks.md between the markers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import render
from bench.results import BY_NAME, LEVELS, RESULTS, entry, load, record

FIELDS = {
    "name",
    "row",
    "value",
    "unit",
    "target",
    "met",
    "peer",
    "cores",
    "measured_at",
    "command",
    "note",
    "detail",
}


def test_the_committed_results_hold_one_entry_per_level_with_every_field() -> None:
    entries = json.loads(RESULTS.read_text())["entries"]
    assert [e["name"] for e in entries] == [level.name for level in LEVELS]
    for e in entries:
        assert set(e) == FIELDS, e["name"]
        level = BY_NAME[e["name"]]
        assert e["unit"] == level.unit
        assert e["target"] == f"{level.op} {level.target:g}"
        assert e["met"] == level.met(e["value"]), e["name"]
        if e["peer"] is not None:
            assert set(e["peer"]) == {"name", "value", "unit"}


def test_the_committed_table_is_up_to_date() -> None:
    doc = render.DOC.read_text()
    assert render.splice(doc, render.table(load())) == doc, "run `python -m bench.render`"


def test_met_follows_the_direction_of_the_target() -> None:
    assert entry("alerting drain", 5_000, command="c").met is True
    assert entry("alerting drain", 4_999, command="c").met is False
    assert entry("cost of an event, single", 401, command="c").met is False
    assert entry("cost of an event, single", 400, command="c").met is True
    assert entry("breaches missed or doubled", 1, command="c").met is False
    assert entry("alerting drain", None, command="c").met is None


def test_record_replaces_only_the_entries_given(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    record([entry("alerting drain", 6_000.0, command="a", peer=None)], path)
    record([entry("cost of an event, single", 900.0, command="b")], path)
    by = {e.name: e for e in load(path)}
    assert by["alerting drain"].value == 6_000.0
    assert by["alerting drain"].command == "a"
    assert by["cost of an event, single"].met is False
    assert by["sla-engine apply rate"].value is None  # never measured: a placeholder
    assert len(by) == len(LEVELS)


def test_record_refuses_a_name_that_is_no_level(tmp_path: Path) -> None:
    bad = entry("alerting drain", 1.0, command="x")
    bad.name = "something else"
    with pytest.raises(ValueError, match="something else"):
        record([bad], tmp_path / "results.json")


def test_the_table_shows_value_target_peer_and_verdict(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    record(
        [
            entry(
                "alert storm: deadline -> webhook p99, 1,000/s for 10 s",
                212.5,
                command="c",
                peer=48.0,
                note="10,000 of 10,000",
                measured_at="2026-12-07T03:40:00+00:00",
            )
        ],
        path,
    )
    table = render.table(load(path))
    line = next(x for x in table.splitlines() if x.startswith("| alert storm"))
    assert "212 ms (10,000 of 10,000)" in line
    assert "≤ 150 ms" in line
    assert "48 ms" in line
    assert "MISS" in line
    assert "2026-12-07 03:40" in line
    assert "| alerting drain | not measured |" in table


def test_splice_keeps_the_prose_around_the_markers() -> None:
    doc = f"# B\n\nprose before\n{render.BEGIN}\nold table\n{render.END}\nprose after\n"
    out = render.splice(doc, "NEW")
    assert out == f"# B\n\nprose before\n{render.BEGIN}\nNEW\n{render.END}\nprose after\n"
    assert render.splice(out, "NEW") == out


def test_splice_fails_without_markers() -> None:
    with pytest.raises(ValueError, match="markers"):
        render.splice("# no markers\n", "x")


def test_update_rewrites_the_file(tmp_path: Path) -> None:
    doc, res = tmp_path / "b.md", tmp_path / "r.json"
    doc.write_text(f"intro\n{render.BEGIN}\n{render.END}\n")
    record([entry("alerting drain", 7_000.0, command="c")], res)
    assert render.update(doc, res) is True
    assert "7,000 signals/s" in doc.read_text()
    assert render.update(doc, res) is False
