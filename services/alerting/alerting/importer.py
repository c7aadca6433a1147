"""An Alertmanager configuration (`alertmanager.yml`) as Pacta's receivers, routing tree and
inhibit rules, with a warning for everything that cannot be carried over (never dropped
silently). Pure: the caller validates the result and stores it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from alerting.domain.matchers import go_quote
from pacta.durations import parse_duration

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
MAX_NODES = 50_000
CONVERTED = frozenset(
    {"email_configs", "webhook_configs", "slack_configs", "pagerduty_configs", "msteams_configs"}
)
ROUTE_KEYS = {"receiver", "group_by", "group_wait", "group_interval", "repeat_interval"}
ROUTE_KEYS |= {"continue", "matchers", "match", "match_re", "routes"}
ROUTE_KEYS |= {"mute_time_intervals", "active_time_intervals"}


class ImportError_(ValueError):
    """The document is not an Alertmanager configuration at all (a 422 naming `field`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


@dataclass
class Imported:
    receivers: dict[str, dict[str, Any]] = field(default_factory=dict)
    routes: dict[str, Any] = field(default_factory=dict)
    inhibit_rules: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    emptied: list[str] = field(default_factory=list)  # receivers left with no integration


def convert(document: Any) -> Imported:
    if not isinstance(document, Mapping):
        raise ImportError_("body", "must be an Alertmanager configuration (a YAML mapping)")
    _check_size(document)
    out = Imported()
    glob = _mapping(document.get("global"), "global")
    for key in ("templates", "time_intervals", "mute_time_intervals"):
        if document.get(key):
            out.warnings.append(_NOT_CARRIED[key])
    names = _names(document.get("receivers"), out)
    for i, spec in enumerate(document.get("receivers") or []):
        if isinstance(spec, Mapping) and isinstance(spec.get("name"), str):
            _receiver(names[spec["name"]], spec, glob, out, i)
    route = document.get("route")
    if not isinstance(route, Mapping):
        raise ImportError_("route", "is required (the root route)")
    out.routes = _route(route, names, out, "route", root=True)
    for i, rule in enumerate(document.get("inhibit_rules") or []):
        converted = _inhibit(rule, out, f"inhibit_rules.{i}")
        if converted is not None:
            out.inhibit_rules.append(converted)
    return out


_NOT_CARRIED = {
    "templates": "templates: not carried over; Pacta renders its own notifications "
    "(docs/receivers.md)",
    "time_intervals": "time_intervals: not carried over; define them as business calendars "
    "in the sla-engine (PUT /v1/calendars/{name}) and name those in the routes",
    "mute_time_intervals": "mute_time_intervals (top level): not carried over; define them as "
    "business calendars in the sla-engine",
}


def _check_size(document: Any) -> None:
    # YAML anchors may share one node many times: count what a walk would visit
    stack, seen = [document], 0
    while stack:
        node = stack.pop()
        seen += 1
        if seen > MAX_NODES:
            raise ImportError_("body", f"more than {MAX_NODES} values")
        if isinstance(node, Mapping):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ImportError_(where, "must be a mapping")
    return value


def _names(receivers: Any, out: Imported) -> dict[str, str]:
    """Alertmanager's names as Pacta names (letters, digits, `.`, `_`, `-`)."""
    if receivers is not None and not isinstance(receivers, list):
        raise ImportError_("receivers", "must be a list")
    names: dict[str, str] = {}
    taken: set[str] = set()
    for i, spec in enumerate(receivers or []):
        name = spec.get("name") if isinstance(spec, Mapping) else None
        if not isinstance(name, str) or not name:
            raise ImportError_(f"receivers.{i}.name", "is required")
        if name in names:
            raise ImportError_(f"receivers.{i}.name", f"{name!r} is defined twice")
        pacta = name if NAME.match(name) else _clean(name)
        while pacta in taken:
            pacta = f"{pacta}-{i}"[:128]
        if pacta != name:
            out.warnings.append(f"receivers.{i}: {name!r} is named {pacta!r} in Pacta")
        names[name] = pacta
        taken.add(pacta)
    return names


def _clean(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-._") or "receiver"
    return cleaned[:128]


def _receiver(
    name: str, spec: Mapping[str, Any], glob: Mapping[str, Any], out: Imported, i: int
) -> None:
    where = f"receivers.{i} ({spec['name']})"
    integrations: list[dict[str, Any]] = []
    dropped = False
    for key, configs in spec.items():
        if key == "name" or not configs:
            continue
        if key not in CONVERTED:
            out.warnings.append(f"{where}: {key} cannot be carried over (no such receiver type)")
            dropped = True
            continue
        for j, config in enumerate(configs if isinstance(configs, list) else [configs]):
            at = f"{where}.{key}.{j}"
            body = _integration(key, _mapping(config, at), glob, out, at)
            if body is None:
                dropped = True
            else:
                integrations.append(body)
    if len(integrations) == 1:
        out.receivers[name] = integrations[0]
        return
    out.receivers[name] = {"integrations": integrations}
    if not integrations and dropped:
        out.emptied.append(name)


def _integration(
    key: str, config: Mapping[str, Any], glob: Mapping[str, Any], out: Imported, at: str
) -> dict[str, Any] | None:
    """One `*_configs` entry as a Pacta receiver body, or None (with a warning)."""
    if config.get("send_resolved") is False:
        out.warnings.append(
            f"{at}: send_resolved: false is not carried over (Pacta sends resolves)"
        )
    for unsupported in ("http_config", "headers", "html", "text", "title", "message", "details"):
        if config.get(unsupported):
            out.warnings.append(f"{at}: {unsupported} is not carried over")
    for secret_file in ("url_file", "api_url_file", "routing_key_file", "service_key_file"):
        if config.get(secret_file) or config.get("auth_password_file"):
            out.warnings.append(f"{at}: secrets read from files cannot be imported; not converted")
            return None
    try:
        if key == "email_configs":
            return _email(config, glob)
        if key == "webhook_configs":
            if config.get("max_alerts"):
                out.warnings.append(f"{at}: max_alerts is not carried over")
            return {"type": "webhook", "url": _text(config, "url")}
        if key == "slack_configs":
            body = {"type": "slack", "url": _text(config, "api_url", glob, "slack_api_url")}
            if isinstance(config.get("channel"), str) and "{{" not in config["channel"]:
                body["channel"] = config["channel"]
            return body
        if key == "msteams_configs":
            return {"type": "msteams", "url": _text(config, "webhook_url")}
        return _pagerduty(config, glob, out, at)
    except ValueError as exc:
        out.warnings.append(f"{at}: not converted: {exc}")
        return None


def _text(
    config: Mapping[str, Any], key: str, glob: Mapping[str, Any] | None = None, gkey: str = ""
) -> str:
    value = config.get(key)
    if value is None and glob is not None:
        value = glob.get(gkey)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key} is missing")
    if "{{" in value:
        raise ValueError(f"{key} is a template")
    return value


def _email(config: Mapping[str, Any], glob: Mapping[str, Any]) -> dict[str, Any]:
    smarthost = _text(config, "smarthost", glob, "smtp_smarthost")
    host, _, port = smarthost.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"smarthost {smarthost!r} is not host:port")
    to = [a.strip() for a in _text(config, "to").split(",") if a.strip()]
    body: dict[str, Any] = {
        "type": "email",
        "host": host.strip("[]"),
        "port": int(port),
        "from": _text(config, "from", glob, "smtp_from"),
        "to": to,
        "require_tls": _flag(config, "require_tls", glob, "smtp_require_tls"),
    }
    username = config.get("auth_username", glob.get("smtp_auth_username"))
    password = config.get("auth_password", glob.get("smtp_auth_password"))
    if username and password:
        body["username"], body["password"] = str(username), str(password)
    hello = config.get("hello", glob.get("smtp_hello"))
    if isinstance(hello, str) and hello and hello != "localhost":
        body["hello"] = hello
    return body


def _flag(config: Mapping[str, Any], key: str, glob: Mapping[str, Any], gkey: str) -> bool:
    value = config.get(key, glob.get(gkey, True))  # Alertmanager requires TLS by default
    return bool(value)


def _pagerduty(
    config: Mapping[str, Any], glob: Mapping[str, Any], out: Imported, at: str
) -> dict[str, Any]:
    key = config.get("routing_key")
    if not key and config.get("service_key"):
        out.warnings.append(
            f"{at}: service_key (Events API v1) is sent as an Events API v2 routing_key; "
            "check the PagerDuty integration's type"
        )
        key = config["service_key"]
    if not isinstance(key, str) or not key:
        raise ValueError("routing_key is missing")
    url = config.get("url") or glob.get("pagerduty_url") or PAGERDUTY_URL
    if url.rstrip("/").endswith("/generic/2010-04-15/create_event.json"):
        url = PAGERDUTY_URL  # Alertmanager's v1 endpoint: Pacta speaks Events API v2
    return {"type": "pagerduty", "routing_key": key, "url": str(url)}


def _route(
    spec: Mapping[str, Any], names: Mapping[str, str], out: Imported, at: str, *, root: bool
) -> dict[str, Any]:
    node: dict[str, Any] = {}
    matchers = _matchers(spec, "match", "match_re", "matchers", at)
    if matchers and not root:
        node["matchers"] = matchers
    receiver = spec.get("receiver")
    if isinstance(receiver, str) and receiver:
        if receiver not in names:
            raise ImportError_(f"{at}.receiver", f"receiver {receiver!r} is not defined")
        node["receiver"] = names[receiver]
    elif root:
        raise ImportError_(f"{at}.receiver", "the root route needs a receiver")
    if spec.get("group_by") is not None:
        node["group_by"] = [str(g) for g in spec["group_by"]]
    for key in ("group_wait", "group_interval", "repeat_interval"):
        if spec.get(key) is not None:
            value = str(spec[key])
            try:
                parse_duration(value, allow_zero=key == "group_wait")
                node[key] = value
            except ValueError as exc:
                out.warnings.append(f"{at}.{key}: {exc}; inherited instead")
    if spec.get("continue"):
        node["continue"] = True
    for key in ("mute_time_intervals", "active_time_intervals"):
        if spec.get(key):
            out.warnings.append(
                f"{at}.{key}: {list(spec[key])} not carried over; define them as calendars in "
                "the sla-engine and name them on this route"
            )
    for key in spec:
        if key not in ROUTE_KEYS:
            out.warnings.append(f"{at}.{key}: not carried over")
    children = spec.get("routes") or []
    node["routes"] = [
        _route(_mapping(c, f"{at}.routes.{i}"), names, out, f"{at}.routes.{i}", root=False)
        for i, c in enumerate(children)
    ]
    if not node["routes"]:
        del node["routes"]
    return node


def _matchers(spec: Mapping[str, Any], eq: str, regex: str, new: str, at: str) -> list[str]:
    """Alertmanager's deprecated `match` / `match_re` maps and its `matchers` list, as one
    `matchers` list (`match_re` is anchored as every regex matcher is)."""
    out = [f"{k}={go_quote(str(v))}" for k, v in _mapping(spec.get(eq), f"{at}.{eq}").items()]
    out += [
        f"{k}=~{go_quote(str(v))}" for k, v in _mapping(spec.get(regex), f"{at}.{regex}").items()
    ]
    given = spec.get(new) or []
    if not isinstance(given, list):
        raise ImportError_(f"{at}.{new}", "must be a list")
    out += [str(m) for m in given]
    return out


ANY = '__any__=~".*"'


def _inhibit(rule: Any, out: Imported, at: str) -> dict[str, Any] | None:
    rule = _mapping(rule, at)
    source = _matchers(rule, "source_match", "source_match_re", "source_matchers", at)
    target = _matchers(rule, "target_match", "target_match_re", "target_matchers", at)
    # no matchers on a side: every alert matches it (a missing label reads as "")
    return {
        "source_matchers": source or [ANY],
        "target_matchers": target or [ANY],
        "equal": [str(e) for e in rule.get("equal") or []],
    }
