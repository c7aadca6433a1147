"""`pacta apply -f DIR` (config as code over the API: a diff first, then only what changes) and
`pacta maintenance add|list`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from pacta_cli.common import State, output_option, parse_instant, pass_state
from pacta_cli.output import show
from pacta_cli.resources import Resource, differs, read_folder, render_diff

WHERE: dict[str, tuple[str, str]] = {
    "calendars": ("sla_engine", "/v1/calendars/{name}"),
    "policies": ("sla_engine", "/v1/policies/{name}"),
    "receivers": ("alerting", "/v1/receivers/{name}"),
    "escalation_policies": ("alerting", "/v1/escalation-policies/{name}"),
    "route": ("alerting", "/v1/routes"),
    "inhibit_rules": ("alerting", "/v1/inhibit-rules"),
}


def _stored(state: State, resource: Resource) -> Any:
    service, path = WHERE[resource.section]
    return state.api.find(service, path.format(name=resource.name))


def _write(state: State, resource: Resource) -> None:
    service, path = WHERE[resource.section]
    body = {"items": resource.body} if resource.section == "inhibit_rules" else resource.body
    state.api.put(service, path.format(name=resource.name), body)


def register(cli: click.Group) -> None:
    @cli.command()
    @click.option(
        "-f",
        "--filename",
        "folder",
        required=True,
        type=click.Path(exists=True, path_type=Path),
        help="a folder of *.yaml files, or one file",
    )
    @click.option("--dry-run", is_flag=True, help="show the diff, write nothing")
    @click.option("--quiet", "-q", is_flag=True, help="no diff, only the summary")
    @pass_state
    def apply(state: State, folder: Path, dry_run: bool, quiet: bool) -> None:
        """Make the server hold what the YAML files declare: `calendars:`, `policies:`
        (docs/resources.md), `receivers:`, `escalation_policies:`, `route:`, `inhibit_rules:`
        (docs/alerting.md). Prints a diff of each resource that changes, then writes those,
        in an order that satisfies references (calendars before policies, receivers before
        routes). Running it again changes nothing. Resources on the server that the files do
        not name are left alone."""
        try:
            resources = read_folder(folder)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
        changed: list[Resource] = []
        for resource in resources:
            stored = _stored(state, resource)
            if not differs(resource, stored):
                continue
            changed.append(resource)
            if not quiet:
                click.echo(render_diff(resource, stored).rstrip("\n"))
        verb = "would change" if dry_run else "changing"
        click.echo(
            f"{len(changed)} of {len(resources)} resources {verb}"
            + (": " + ", ".join(r.label for r in changed) if changed else "")
        )
        if dry_run:
            return
        for resource in changed:
            _write(state, resource)
            click.echo(f"applied {resource.label}")

    @cli.group()
    def maintenance() -> None:
        """Maintenance windows: downtime inside them does not count against availability."""

    @maintenance.command("add")
    @click.option("--service", required=True)
    @click.option("--start", "starts", required=True, help="now, -2h, +1d or RFC 3339")
    @click.option("--end", "ends", required=True, help="now, -1h, +1d2h or RFC 3339")
    @click.option("--reason")
    @click.option("--id", "window_id", help="an id of yours (reposting it is idempotent)")
    @output_option
    @pass_state
    def maintenance_add(
        state: State,
        service: str,
        starts: str,
        ends: str,
        reason: str | None,
        window_id: str | None,
        output: str,
    ) -> None:
        """Declare a maintenance window, ahead of time or after the fact."""
        body: dict[str, Any] = {
            "service": service,
            "starts_at": parse_instant(starts),
            "ends_at": parse_instant(ends),
        }
        if reason:
            body["reason"] = reason
        if window_id:
            body["id"] = window_id
        show(
            state.api.post("sla_engine", "/v1/maintenance-windows", body),
            output,
            ["id", "service", "starts_at", "ends_at", "reason"],
        )

    @maintenance.command("list")
    @click.option("--service")
    @output_option
    @pass_state
    def maintenance_list(state: State, service: str | None, output: str) -> None:
        """The maintenance windows (of one service)."""
        params = {"service": service} if service else None
        show(
            state.api.get("sla_engine", "/v1/maintenance-windows", params=params),
            output,
            ["id", "service", "starts_at", "ends_at", "reason", "origin"],
        )
