"""`make demo` (`python -m pacta_cli.demo`): load last month into a running stack over the HTTP
APIs, so the overview, the monthly report and the dashboards have something to show.

Order matters: calendars and policies first (a backfill is judged by the policies in force),
then the planned maintenance windows, then the month's events oldest first, then the late
ones, then a correction declared after the fact. Running it again changes nothing (same ids,
same bodies)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import click

from pacta_cli.client import Api
from pacta_cli.config import ConfigError, load_config
from pacta_cli.demo_data import Month, build

BATCH = 500


def _post_in_batches(api: Api, path: str, events: list[dict[str, Any]]) -> int:
    accepted = 0
    for i in range(0, len(events), BATCH):
        answer = api.post("ingest", path, events[i : i + BATCH])
        accepted += int(answer.get("accepted", 0))
    return accepted


def load(api: Api, month: Month, echo: Any = click.echo) -> None:
    for name, body in month.calendars.items():
        api.put("sla_engine", f"/v1/calendars/{name}", body)
    for name, body in month.policies.items():
        api.put("sla_engine", f"/v1/policies/{name}", body)
    echo(f"{len(month.calendars)} calendars, {len(month.policies)} policies")
    for window in month.windows:
        api.post("sla_engine", "/v1/maintenance-windows", window)
    echo(f"{len(month.windows)} planned maintenance windows")
    # oldest first, monitoring and tickets interleaved by day: history as it happened
    days = sorted({e["occurred_at"][:10] for e in month.monitoring + month.tickets})
    sent = {"monitoring": 0, "tickets": 0}
    for day in days:
        for kind, events in (("monitoring", month.monitoring), ("tickets", month.tickets)):
            todays = [e for e in events if e["occurred_at"][:10] == day]
            if todays:
                sent[kind] += _post_in_batches(api, f"/v1/events/{kind}", todays)
    echo(f"{sent['monitoring']} monitoring and {sent['tickets']} ticket events of {month.name}")
    late = _post_in_batches(api, "/v1/events/tickets", month.late_tickets)
    echo(f"{late} late ticket events")
    api.post("sla_engine", "/v1/maintenance-windows", month.correction)
    echo(f"a late correction: {month.correction['reason']} on {month.correction['service']}")


def wait_for_report(api: Api, month: str, *, services: set[str], timeout: float) -> dict[str, Any]:
    """The month's report once it shows tickets for the demo's services (reporting reads Kafka
    asynchronously); TimeoutError naming what was missing at the deadline."""
    deadline = time.monotonic() + timeout
    seen: set[str] = set()
    while True:
        report: dict[str, Any] = api.get(
            "reporting", "/v1/reports/monthly", params={"month": month}
        )
        rows = report.get("services") or []
        seen = {
            r.get("service")
            for r in rows
            if (r.get("tickets") or {}).get("total")
            or (r.get("availability") or {}).get("actual") is not None
        }
        if services <= seen:
            return report
        if time.monotonic() > deadline:
            raise TimeoutError(f"the {month} report still lacks {sorted(services - seen)}")
        time.sleep(1.0)


@click.command()
@click.option("--tickets", default=300, show_default=True, help="about this many tickets")
@click.option("--seed", default=7, show_default=True)
@click.option("--prefix", default="", help="prefix of every service name (for tests)")
@click.option(
    "--wait",
    default=180.0,
    show_default=True,
    help="seconds to wait for the report to show the month (0: do not wait)",
)
def main(tickets: int, seed: int, prefix: str, wait: float) -> None:
    """Load a realistic last month into the running stack (PACTA_API_KEY, default
    dev-admin-key; the services' URLs as for `pacta`)."""
    try:
        config = load_config()
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    if config.api_key is None:
        config = type(config)(api_key="dev-admin-key", urls=config.urls)
    month = build(datetime.now(UTC), tickets=tickets, seed=seed, prefix=prefix)
    api = Api(config)
    try:
        load(api, month)
        if wait > 0:
            services = {e["service"] for e in month.monitoring + month.tickets}
            try:
                wait_for_report(api, month.name, services=services, timeout=wait)
            except TimeoutError as exc:
                raise click.ClickException(str(exc)) from None
    finally:
        api.close()
    reporting = config.urls["reporting"]
    click.echo(
        f"done: open {reporting}/ (the overview) and "
        f"{reporting}/v1/reports/monthly?month={month.name}&format=html, "
        f"or `pacta report {month.name} --format pdf -o {month.name}.pdf`"
    )


if __name__ == "__main__":
    main()
