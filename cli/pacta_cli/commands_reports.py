"""`pacta report MONTH`, `pacta clocks`, `pacta availability SERVICE` and
`pacta import alertmanager FILE`."""

from __future__ import annotations

import re
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import click

from pacta_cli.common import State, output_option, pass_state
from pacta_cli.output import show


def month_of(text: str, today: date | None = None) -> str:
    """`2026-11`, `this` (the current month) or `last` (the one before), as YYYY-MM."""
    today = today or datetime.now(UTC).date()
    if text == "this":
        return f"{today:%Y-%m}"
    if text == "last":
        year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
        return f"{year:04d}-{month:02d}"
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", text):
        raise click.BadParameter(f"{text!r}: a month is YYYY-MM, `this` or `last`")
    return text


def register(cli: click.Group) -> None:
    @cli.command()
    @click.argument("month")
    @click.option(
        "--format",
        "fmt",
        type=click.Choice(["json", "csv", "html", "pdf"]),
        default="json",
        show_default=True,
    )
    @click.option(
        "-o",
        "--out",
        "out",
        type=click.Path(dir_okay=False, allow_dash=True),
        help="file to write (needed for pdf unless stdout is not a terminal)",
    )
    @click.option("--service", help="one service only")
    @click.option("--tz", default="UTC", show_default=True, help="the month's time zone")
    @pass_state
    def report(
        state: State, month: str, fmt: str, out: str | None, service: str | None, tz: str
    ) -> None:
        """The monthly SLA report of MONTH (YYYY-MM, `this` or `last`), e.g.
        `pacta report last --format pdf -o report.pdf`."""
        params = {"month": month_of(month), "format": fmt, "tz": tz}
        if service:
            params["service"] = service
        if fmt == "pdf" and out in (None, "-") and sys.stdout.isatty():
            raise click.UsageError("a PDF is not for the terminal: give -o FILE")
        answer = state.api.request("reporting", "GET", "/v1/reports/monthly", params=params)
        if out in (None, "-"):
            sys.stdout.buffer.write(answer.content)
            return
        Path(out).write_bytes(answer.content)
        click.echo(f"wrote {out} ({len(answer.content)} bytes)", err=True)

    @cli.command()
    @click.option("--ticket-id")
    @click.option("--service")
    @click.option(
        "--state", "clock_state", type=click.Choice(["running", "paused", "met", "breached"])
    )
    @output_option
    @pass_state
    def clocks(
        state: State,
        ticket_id: str | None,
        service: str | None,
        clock_state: str | None,
        output: str,
    ) -> None:
        """Ticket clocks: response and resolution, with deadline and time left."""
        params = {
            k: v
            for k, v in (("ticket_id", ticket_id), ("service", service), ("state", clock_state))
            if v
        }
        show(
            state.api.get("sla_engine", "/v1/clocks", params=params),
            output,
            [
                "ticket_id",
                "metric",
                "state",
                "priority",
                "policy",
                "policy_version",
                "deadline",
                "remaining_seconds",
            ],
        )

    @cli.command()
    @click.argument("service")
    @click.option("--month", default=None, help="YYYY-MM, this or last (default this)")
    @output_option
    @pass_state
    def availability(state: State, service: str, month: str | None, output: str) -> None:
        """A service's availability month to date: actual, target, error budget."""
        params = {"month": month_of(month)} if month else None
        show(
            state.api.get("sla_engine", f"/v1/services/{service}/availability", params=params),
            output,
            [
                "service",
                "month",
                "policy",
                "target",
                "actual",
                "downtime_seconds",
                "budget_remaining_seconds",
                "down",
            ],
        )

    @cli.group("import")
    def import_() -> None:
        """Move configuration over from other tools."""

    @import_.command("alertmanager")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
    @click.option("--dry-run", is_flag=True, help="show what would be created, write nothing")
    @output_option
    @pass_state
    def import_alertmanager(state: State, file: str, dry_run: bool, output: str) -> None:
        """Import an Alertmanager configuration (alertmanager.yml): its receivers, routing
        tree and inhibit rules become alerting's (docs/alerting.md). What cannot be carried
        over is listed as a warning on stderr."""
        with click.open_file(file, "rb") as source:
            content = source.read()
        answer = state.api.request(
            "alerting",
            "POST",
            "/v1/import/alertmanager",
            content=content,
            params={"dry_run": "true"} if dry_run else None,
            headers={"Content-Type": "application/yaml"},
        ).json()
        if output == "json":
            show(answer, output)
            return
        for warning in answer.get("warnings", []):
            click.echo(f"warning: {warning}", err=True)
        verb = "would import" if answer.get("dry_run") else "imported"
        rules = len((answer.get("inhibit_rules") or {}).get("items", []))
        click.echo(
            f"{verb} {len(answer.get('receivers', []))} receivers "
            f"({', '.join(answer.get('receivers', []))}), the routing tree and {rules} inhibit rules"
        )
