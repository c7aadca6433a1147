"""`pacta apply`'s model: the resources a folder of YAML files declares, in the order they must
be written, and whether each differs from what the server holds (no I/O here)."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

SECTIONS = (
    "calendars",
    "policies",
    "receivers",
    "escalation_policies",
    "route",
    "inhibit_rules",
)
"""The sections a file may have, in the order they are applied: a policy names a calendar, an
escalation policy names receivers, the routing tree names both."""
META = frozenset({"name", "version", "effective_from", "origin", "builtin"})
"""Fields a GET adds that are not part of the body a PUT sends."""
DEFAULTS: dict[str, dict[str, Any]] = {
    "calendars": {
        "timezone": "UTC",
        "holidays": [],
        "holiday_country": None,
        "holiday_subdivision": None,
    },
    "policies": {
        "match": {},
        "calendar": "24x7",
        "targets": {},
        "pause_statuses": [],
        "warn_at": [0.5, 0.75, 0.9],
        "availability": None,
        "warn_before": [],
    },
}
"""The engine's defaults (docs/resources.md): a field left out of a file that holds its default
on the server is no difference. Other sections compare only the fields the file names."""
SECRET_SHOWN = "<set>"
_UNITS = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}
_COMPACT = re.compile(r"(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_ISO = re.compile(r"P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?")


@dataclass(frozen=True)
class Resource:
    section: str
    name: str
    body: Any
    source: Path

    @property
    def label(self) -> str:
        return (
            self.section
            if self.section in ("route", "inhibit_rules")
            else (f"{self.section}/{self.name}")
        )


def read_folder(folder: Path) -> list[Resource]:
    """Every resource of the `*.yaml` / `*.yml` files in `folder` (or of one file), in apply
    order. ValueError names the file and the section when something is malformed."""
    files = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]) if folder.is_dir() else [folder]
    if not files:
        raise ValueError(f"{folder}: no *.yaml or *.yml files")
    found: dict[tuple[str, str], Resource] = {}
    for path in files:
        try:
            document = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ValueError(f"{path}: {exc}") from None
        if not isinstance(document, dict):
            raise ValueError(f"{path}: the top level must be a mapping of sections {SECTIONS}")
        unknown = sorted(str(k) for k in document if k not in SECTIONS)
        if unknown:
            raise ValueError(f"{path}: unknown sections {unknown}; known: {list(SECTIONS)}")
        for section, entries in document.items():
            for name, body in _entries(path, section, entries):
                if (section, name) in found:
                    raise ValueError(
                        f"{path}: {section}.{name}: also defined in {found[section, name].source}"
                    )
                found[section, name] = Resource(section, name, body, path)
    return sorted(found.values(), key=lambda r: (SECTIONS.index(r.section), r.name))


def _entries(path: Path, section: str, entries: Any) -> list[tuple[str, Any]]:
    if section == "route":
        if not isinstance(entries, dict):
            raise ValueError(f"{path}: route: must be a mapping (the routing tree's root)")
        return [("root", entries)]
    if section == "inhibit_rules":
        if not isinstance(entries, list):
            raise ValueError(f"{path}: inhibit_rules: must be a list of rules")
        return [("all", entries)]
    if not isinstance(entries, dict):
        raise ValueError(f"{path}: {section}: must be a mapping of name -> body")
    for name, body in entries.items():
        if not isinstance(body, dict):
            raise ValueError(f"{path}: {section}.{name}: must be a mapping")
    return [(str(name), body) for name, body in entries.items()]


def seconds(text: str) -> int | None:
    """A duration (`4h30m`, `PT4H`) in seconds, or None if `text` is not one."""
    raw = text.strip()
    match = _ISO.fullmatch(raw.upper()) if raw[:1] in "pP" else _COMPACT.fullmatch(raw.lower())
    if match is None or all(g is None for g in match.groups()):
        return None
    return sum(int(g) * u for g, u in zip(match.groups(), _UNITS.values(), strict=True) if g)


def same(wanted: Any, stored: Any) -> bool:
    """Whether the file's value equals the server's, as the server would store it: durations
    are compared in seconds, a write-only secret (`<set>`) matches any value, and a mapping
    only on the keys the file names (the server adds its defaults)."""
    if isinstance(wanted, dict) and isinstance(stored, dict):
        return all(same(v, stored.get(k)) for k, v in wanted.items())
    if isinstance(wanted, list) and isinstance(stored, list):
        pairwise = len(wanted) == len(stored) and all(
            same(a, b) for a, b in zip(wanted, stored, strict=True)
        )
        return pairwise or _same_set(wanted, stored)
    if stored == SECRET_SHOWN:
        return True
    if isinstance(wanted, str) and isinstance(stored, str) and _same_destination(wanted, stored):
        return True
    if isinstance(wanted, str) and isinstance(stored, int | float) and not isinstance(stored, bool):
        return seconds(wanted) == stored
    if isinstance(wanted, int | float) and isinstance(stored, int | float):
        return float(wanted) == float(stored)
    return bool(wanted == stored)


def _same_destination(wanted: str, stored: str) -> bool:
    """A webhook URL is write-only past its origin: the server shows `scheme://host:port`
    alone, so a file's full URL matches a shown origin it starts with (a change of path or
    token alone goes unseen: `pacta apply` then leaves the stored URL as it is)."""
    shown = urlsplit(stored)
    if not shown.scheme or not shown.netloc or shown.path or shown.query or shown.fragment:
        return False
    full = urlsplit(wanted)
    try:
        return (full.scheme, full.hostname, full.port or _DEFAULT_PORTS.get(full.scheme)) == (
            shown.scheme,
            shown.hostname,
            shown.port or _DEFAULT_PORTS.get(shown.scheme),
        )
    except ValueError:  # a malformed port in the file: the server will say what is wrong
        return False


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _same_set(wanted: list[Any], stored: list[Any]) -> bool:
    """Lists of plain values the server keeps sorted or unique (pause statuses, severities)."""
    plain = (str, int, float)
    if all(isinstance(v, plain) for v in [*wanted, *stored]):
        return sorted(set(map(str, wanted))) == sorted(set(map(str, stored)))
    return False


def current_body(section: str, stored: Any) -> Any:
    """The server's answer without the fields a GET adds (name, version, origin, ...)."""
    if section == "inhibit_rules" and isinstance(stored, dict):
        return stored.get("items", [])  # GET answers {"items": [...]}
    if isinstance(stored, dict) and section != "route":
        return {k: v for k, v in stored.items() if k not in META}
    return stored


def differs(resource: Resource, stored: Any) -> bool:
    """Whether writing `resource` would change the server (`stored` None: it does not exist)."""
    if stored is None:
        return True
    current = current_body(resource.section, stored)
    if not same(resource.body, current):
        return True
    if isinstance(current, dict):
        # a field the file leaves out goes back to its default: a difference unless it is there
        defaults = DEFAULTS.get(resource.section, {})
        for key, default in defaults.items():
            if key not in resource.body and not same(default, current.get(key)):
                return True
    return False


def _projected(wanted: Any, stored: Any) -> Any:
    """The server's value in the file's spelling where they agree, so a diff shows only what
    changes (not `4h` against 14400, nor the fields the server adds)."""
    if isinstance(wanted, dict) and isinstance(stored, dict):
        return {k: _projected(v, stored[k]) for k, v in wanted.items() if k in stored}
    if same(wanted, stored):
        return wanted
    if isinstance(wanted, str) and seconds(wanted) is not None and isinstance(stored, int):
        return compact(stored)
    return stored


def compact(total: int) -> str:
    """Seconds as a compact duration, largest unit first: 5400 -> `1h30m`."""
    parts = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        amount, total = divmod(total, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts) or "0s"


def render_diff(resource: Resource, stored: Any) -> str:
    """A unified diff of the server's body (`---`) and the file's (`+++`), in YAML."""
    before = ""
    if stored is not None:
        current = current_body(resource.section, stored)
        shown = _projected(resource.body, current)
        if isinstance(shown, dict) and isinstance(current, dict):
            for key, default in DEFAULTS.get(resource.section, {}).items():
                if key not in resource.body and not same(default, current.get(key)):
                    shown[key] = current.get(key)
        before = _yaml(shown)
    after = _yaml(resource.body)
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=f"server: {resource.label}" if stored is not None else "/dev/null",
        tofile=f"{resource.source.name}: {resource.label}",
    )
    return "".join(lines)


def _yaml(body: Any) -> str:
    return yaml.safe_dump(body, sort_keys=True, default_flow_style=False, allow_unicode=True)
