"""An alertmanager.yml as Pacta's configuration: what converts, what is warned about, and what
is refused outright."""

from __future__ import annotations

from typing import Any

import pytest

from alerting.importer import ImportError_, convert


def doc(**extra: Any) -> dict[str, Any]:
    return {"route": {"receiver": "r"}, "receivers": [{"name": "r"}], **extra}


def test_integrations_and_global_defaults() -> None:
    got = convert(
        {
            "global": {"slack_api_url": "https://hooks.slack.com/x", "smtp_smarthost": "[::1]:25"},
            "route": {"receiver": "all"},
            "receivers": [
                {
                    "name": "all",
                    "slack_configs": [{"channel": "#a"}],
                    "msteams_configs": [{"webhook_url": "https://teams.example/x"}],
                    "webhook_configs": [{"url": "https://hook.example/x"}],
                    "email_configs": [{"to": "a@example.org", "from": "am@example.org"}],
                }
            ],
        }
    )
    kinds = [i["type"] for i in got.receivers["all"]["integrations"]]
    assert kinds == ["slack", "msteams", "webhook", "email"]
    slack, _, _, mail = got.receivers["all"]["integrations"]
    assert slack == {"type": "slack", "url": "https://hooks.slack.com/x", "channel": "#a"}
    assert (mail["host"], mail["port"], mail["require_tls"]) == ("::1", 25, True)
    assert got.warnings == []


def test_match_and_match_re_become_matchers() -> None:
    got = convert(
        doc(
            route={
                "receiver": "r",
                "routes": [{"match": {"a": 'x"y'}, "match_re": {"b": "p.*"}, "matchers": ["c=d"]}],
            }
        )
    )
    assert got.routes["routes"][0]["matchers"] == ['a="x\\"y"', 'b=~"p.*"', "c=d"]


def test_what_cannot_be_carried_is_named() -> None:
    got = convert(
        doc(
            receivers=[
                {"name": "r", "opsgenie_configs": [{"api_key": "k"}]},
                {"name": "file", "webhook_configs": [{"url_file": "/etc/secret"}]},
                {"name": "v1", "pagerduty_configs": [{"service_key": "k"}]},
                {"name": "odd name!", "webhook_configs": [{"url": "{{ .x }}"}]},
            ],
            templates=["x.tmpl"],
        )
    )
    text = "\n".join(got.warnings)
    assert "opsgenie_configs cannot be carried over" in text
    assert "secrets read from files" in text
    assert "service_key" in text
    assert "'odd name!' is named 'odd-name'" in text
    assert "url is a template" in text
    assert got.receivers["r"] == {"integrations": []}
    assert got.emptied == ["r", "file", "odd-name"]
    assert got.receivers["v1"]["routing_key"] == "k"


def test_an_empty_inhibit_side_matches_every_alert() -> None:
    got = convert(doc(inhibit_rules=[{"source_matchers": ["a=b"], "equal": ["x"]}]))
    assert got.inhibit_rules == [
        {"source_matchers": ["a=b"], "target_matchers": ['__any__=~".*"'], "equal": ["x"]}
    ]


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ([], "body"),
        ({"receivers": []}, "route"),
        ({"route": {"receiver": "x"}, "receivers": []}, "route.receiver"),
        ({"route": {}, "receivers": [{"name": "r"}]}, "route.receiver"),
        ({"route": {"receiver": "r"}, "receivers": "r"}, "receivers"),
        (
            {"route": {"receiver": "r"}, "receivers": [{"name": "r"}, {"name": "r"}]},
            "receivers.1.name",
        ),
        (
            {
                "route": {"receiver": "r", "routes": [{"matchers": "a=b"}]},
                "receivers": [{"name": "r"}],
            },
            "route.routes.0.matchers",
        ),
    ],
)
def test_no_alertmanager_configuration_is_refused_naming_the_field(
    document: Any, field: str
) -> None:
    with pytest.raises(ImportError_) as caught:
        convert(document)
    assert caught.value.field == field
