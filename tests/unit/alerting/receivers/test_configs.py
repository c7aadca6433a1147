"""Receiver configs refuse bad input with an error naming the field, and hide their secrets."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
import trustme
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from alerting.receivers import TYPES, email, msteams, pagerduty, slack

GOOD: dict[str, dict[str, Any]] = {
    "slack": {"type": "slack", "url": "https://hooks.slack.com/services/T/B/x"},
    "msteams": {"type": "msteams", "url": "https://example.webhook.office.com/webhookb2/x"},
    "pagerduty": {"type": "pagerduty", "routing_key": "0123456789abcdef0123456789abcdef"},
    "email": {
        "type": "email",
        "host": "smtp.example.com",
        "from": "alerts@example.com",
        "to": ["oncall@example.com"],
    },
}
MODULES = {"slack": slack, "msteams": msteams, "pagerduty": pagerduty, "email": email}


def _refused(kind: str, **changes: Any) -> list[str]:
    """The locations (dotted) and messages of the errors the config gives."""
    with pytest.raises(ValidationError) as caught:
        MODULES[kind].Config.model_validate({**GOOD[kind], **changes})
    return [".".join(map(str, e["loc"])) + ": " + e["msg"] for e in caught.value.errors()]


@pytest.mark.parametrize("kind", sorted(GOOD))
def test_good_configs_are_taken(kind: str) -> None:
    config = MODULES[kind].Config.model_validate(GOOD[kind])
    assert config.type == kind


def test_every_registered_type_has_a_config_and_build() -> None:
    for name, module in TYPES.items():
        assert module.Config.model_fields["type"].annotation.__args__ == (name,)
        assert callable(module.build)


@pytest.mark.parametrize("kind", sorted(GOOD))
def test_unknown_fields_are_refused(kind: str) -> None:
    (error,) = _refused(kind, colour="red")
    assert error.startswith("colour: Extra inputs are not permitted")


@pytest.mark.parametrize("kind", ["slack", "msteams"])
@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://hooks.example.com/x", "must be an http:// or https:// URL"),
        ("javascript:alert(1)", "must be an http:// or https:// URL"),
        ("https:///no-host", "must name a host"),
        ("https://hooks.example.com/a\x00b", "must not contain NUL"),
        ("https://hooks.example.com/a b", "must not contain white space"),
        ("https://hooks.example.com:99999/x", "has a bad port"),
        ("", "String should have at least 1 character"),
    ],
)
def test_webhook_urls_are_checked(kind: str, url: str, message: str) -> None:
    (error,) = _refused(kind, url=url)
    assert error.startswith("url: ")
    assert message in error


def test_pagerduty_fields_are_checked() -> None:
    assert _refused("pagerduty", routing_key="")[0].startswith("routing_key: ")
    assert "NUL" in _refused("pagerduty", routing_key="abc\x00")[0]
    assert _refused("pagerduty", url="gopher://x")[0].startswith("url: ")
    assert _refused("pagerduty", client_url="nope")[0].startswith("client_url: ")
    assert pagerduty.Config.model_validate(GOOD["pagerduty"]).url == pagerduty.EVENTS_URL


def test_slack_optional_fields_are_checked() -> None:
    assert _refused("slack", channel="#a\nb")[0].startswith("channel: ")
    assert _refused("slack", icon_emoji="siren")[0].startswith("icon_emoji: ")


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"to": []}, "to", "at least 1 item"),
        ({"to": "oncall@example.com"}, "to", "valid list"),
        ({"to": ["not-an-address"]}, "to.0", "not a valid e-mail address"),
        ({"to": ["a@example.com, b@example.com"]}, "to.0", "must be one e-mail address"),
        ({"to": ["a@example.com\r\nBcc: x@evil.example"]}, "to.0", "control characters"),
        ({"from": "nobody"}, "from", "not a valid e-mail address"),
        ({"from": "a\x00@example.com"}, "from", "NUL"),
        ({"port": 0}, "port", "greater than or equal to 1"),
        ({"port": 65536}, "port", "less than or equal to 65535"),
        ({"host": "smtp.example.com\x00"}, "host", "pattern"),
        ({"host": "smtp://x"}, "host", "pattern"),
        ({"hello": "bad name"}, "hello", "pattern"),
        ({"tls_ca_pem": "not a certificate"}, "tls_ca_pem", "not a PEM certificate bundle"),
        ({"tls_ca_pem": "\x80"}, "tls_ca_pem", "PEM is ASCII"),
        ({"require_tls": "maybe"}, "require_tls", "valid boolean"),
    ],
)
def test_email_fields_are_checked(changes: dict[str, Any], field: str, message: str) -> None:
    errors = _refused("email", **changes)
    assert any(e.startswith(f"{field}: ") and message in e for e in errors), errors


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"username": "pacta"}, "password"),
        ({"password": "s3cret"}, "username"),
        ({"require_tls": False, "tls_insecure_skip_verify": True}, "tls_insecure_skip_verify"),
        ({"require_tls": False, "tls_ca_pem": "PEM"}, "tls_ca_pem"),
    ],
)
def test_email_options_that_would_do_nothing_are_refused(
    changes: dict[str, Any], named: str
) -> None:
    if "tls_ca_pem" in changes:
        changes["tls_ca_pem"] = trustme.CA().cert_pem.bytes().decode()
    errors = _refused("email", **changes)
    assert any(named in e for e in errors), errors


def test_email_takes_display_names_internal_domains_and_a_ca() -> None:
    ca = trustme.CA().cert_pem.bytes().decode()
    config = email.Config.model_validate(
        {
            **GOOD["email"],
            "from": "Pacta <alerts@example.com>",
            "to": ["On-call <oncall@corp.internal>", "root@mailhost"],
            "port": 25,
            "tls_ca_pem": ca,
        }
    )
    assert config.to == ["On-call <oncall@corp.internal>", "root@mailhost"]
    assert config.model_dump()["from"] == "Pacta <alerts@example.com>"  # the alias, as sent


@pytest.mark.parametrize(
    ("kind", "secret", "value"),
    [
        ("slack", "url", GOOD["slack"]["url"]),
        ("msteams", "url", GOOD["msteams"]["url"]),
        ("pagerduty", "routing_key", GOOD["pagerduty"]["routing_key"]),
        ("email", "password", "s3cret-pass"),
    ],
)
def test_secrets_are_listed_and_kept_out_of_repr(kind: str, secret: str, value: str) -> None:
    module = MODULES[kind]
    body = {**GOOD[kind], secret: value}
    if kind == "email":
        body["username"] = "pacta"
    config = module.Config.model_validate(body)
    secrets = module.Config.SECRET_FIELDS
    assert secrets == {secret}
    assert value not in repr(config)
    assert value not in str(config)


def test_email_implicit_tls_follows_port_465_unless_set() -> None:
    assert email.Config.model_validate({**GOOD["email"], "port": 465}).smtps
    assert not email.Config.model_validate({**GOOD["email"], "port": 587}).smtps
    forced = {**GOOD["email"], "port": 2465, "implicit_tls": True}
    assert email.Config.model_validate(forced).smtps
    off = {**GOOD["email"], "port": 465, "implicit_tls": False}
    assert not email.Config.model_validate(off).smtps
    # with implicit TLS the verification options apply even when STARTTLS is not required
    smtps = {**GOOD["email"], "port": 465, "require_tls": False, "tls_insecure_skip_verify": True}
    assert email.Config.model_validate(smtps).tls_insecure_skip_verify


@pytest.mark.parametrize(("kind", "secret"), [("slack", "url"), ("pagerduty", "routing_key")])
def test_secrets_are_required_where_they_are_the_destination(kind: str, secret: str) -> None:
    body = {k: v for k, v in GOOD[kind].items() if k != secret}
    with pytest.raises(ValidationError) as caught:
        MODULES[kind].Config.model_validate(body)
    assert [e["loc"] for e in caught.value.errors()] == [(secret,)]


@pytest.mark.parametrize("kind", sorted(GOOD))
def test_secrets_are_write_only_in_the_json_schema(kind: str) -> None:
    module = MODULES[kind]
    properties = module.Config.model_json_schema()["properties"]
    assert {name for name, p in properties.items() if p.get("writeOnly")} == set(
        module.Config.SECRET_FIELDS
    )


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6,
)


@pytest.mark.parametrize("kind", sorted(GOOD))
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_any_body_is_either_taken_or_refused_with_a_validation_error(
    kind: str, data: st.DataObject
) -> None:
    fields = [*MODULES[kind].Config.model_json_schema()["properties"], "extra"]
    changes = data.draw(st.dictionaries(st.sampled_from(fields), JSONISH, max_size=4))
    # the API answers 422 with a ValidationError's errors; any other exception would be a 500
    with contextlib.suppress(ValidationError):
        MODULES[kind].Config.model_validate({**GOOD[kind], **changes, "type": kind})
