"""Where the services are and which key to use: flags, then `PACTA_*` variables, then the
config file (`~/.config/pacta/config.yaml`), then the defaults of a local `make up`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SERVICES = ("ingest", "sla_engine", "alerting", "reporting")
DEFAULT_URLS = {
    "ingest": "http://127.0.0.1:8001",
    "sla_engine": "http://127.0.0.1:8002",
    "alerting": "http://127.0.0.1:8003",
    "reporting": "http://127.0.0.1:8004",
}
KEYS = {"api_key", *(f"{service}_url" for service in SERVICES)}


class ConfigError(ValueError):
    """The config file cannot be used (the message names the file and the key)."""


@dataclass(frozen=True)
class Config:
    api_key: str | None
    urls: dict[str, str]


def config_path(environ: dict[str, str] | None = None) -> Path:
    """`PACTA_CONFIG`, else `$XDG_CONFIG_HOME/pacta/config.yaml` (~/.config by default)."""
    env = os.environ if environ is None else environ
    if env.get("PACTA_CONFIG"):
        return Path(env["PACTA_CONFIG"])
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "pacta" / "config.yaml"


def _read_file(path: Path, explicit: bool) -> dict[str, Any]:
    if not path.exists():
        if explicit:
            raise ConfigError(f"{path}: no such file")
        return {}
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: the top level must be a mapping (api_key, ingest_url, ...)")
    unknown = sorted(str(k) for k in document if k not in KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown keys {unknown}; known: {sorted(KEYS)}")
    for key, value in document.items():
        if not isinstance(value, str):
            raise ConfigError(f"{path}: {key}: must be a string")
    return document


def load_config(
    *, path: str | None = None, api_key: str | None = None, environ: dict[str, str] | None = None
) -> Config:
    """The settings in force: `api_key` (a flag) beats `PACTA_API_KEY`, which beats the file;
    each `PACTA_<SERVICE>_URL` beats the file's `<service>_url`."""
    env = dict(os.environ if environ is None else environ)
    file_path = Path(path) if path else config_path(env)
    document = _read_file(file_path, explicit=bool(path or env.get("PACTA_CONFIG")))
    urls = {
        service: (
            env.get(f"PACTA_{service.upper()}_URL")
            or document.get(f"{service}_url")
            or DEFAULT_URLS[service]
        ).rstrip("/")
        for service in SERVICES
    }
    key = api_key or env.get("PACTA_API_KEY") or document.get("api_key")
    return Config(api_key=key or None, urls=urls)
