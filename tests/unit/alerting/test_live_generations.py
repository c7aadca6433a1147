"""The configuration in memory and its generations: a snapshot read before this instance's own
change committed never replaces it, and a change older than what is in force is not applied."""

from __future__ import annotations

from alerting.live import LiveConfig, replace_into


def tree(receiver: str) -> dict[str, str]:
    return {"receiver": receiver}


def snapshot(generation: int, receiver: str) -> LiveConfig:
    live = LiveConfig()
    live.set_tree(tree(receiver))
    live.generation = live.applied = generation
    return live


def test_a_snapshot_read_before_a_put_committed_does_not_bring_the_old_tree_back() -> None:
    live = snapshot(4, "old")
    stale = snapshot(4, "old")  # the refresh read this before the PUT committed
    live.patch(5, ("routes", "root"), lambda: live.set_tree(tree("new")))
    assert not replace_into(live, stale)
    assert live.tree is not None
    assert live.tree.receiver == "new"
    # a snapshot that has the change (or newer ones) is taken
    assert replace_into(live, snapshot(5, "new"))
    assert replace_into(live, snapshot(7, "newer"))
    assert live.tree.receiver == "newer"


def test_a_change_already_in_a_newer_snapshot_is_not_applied_again() -> None:
    live = snapshot(8, "from-another-instance")
    live.patch(6, ("routes", "root"), lambda: live.set_tree(tree("mine-but-older")))
    assert live.tree is not None
    assert live.tree.receiver == "from-another-instance"


def test_two_changes_of_one_resource_landing_out_of_order_keep_the_newer() -> None:
    live = snapshot(1, "a")
    live.patch(3, ("routes", "root"), lambda: live.set_tree(tree("third")))
    live.patch(2, ("routes", "root"), lambda: live.set_tree(tree("second")))
    assert live.tree is not None
    assert live.tree.receiver == "third"
    # another resource's change of generation 2 still applies
    live.patch(2, ("receiver", "x"), lambda: live.receivers.clear())
    assert live.patched == {("routes", "root"): 3, ("receiver", "x"): 2}
