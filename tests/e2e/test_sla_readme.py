"""The README's examples say what the services really answer: its 422 example is posted as
written and the answer compared with the one the README shows."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support.client import post
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.e2e
README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_422_example_is_what_ingest_answers(stack: dict[str, ServiceProcess]) -> None:
    text = README.read_text()
    block = text[text.index("Bad input gets an RFC 9457") :]
    body = re.search(r"-d '(\{.*?\})'", block, re.S)
    assert body is not None
    shown = "".join(
        line.lstrip("# ").strip()
        for line in block.splitlines()
        if line.startswith("# ") and "```" not in line
    )
    shown = shown[: shown.index("}]}") + 3]
    r = post(stack["ingest"].url, "/v1/events/monitoring", json.loads(body.group(1)))
    assert r.status_code == 422
    assert r.json() == json.loads(shown)
