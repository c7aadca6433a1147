"""What the commands share: the context object, `--output`, and parsing of times and labels."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import click

from pacta_cli.client import Api
from pacta_cli.config import ConfigError, load_config
from pacta_cli.resources import seconds

F = TypeVar("F", bound=Callable[..., Any])
_RELATIVE = re.compile(r"([+-])(\S+)")


class State:
    """What every command gets: the settings and, on first use, the client."""

    def __init__(self, config_file: str | None, api_key: str | None) -> None:
        self.config_file, self.api_key = config_file, api_key
        self._api: Api | None = None

    @property
    def api(self) -> Api:
        if self._api is None:
            try:
                config = load_config(path=self.config_file, api_key=self.api_key)
            except ConfigError as exc:
                raise click.UsageError(str(exc)) from None
            self._api = Api(config)
        return self._api

    def close(self) -> None:
        if self._api is not None:
            self._api.close()


pass_state = click.make_pass_decorator(State)


def output_option(command: F) -> F:
    """`--output json|table`: the API's JSON as is, or a table of the columns that matter."""
    return click.option(
        "--output",
        type=click.Choice(["table", "json"]),
        default="table",
        show_default=True,
        envvar="PACTA_OUTPUT",
        help="json prints the API's answer as is",
    )(command)


def parse_instant(text: str) -> str:
    """`now`, `-15m` (ago), `+2h` (from now) or an RFC 3339 timestamp with an offset, as RFC
    3339 UTC; click.BadParameter (exit 2) otherwise."""
    now = datetime.now(UTC).replace(microsecond=0)
    if text == "now":
        return now.isoformat().replace("+00:00", "Z")
    relative = _RELATIVE.fullmatch(text)
    if relative:
        amount = seconds(relative.group(2))
        if amount is None:
            raise click.BadParameter(f"{text!r}: a relative time is like -15m, +2h or -1d2h")
        sign = 1 if relative.group(1) == "+" else -1
        return (now + sign * timedelta(seconds=amount)).isoformat().replace("+00:00", "Z")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{text!r}: not a time (now, -15m, +2h, RFC 3339)") from None
    if moment.tzinfo is None:
        raise click.BadParameter(f"{text!r}: needs an offset (Z or +hh:mm)")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_labels(pairs: tuple[str, ...], what: str = "LABEL=VALUE") -> dict[str, str]:
    labels: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{pair!r}: write it as {what}")
        labels[name] = value
    return labels
