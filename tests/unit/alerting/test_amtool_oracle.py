"""Routing judged by Alertmanager itself: random routing trees and label sets (hypothesis,
seeded and bounded), and the receivers `amtool config routes test` names for each label set
must be the ones the routing tree gives, in the same order, duplicates kept."""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerting import importer
from alerting.domain.routing import RootSpec, build_tree, match
from tests.support.amtool import routes_test

NAMES = ("a", "b", "c")
VALUES = ("", "x", "y", "X", "xy", "1")
REGEXES = ("x", "x|y", "(?i)x", "[[:alpha:]]+", "x.*", ".+", "", "\\pL", "[0-9]", ".*y")
OPS = ("=", "!=", "=~", "!~")


@st.composite
def matcher(draw: st.DrawFn) -> str:
    name, op = draw(st.sampled_from(NAMES)), draw(st.sampled_from(OPS))
    pool = REGEXES if "~" in op else VALUES
    return f'{name}{op}"{draw(st.sampled_from(pool))}"'


def route(depth: int) -> st.SearchStrategy[dict[str, Any]]:
    children = st.just([]) if depth == 0 else st.lists(route(depth - 1), max_size=3)
    return st.fixed_dictionaries(
        {
            "matchers": st.lists(matcher(), max_size=2),
            "receiver": st.sampled_from([None, "r1", "r2", "r3"]),
            "continue": st.booleans(),
            "routes": children,
        }
    )


def to_alertmanager(node: dict[str, Any], root: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if node["matchers"] and not root:
        out["matchers"] = node["matchers"]
    if node["receiver"] or root:
        out["receiver"] = node["receiver"] or "r0"
    if node["continue"] and not root:
        out["continue"] = True
    if node["routes"]:
        out["routes"] = [to_alertmanager(c) for c in node["routes"]]
    return out


LABEL_SETS = [
    dict(zip(NAMES, combo, strict=True))
    for combo in itertools.product(("x", "y", "X", "1", "é"), repeat=3)
]


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(tree=route(3), picks=st.lists(st.sampled_from(LABEL_SETS), min_size=4, max_size=6))
def test_random_trees_route_as_amtool_routes(
    tree: dict[str, Any], picks: list[dict[str, str]]
) -> None:
    document = {
        "route": to_alertmanager(tree, root=True),
        "receivers": [{"name": n} for n in ("r0", "r1", "r2", "r3")],
    }
    # the tree goes through the import, as an Alertmanager user's would
    ours = build_tree(RootSpec.model_validate(importer.convert(document).routes))
    with tempfile.TemporaryDirectory() as work:
        config = Path(work) / "alertmanager.yml"
        config.write_text(yaml.safe_dump(document))
        for labels in [{}, {"a": "x"}, *picks]:
            present = {k: v for k, v in labels.items() if v}
            got = [r.receiver for r in match(ours, present)]
            assert got == routes_test(config, present), (document, present)
