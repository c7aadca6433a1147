"""The routing tree, Alertmanager's exactly: the root always matches, children in order, the
first match ends the scan unless `continue`, deepest matching nodes win, unset options inherit."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from alerting.domain.matchers import OPS, Matcher, go_quote, matches_all, parse_matcher_list
from pacta.durations import parse_duration

DEFAULTS = {"group_wait": "30s", "group_interval": "5m", "repeat_interval": "4h"}
GROUP_BY_ALL = "..."
MAX_DEPTH = 32


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _one_entry(value: str) -> str:
    parse_matcher_list([_no_nul(value)])  # MatcherError is a ValueError: a 422 on this entry
    return value


MatcherEntry = Annotated[str, Field(max_length=4096), AfterValidator(_one_entry)]
"""One `matchers:` entry, checked on its own so an error names its index."""


class RouteSpec(BaseModel):
    """One node of the tree as written (JSON or YAML); options left out are inherited."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    matchers: list[MatcherEntry] = Field(default_factory=list, max_length=64)
    receiver: str | None = Field(None, min_length=1, max_length=200)
    escalation: str | None = Field(None, min_length=1, max_length=200)
    group_by: list[str] | None = Field(None, max_length=64)
    group_wait: str | None = Field(None, max_length=64)
    group_interval: str | None = Field(None, max_length=64)
    repeat_interval: str | None = Field(None, max_length=64)
    continue_: bool = Field(False, alias="continue")
    mute_time_intervals: list[str] = Field(default_factory=list, max_length=32)
    active_time_intervals: list[str] = Field(default_factory=list, max_length=32)
    routes: list[RouteSpec] = Field(default_factory=list, max_length=200)

    @field_validator("receiver", "escalation")
    @classmethod
    def _clean(cls, value: str | None) -> str | None:
        return None if value is None else _no_nul(value)

    @field_validator("group_by", "mute_time_intervals", "active_time_intervals")
    @classmethod
    def _names(cls, value: list[str] | None) -> list[str] | None:
        for item in value or []:
            _no_nul(item)
            if not item.strip():
                raise ValueError("names must not be empty")
        return value

    @field_validator("group_wait")
    @classmethod
    def _wait(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(_no_nul(value), allow_zero=True)
        return value

    @field_validator("group_interval", "repeat_interval")
    @classmethod
    def _interval(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(_no_nul(value))  # zero would flush in a busy loop: refused
        return value

    @model_validator(mode="after")
    def _group_by_all_alone(self) -> RouteSpec:
        if self.group_by and GROUP_BY_ALL in self.group_by and len(self.group_by) > 1:
            raise ValueError("group_by: '...' groups by all labels and stands alone")
        return self


class RootSpec(RouteSpec):
    """The root: it matches every alert, so it has no matchers and cannot `continue`."""

    @model_validator(mode="after")
    def _root_rules(self) -> RootSpec:
        if self.matchers:
            raise ValueError("matchers: the root route matches every alert and takes none")
        if self.continue_:
            raise ValueError("continue: the root route cannot continue")
        if not self.receiver and not self.escalation:
            raise ValueError("receiver: the root route needs a receiver or an escalation")
        return self


@dataclass(frozen=True)
class Route:
    """A node with its options resolved after inheritance (durations kept as written)."""

    path: tuple[int, ...]
    key: str  # Alertmanager's route key: the matchers of the path, `{}/{team="a"}/...`
    matchers: tuple[Matcher, ...]
    receiver: str | None
    escalation: str | None
    group_by: tuple[str, ...]
    group_by_all: bool
    group_wait: str
    group_interval: str
    repeat_interval: str
    continue_: bool
    mute_time_intervals: tuple[str, ...]
    active_time_intervals: tuple[str, ...]
    routes: tuple[Route, ...]

    @property
    def path_id(self) -> str:
        return "/".join(str(i) for i in self.path) or "root"

    def seconds(self, option: str) -> int:
        return _seconds(getattr(self, option))

    def walk(self) -> Iterator[Route]:
        yield self
        for child in self.routes:
            yield from child.walk()


@lru_cache(maxsize=1024)
def _seconds(text: str) -> int:
    """A route's duration option in seconds; a tree holds a handful of distinct ones, asked
    for every group a batch of signals forms (parsing them each time showed in the drain)."""
    return parse_duration(text, allow_zero=True)


def build_tree(spec: RouteSpec) -> Route:
    """Resolve inheritance top-down as Alertmanager's NewRoute does, and key every node."""
    return _distinct_keys(_build(spec, None, ()))


def _build(spec: RouteSpec, parent: Route | None, path: tuple[int, ...]) -> Route:
    if len(path) > MAX_DEPTH:
        raise ValueError(f"routes: the tree is deeper than {MAX_DEPTH} levels")
    if parent is None:
        receiver, escalation = None, None
        group_by: tuple[str, ...] = ()
        group_by_all = False
        timing = dict(DEFAULTS)
    else:
        receiver, escalation = parent.receiver, parent.escalation
        group_by, group_by_all = parent.group_by, parent.group_by_all
        timing = {k: getattr(parent, k) for k in DEFAULTS}
    # each option on its own: unset options are inherited from the parent, except that a node
    # naming an escalation and no receiver notifies through the escalation alone (inheriting
    # the parent's receiver would page the same breach twice, under two idempotency keys)
    if spec.escalation and not spec.receiver:
        receiver, escalation = None, spec.escalation
    else:
        receiver = spec.receiver or receiver
        escalation = spec.escalation or escalation
    if spec.group_by is not None:
        group_by_all = spec.group_by == [GROUP_BY_ALL]
        group_by = () if group_by_all else tuple(dict.fromkeys(spec.group_by))
    for key in DEFAULTS:
        written = getattr(spec, key)
        if written is not None:
            timing[key] = written
    matchers = tuple(parse_matcher_list(spec.matchers))
    # sorted as Alertmanager sorts a route's matchers (name, value, then operator)
    ordered = sorted(matchers, key=lambda m: (m.name, m.value, OPS.index(m.op)))
    own = "{" + ",".join(str(m) for m in ordered) + "}"
    node = Route(
        path=path,
        key=own if parent is None else f"{parent.key}/{own}",
        matchers=matchers,
        receiver=receiver,
        escalation=escalation,
        group_by=group_by,
        group_by_all=group_by_all,
        group_wait=timing["group_wait"],
        group_interval=timing["group_interval"],
        repeat_interval=timing["repeat_interval"],
        continue_=spec.continue_,
        # as in Alertmanager, time intervals belong to the node that names them
        mute_time_intervals=tuple(spec.mute_time_intervals),
        active_time_intervals=tuple(spec.active_time_intervals),
        routes=(),
    )
    children = tuple(_build(c, node, (*path, i)) for i, c in enumerate(spec.routes))
    return replace(node, routes=children)


def _distinct_keys(root: Route) -> Route:
    """Nodes whose paths have the same matchers (siblings sending the same alerts to two
    receivers with `continue`) keep separate groups: the key gets the node's position, as
    Alertmanager's route ID does. Unique keys stay as they are, so removing a sibling never
    moves a group."""
    seen: dict[str, int] = {}
    for node in root.walk():
        seen[node.key] = seen.get(node.key, 0) + 1
    if all(n == 1 for n in seen.values()):
        return root

    def rekey(node: Route) -> Route:
        key = node.key
        if seen[key] > 1:
            key = f"{key}/{'/'.join(str(i) for i in node.path)}"
        return replace(node, key=key, routes=tuple(rekey(c) for c in node.routes))

    return rekey(root)


def match(route: Route, labels: Mapping[str, str]) -> list[Route]:
    """The nodes an alert with `labels` goes to, in tree order (Alertmanager's Route.Match)."""
    if not matches_all(route.matchers, labels):
        return []
    found: list[Route] = []
    for child in route.routes:
        hits = match(child, labels)
        found.extend(hits)
        if hits and not child.continue_:
            break
    return found or [route]


def describe(route: Route) -> dict[str, Any]:
    """One entry of `POST /v1/routes/test`'s `matches`."""
    return {
        "receiver": route.receiver,
        "escalation": route.escalation,
        "group_by": [GROUP_BY_ALL] if route.group_by_all else list(route.group_by),
        "group_wait": route.group_wait,
        "group_interval": route.group_interval,
        "repeat_interval": route.repeat_interval,
        "continue": route.continue_,
        "path": list(route.path),
    }


def references(spec: RouteSpec, where: str = "") -> Iterator[tuple[str, str, str]]:
    """(field path, kind, name) of every receiver, escalation and calendar the tree names."""
    if spec.receiver:
        yield f"{where}receiver", "receiver", spec.receiver
    if spec.escalation:
        yield f"{where}escalation", "escalation", spec.escalation
    for i, name in enumerate(spec.mute_time_intervals):
        yield f"{where}mute_time_intervals.{i}", "calendar", name
    for i, name in enumerate(spec.active_time_intervals):
        yield f"{where}active_time_intervals.{i}", "calendar", name
    for i, child in enumerate(spec.routes):
        yield from references(child, f"{where}routes.{i}.")


def group_labels(route: Route, labels: Mapping[str, str]) -> dict[str, str]:
    """The labels that name an alert's aggregation group on `route`."""
    if route.group_by_all:
        return dict(sorted(labels.items()))
    # Alertmanager leaves a group_by label the alert lacks out of the group's labels
    return {k: labels[k] for k in sorted(route.group_by) if k in labels}


def group_key(route: Route, labels: Mapping[str, str]) -> str:
    """Alertmanager's `{route key}:{group labels}`: by the path's matchers, not positions."""
    inner = ", ".join(sorted(f"{k}={go_quote(v)}" for k, v in group_labels(route, labels).items()))
    return f"{route.key}:{{{inner}}}"
