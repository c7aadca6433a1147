"""`pacta events send monitoring|ticket`: one event from flags, or many from a JSON / YAML
file (an object or a list), posted to ingest."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
import yaml

from pacta_cli.common import State, output_option, parse_instant, parse_labels, pass_state
from pacta_cli.output import show

PATHS = {"monitoring": "/v1/events/monitoring", "ticket": "/v1/events/tickets"}


def _from_file(path: str) -> Any:
    text = Path(path).read_text() if path != "-" else sys.stdin.read()
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise click.BadParameter(f"{path}: neither JSON nor YAML ({exc})") from None


def _common(body: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    body["occurred_at"] = parse_instant(options["at"])
    for key in ("id", "summary", "source"):
        if options.get(key):
            body[key] = options[key]
    if options.get("label"):
        body["labels"] = parse_labels(options["label"], "NAME=VALUE")
    return body


def _send(state: State, kind: str, body: Any, output: str) -> None:
    answer = state.api.post("ingest", PATHS[kind], body)
    show(answer, output, ["accepted", "duplicates", "ids"])


def _event_options(command: Any) -> Any:
    for option in reversed(
        [
            click.option(
                "-f",
                "--file",
                "file",
                type=click.Path(allow_dash=True),
                help="JSON or YAML file with an event or a list (- for stdin); replaces the flags",
            ),
            click.option(
                "--at",
                default="now",
                show_default=True,
                help="occurred_at: now, -15m (ago), or RFC 3339 with an offset",
            ),
            click.option("--id", help="event id (default: derived from the content)"),
            click.option("--summary"),
            click.option("--source", help="where the event comes from (default api)"),
            click.option("--label", multiple=True, metavar="NAME=VALUE"),
            output_option,
        ]
    ):
        command = option(command)
    return command


def register(cli: click.Group) -> None:
    @cli.group()
    def events() -> None:
        """Post monitoring and ticket events to ingest."""

    @events.group()
    def send() -> None:
        """Send one event from flags, or events from a file (-f)."""

    @send.command("monitoring")
    @click.option("--service", help="the service the check watches")
    @click.option("--check", help="the monitored condition, e.g. http_5xx")
    @click.option("--status", type=click.Choice(["firing", "resolved"]))
    @click.option(
        "--severity", type=click.Choice(["critical", "major", "minor", "warning", "info"])
    )
    @_event_options
    @pass_state
    def monitoring(state: State, /, **options: Any) -> None:
        """A check firing or resolving. Example:

        pacta events send monitoring --service checkout --check http_5xx --status firing"""
        if options["file"]:
            _send(state, "monitoring", _from_file(options["file"]), options["output"])
            return
        missing = [f"--{k}" for k in ("service", "check", "status") if not options[k]]
        if missing:
            raise click.UsageError(f"missing {', '.join(missing)} (or give -f FILE)")
        body = {k: options[k] for k in ("service", "check", "status") if options[k]}
        if options["severity"]:
            body["severity"] = options["severity"]
        _send(state, "monitoring", _common(body, options), options["output"])

    @send.command("ticket")
    @click.option("--ticket-id", help="the ticket's id in its system, e.g. INC-1")
    @click.option("--service")
    @click.option(
        "--action",
        type=click.Choice(["created", "updated", "responded", "resolved", "closed", "reopened"]),
    )
    @click.option("--priority", type=click.Choice(["P1", "P2", "P3", "P4"]))
    @click.option("--status", help="the ticket system's status, e.g. open, waiting_for_customer")
    @click.option(
        "--type", "type_", type=click.Choice(["incident", "service_request", "problem", "change"])
    )
    @click.option("--customer")
    @click.option("--assignee")
    @click.option(
        "--outcome", type=click.Choice(["successful", "failed"]), help="a change's outcome"
    )
    @_event_options
    @pass_state
    def ticket(state: State, /, **options: Any) -> None:
        """One step of a ticket's life. Example:

        pacta events send ticket --ticket-id INC-1 --service checkout --priority P1 --action created --status open"""
        if options["file"]:
            _send(state, "ticket", _from_file(options["file"]), options["output"])
            return
        missing = [
            f"--{k.replace('_', '-')}" for k in ("ticket_id", "service", "action") if not options[k]
        ]
        if missing:
            raise click.UsageError(f"missing {', '.join(missing)} (or give -f FILE)")
        body: dict[str, Any] = {
            k: options[k]
            for k in (
                "ticket_id",
                "service",
                "action",
                "priority",
                "status",
                "customer",
                "assignee",
                "outcome",
            )
            if options[k]
        }
        if options["type_"]:
            body["type"] = options["type_"]
        _send(state, "ticket", _common(body, options), options["output"])
