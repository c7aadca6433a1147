"""Inhibition and silences judged by a real Alertmanager: hypothesis draws inhibit rules,
silences and alerts (seeded, a few dozen examples); Alertmanager's API v2 says which alerts
are inhibited (`status.inhibitedBy`) and silenced (`status.silencedBy`), and which silences it
takes at all, and Pacta's rules must say the same."""

from __future__ import annotations

import itertools
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from alerting.domain.matchers import parse_matcher_list
from alerting.domain.muting import InhibitRule, Silence, inhibited, silenced_by
from alerting.specs import SilenceSpec
from tests.support.amtool import RealAlertmanager

NAMES = ("a", "b", "c")
VALUES = ("", "x", "y", "X")
REGEXES = ("x", "x|y", "(?i)x", ".*", ".+", "", "[[:alpha:]]+", "y.*")
OPS = ("=", "!=", "=~", "!~")
RUNS = itertools.count(1)
SETTLE_S = 5.0

SLOW = settings(
    max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)


@pytest.fixture(scope="module")
def alertmanager() -> Iterator[RealAlertmanager]:
    with tempfile.TemporaryDirectory(prefix="pacta-am-") as work:
        am = RealAlertmanager(Path(work))
        try:
            yield am
        finally:
            am.stop()


@st.composite
def matcher(draw: st.DrawFn) -> tuple[str, str, str]:
    name, op = draw(st.sampled_from(NAMES)), draw(st.sampled_from(OPS))
    return name, op, draw(st.sampled_from(REGEXES if "~" in op else VALUES))


def text(m: tuple[str, str, str]) -> str:
    return f'{m[0]}{m[1]}"{m[2]}"'


labels = st.fixed_dictionaries({n: st.sampled_from(VALUES) for n in NAMES})
rule = st.fixed_dictionaries(
    {
        "source": st.lists(matcher(), min_size=1, max_size=2),
        "target": st.lists(matcher(), min_size=1, max_size=2),
        "equal": st.lists(st.sampled_from(NAMES), max_size=2, unique=True),
    }
)


def alert_labels(run: int, i: int, drawn: dict[str, str]) -> dict[str, str]:
    # Alertmanager drops empty label values: a missing label and "" are the same to both
    return {"alertname": "Oracle", "run": str(run), "i": str(i)} | {
        k: v for k, v in drawn.items() if v
    }


def settled(am: RealAlertmanager, run: int, n: int, expect: dict[str, bool], key: str) -> None:
    """Poll Alertmanager until it agrees or the deadline passes, then assert what it says
    (its inhibitor learns of new alerts asynchronously)."""
    deadline = time.monotonic() + SETTLE_S
    while True:
        got = {a["labels"]["i"]: bool(a["status"][key]) for a in am.alerts(run=str(run))}
        if (len(got) == n and got == expect) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert got == expect


@SLOW
@given(rules=st.lists(rule, min_size=1, max_size=2), drawn=st.lists(labels, min_size=2, max_size=5))
def test_inhibition_as_alertmanager(
    alertmanager: RealAlertmanager, rules: list[dict[str, Any]], drawn: list[dict[str, str]]
) -> None:
    run = next(RUNS)
    # `run` in every rule's equal keeps earlier examples' alerts out of this one
    alertmanager.reload(
        {
            "inhibit_rules": [
                {
                    "source_matchers": [text(m) for m in r["source"]],
                    "target_matchers": [text(m) for m in r["target"]],
                    "equal": [*r["equal"], "run"],
                }
                for r in rules
            ]
        }
    )
    ours = [
        InhibitRule(
            tuple(parse_matcher_list([text(m) for m in r["source"]])),
            tuple(parse_matcher_list([text(m) for m in r["target"]])),
            (*r["equal"], "run"),
        )
        for r in rules
    ]
    alerts = [alert_labels(run, i, d) for i, d in enumerate(drawn)]
    alertmanager.post_alerts(alerts)
    firing = [(a["i"], a) for a in alerts]
    expect = {a["i"]: inhibited(ours, a["i"], a, firing) for a in alerts}
    settled(alertmanager, run, len(alerts), expect, "inhibitedBy")


def am_matcher(m: tuple[str, str, str]) -> dict[str, Any]:
    return {"name": m[0], "value": m[2], "isRegex": "~" in m[1], "isEqual": "!" not in m[1]}


@SLOW
@given(
    silence=st.lists(matcher(), min_size=1, max_size=3),
    drawn=st.lists(labels, min_size=1, max_size=4),
)
def test_silences_as_alertmanager(
    alertmanager: RealAlertmanager, silence: list[tuple[str, str, str]], drawn: list[dict[str, str]]
) -> None:
    run = next(RUNS)
    alertmanager.reload({})
    # taken or refused alike (a silence whose matchers all match "" is refused by both)
    answer = alertmanager.add_silence([am_matcher(m) for m in silence])
    try:
        SilenceSpec.model_validate(
            {"matchers": [text(m) for m in silence], "ends_at": "2099-01-01T00:00:00Z"}
        )
        taken = True
    except ValidationError:
        taken = False
    assert (answer.status_code == 200) == taken, answer.text
    if taken:
        alertmanager.expire_silence(answer.json()["silenceID"])
    # which alerts a silence mutes (scoped to this example's alerts by a `run` matcher)
    scoped = [*silence, ("run", "=", str(run))]
    answer = alertmanager.add_silence([am_matcher(m) for m in scoped])
    assert answer.status_code == 200, answer.text
    ours = Silence("s", tuple(parse_matcher_list([text(m) for m in scoped])), 0, 2**62)
    alerts = [alert_labels(run, i, d) for i, d in enumerate(drawn)]
    alertmanager.post_alerts(alerts)
    expect = {a["i"]: bool(silenced_by([ours], a, 1)) for a in alerts}
    settled(alertmanager, run, len(alerts), expect, "silencedBy")
    alertmanager.expire_silence(answer.json()["silenceID"])
