"""The routing tree against Alertmanager's dispatch/route_test.go: matching order, `continue`,
deepest nodes, inheritance of unset options, defaults, `...`, and the /v1/routes/test shape."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from alerting.domain.routing import RootSpec, build_tree, describe, group_key, match

TREE: dict[str, Any] = {
    "receiver": "notify-def",
    "routes": [
        {
            "matchers": ['owner="team-A"'],
            "receiver": "notify-A",
            "routes": [
                {"matchers": ["env=testing"], "receiver": "notify-testing", "group_by": ["..."]},
                {
                    "matchers": ["env=production"],
                    "receiver": "notify-productionA",
                    "group_wait": "1m",
                    "continue": True,
                },
                {
                    "matchers": ['env=~"produ.*", job=~".*"'],
                    "receiver": "notify-productionB",
                    "group_wait": "30s",
                    "group_interval": "5m",
                    "repeat_interval": "1h",
                    "group_by": ["job"],
                },
            ],
        },
        {
            "matchers": ['owner=~"team-(B|C)"'],
            "group_by": ["foo", "bar"],
            "group_wait": "2m",
            "receiver": "notify-BC",
        },
        {
            "matchers": ["group_by=role"],
            "group_by": ["role"],
            "routes": [
                {
                    "matchers": ["env=testing"],
                    "receiver": "notify-testing",
                    "routes": [{"matchers": ["wait=long"], "group_wait": "2m"}],
                }
            ],
        },
    ],
}


def routes_for(labels: dict[str, str]) -> list[dict[str, Any]]:
    return [describe(r) for r in match(build_tree(RootSpec.model_validate(TREE)), labels)]


def opts(receiver: str, group_by: list[str] | None = None, **timing: str) -> dict[str, Any]:
    return {
        "receiver": receiver,
        "group_by": group_by or [],
        "group_wait": timing.get("group_wait", "30s"),
        "group_interval": timing.get("group_interval", "5m"),
        "repeat_interval": timing.get("repeat_interval", "4h"),
    }


def strip(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    keep = ("receiver", "group_by", "group_wait", "group_interval", "repeat_interval")
    return [{k: f[k] for k in keep} for f in found]


@pytest.mark.parametrize(
    ("labels", "expected", "paths"),
    [
        ({"owner": "team-A"}, [opts("notify-A")], [[0]]),
        ({"owner": "team-A", "env": "unset"}, [opts("notify-A")], [[0]]),
        ({"owner": "team-C"}, [opts("notify-BC", ["foo", "bar"], group_wait="2m")], [[1]]),
        ({"owner": "team-A", "env": "testing"}, [opts("notify-testing", ["..."])], [[0, 0]]),
        (
            # continue: the first production route matches and lets the next one match too
            {"owner": "team-A", "env": "production"},
            [
                opts("notify-productionA", group_wait="1m"),
                opts("notify-productionB", ["job"], repeat_interval="1h"),
            ],
            [[0, 1], [0, 2]],
        ),
        ({"group_by": "role"}, [opts("notify-def", ["role"])], [[2]]),
        ({"group_by": "role", "env": "testing"}, [opts("notify-testing", ["role"])], [[2, 0]]),
        (
            {"group_by": "role", "env": "testing", "wait": "long"},
            [opts("notify-testing", ["role"], group_wait="2m")],
            [[2, 0, 0]],
        ),
        ({"owner": "nobody"}, [opts("notify-def")], [[]]),
        ({}, [opts("notify-def")], [[]]),
    ],
)
def test_routes_as_alertmanager(
    labels: dict[str, str], expected: list[dict[str, Any]], paths: list[list[int]]
) -> None:
    found = routes_for(labels)
    assert strip(found) == expected
    assert [f["path"] for f in found] == paths


def test_first_match_ends_the_scan_without_continue() -> None:
    tree = build_tree(
        RootSpec.model_validate(
            {
                "receiver": "root",
                "routes": [
                    {"matchers": ["kind=breach"], "receiver": "a"},
                    {"matchers": ["kind=breach"], "receiver": "b"},
                ],
            }
        )
    )
    assert [r.receiver for r in match(tree, {"kind": "breach"})] == ["a"]


def test_continue_on_every_node_collects_all_in_tree_order() -> None:
    tree = build_tree(
        RootSpec.model_validate(
            {
                "receiver": "root",
                "routes": [
                    {"matchers": ["kind=breach"], "receiver": "a", "continue": True},
                    {"matchers": ["priority=P1"], "receiver": "b", "continue": True},
                    {"matchers": ["kind=warning"], "receiver": "c"},
                ],
            }
        )
    )
    found = match(tree, {"kind": "breach", "priority": "P1"})
    assert [(r.receiver, r.continue_) for r in found] == [("a", True), ("b", True)]


def test_a_matching_parent_whose_children_do_not_match_is_the_deepest_node() -> None:
    tree = build_tree(
        RootSpec.model_validate(
            {
                "receiver": "root",
                "routes": [
                    {
                        "matchers": ["service=checkout"],
                        "receiver": "checkout-team",
                        "routes": [{"matchers": ["priority=P1"], "escalation": "page"}],
                    }
                ],
            }
        )
    )
    [node] = match(tree, {"service": "checkout", "priority": "P3"})
    assert node.path == (0,)
    assert node.receiver == "checkout-team"
    [deep] = match(tree, {"service": "checkout", "priority": "P1"})
    # a node naming an escalation and no receiver notifies through the escalation alone
    assert deep.path == (0, 0)
    assert deep.receiver is None
    assert deep.escalation == "page"


def test_group_keys_by_group_by() -> None:
    tree = build_tree(RootSpec.model_validate({"receiver": "r", "group_by": ["service"]}))
    a = group_key(tree, {"service": "checkout", "ticket_id": "1"})
    b = group_key(tree, {"service": "checkout", "ticket_id": "2"})
    c = group_key(tree, {"service": "search", "ticket_id": "1"})
    assert a == b != c
    every = build_tree(RootSpec.model_validate({"receiver": "r", "group_by": ["..."]}))
    assert group_key(every, {"ticket_id": "1"}) != group_key(every, {"ticket_id": "2"})
    none = build_tree(RootSpec.model_validate({"receiver": "r"}))
    assert group_key(none, {"ticket_id": "1"}) == group_key(none, {"ticket_id": "2"})


@pytest.mark.parametrize(
    ("tree", "field"),
    [
        ({"receiver": "r", "matchers": ["a=b"]}, "matchers"),
        ({"receiver": "r", "continue": True}, "continue"),
        ({}, "receiver"),
        ({"receiver": "r", "group_wait": "soon"}, "group_wait"),
        ({"receiver": "r", "group_interval": "0s"}, "group_interval"),
        ({"receiver": "r", "routes": [{"matchers": ['a=~"("']}]}, "matchers"),
        ({"receiver": "r", "routes": [{"matchers": ["a"]}]}, "matchers"),
        ({"receiver": "r", "group_by": ["...", "x"]}, "group_by"),
        ({"receiver": "r", "unknown": 1}, "unknown"),
    ],
)
def test_bad_trees_are_refused(tree: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        RootSpec.model_validate(tree)
    assert field in str(info.value)


def test_group_wait_may_be_zero() -> None:
    tree = build_tree(RootSpec.model_validate({"receiver": "r", "group_wait": "0s"}))
    assert tree.seconds("group_wait") == 0


def test_a_node_naming_an_escalation_and_no_receiver_notifies_through_the_escalation_alone() -> (
    None
):
    tree = build_tree(
        RootSpec.model_validate(
            {
                "receiver": "team-mail",
                "routes": [
                    {"matchers": ["kind=breach"], "escalation": "oncall"},
                    {"matchers": ["kind=warning"], "receiver": "chat"},
                ],
            }
        )
    )
    [hit] = match(tree, {"kind": "breach"})
    assert hit.receiver is None
    assert hit.escalation == "oncall"
    [hit] = match(tree, {"kind": "warning"})
    assert hit.receiver == "chat"
    assert hit.escalation is None


def test_children_of_an_escalation_only_node_inherit_that_rule() -> None:
    tree = build_tree(
        RootSpec.model_validate(
            {
                "receiver": "team-mail",
                "routes": [
                    {
                        "matchers": ["kind=breach"],
                        "escalation": "oncall",
                        "routes": [
                            {"matchers": ["priority=P1"]},
                            {"matchers": ["priority=P2"], "receiver": "chat"},
                        ],
                    }
                ],
            }
        )
    )
    [p1] = match(tree, {"kind": "breach", "priority": "P1"})
    assert (p1.receiver, p1.escalation) == (None, "oncall")
    [p2] = match(tree, {"kind": "breach", "priority": "P2"})
    assert (p2.receiver, p2.escalation) == ("chat", "oncall")


def test_a_node_naming_both_notifies_both() -> None:
    tree = build_tree(RootSpec.model_validate({"receiver": "team-mail", "escalation": "oncall"}))
    [root] = match(tree, {})
    assert (root.receiver, root.escalation) == ("team-mail", "oncall")


def test_group_keys_are_alertmanagers_path_of_matchers() -> None:
    spec = {
        "receiver": "r",
        "group_by": ["service"],
        "routes": [
            {"matchers": ["team=a"], "receiver": "a"},
            {
                "matchers": ['team="b"', 'env=~"prod|staging"'],
                "receiver": "b",
                "routes": [{"matchers": ["kind=breach"], "receiver": "c"}],
            },
        ],
    }
    tree = build_tree(RootSpec.model_validate(spec))
    labels = {"team": "b", "env": "prod", "kind": "breach", "service": "checkout"}
    [hit] = match(tree, labels)
    assert group_key(hit, labels) == (
        '{}/{env=~"prod|staging",team="b"}/{kind="breach"}:{service="checkout"}'
    )
    [root] = match(tree, {"team": "z"})
    assert group_key(root, {"team": "z"}) == "{}:{}"


def test_removing_a_sibling_never_moves_a_group() -> None:
    child_b = {"matchers": ["team=b"], "receiver": "b", "group_by": ["service", "x"]}
    before = build_tree(
        RootSpec.model_validate(
            {"receiver": "r", "routes": [{"matchers": ["team=a"], "receiver": "a"}, child_b]}
        )
    )
    after = build_tree(RootSpec.model_validate({"receiver": "r", "routes": [child_b]}))
    labels = {"team": "b", "service": "s", "x": 'q"1'}
    [old] = match(before, labels)
    [new] = match(after, labels)
    assert old.path != new.path
    assert group_key(old, labels) == group_key(new, labels)


def test_siblings_with_the_same_matchers_keep_separate_groups() -> None:
    # two receivers for the same alerts (`continue`): the same path of matchers, two groups
    tree = build_tree(
        RootSpec.model_validate(
            {
                "receiver": "r",
                "routes": [
                    {"matchers": ["team=a"], "receiver": "a", "continue": True},
                    {"matchers": ["team=a"], "receiver": "b"},
                ],
            }
        )
    )
    first, second = match(tree, {"team": "a"})
    assert group_key(first, {}) != group_key(second, {})
