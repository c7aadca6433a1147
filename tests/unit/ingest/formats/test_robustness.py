"""Whatever arrives, an adapter answers with events or a FormatError, never another exception."""

from __future__ import annotations

import itertools
import random
from typing import Any

import orjson
import pytest

from ingest.formats import alertmanager, cloudevents, grafana, jira, pagerduty, servicenow
from ingest.formats.base import FormatError
from ingest.formats.mapping import default_mapping
from tests.unit.ingest.formats.conftest import FIXTURES, NOW

ODD: list[Any] = [
    None,
    True,
    0,
    -1,
    1.5,
    "",
    "x",
    "\x00",
    [],
    {},
    [1],
    {"a": 1},
    2**62,
    1e300,
    "0001-01-01T00:00:00Z",
]


def mutations(value: Any, rng: random.Random) -> Any:
    """The fixture with one node somewhere replaced by an odd value."""
    if isinstance(value, dict) and value:
        key = rng.choice(list(value))
        if rng.random() < 0.3:
            return {**value, key: rng.choice(ODD)}
        return {**value, key: mutations(value[key], rng)}
    if isinstance(value, list) and value:
        i = rng.randrange(len(value))
        return [*value[:i], mutations(value[i], rng), *value[i + 1 :]]
    return rng.choice(ODD)


def run(fmt: str, body: bytes, headers: dict[str, str]) -> None:
    mapping = default_mapping(fmt)
    try:
        if fmt == "pagerduty":
            pagerduty.parse(body, headers, pagerduty.Context(mapping, "svc"), NOW)  # type: ignore[arg-type]
        else:
            module = {"alertmanager": alertmanager, "grafana": grafana, "cloudevents": cloudevents,
                      "jira": jira, "servicenow": servicenow}[fmt]  # fmt: skip
            module.parse(body, headers, mapping, NOW)
    except FormatError:
        pass


@pytest.mark.parametrize(
    "folder", ["alertmanager", "grafana", "pagerduty", "cloudevents", "jira", "servicenow"]
)
def test_mutated_fixtures_never_crash_an_adapter(folder: str) -> None:
    rng = random.Random(folder)
    headers = (
        {"content-type": "application/cloudevents-batch+json"} if folder == "cloudevents" else {}
    )
    for path, _ in itertools.product(sorted((FIXTURES / folder).glob("*.json")), range(150)):
        body = orjson.loads(path.read_bytes())
        run(folder, orjson.dumps(mutations(body, rng)), headers)
    for odd in ODD:
        run(folder, orjson.dumps(odd), headers)
    for junk in (b"\xff\xfe", b'{"a": 1e400}', b"[" * 2000):
        run(folder, junk, headers)
