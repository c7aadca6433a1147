"""`pacta routes test`, `pacta silence add|list|expire`, `pacta alerts list|ack`: amtool's
everyday commands against alerting's API."""

from __future__ import annotations

import re
from typing import Any

import click

from pacta_cli.common import State, output_option, parse_instant, parse_labels, pass_state
from pacta_cli.output import show

_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*')


def matches(labels: dict[str, Any], matcher: str) -> bool:
    """Whether `labels` satisfy one matcher (`name=value`, `!=`, `=~regex`, `!~regex`; a
    regex is anchored, as in Alertmanager); ValueError if the matcher is malformed."""
    found = _MATCHER.fullmatch(matcher)
    if found is None:
        raise ValueError(f"{matcher!r}: write it as name=value, name!=value, name=~regex")
    name, op, value = found.groups()
    actual = "" if labels.get(name) is None else str(labels.get(name))
    if op == "=":
        return actual == value
    if op == "!=":
        return actual != value
    hit = re.fullmatch(value, actual) is not None
    return hit if op == "=~" else not hit


def register(cli: click.Group) -> None:
    @cli.group()
    def routes() -> None:
        """The routing tree."""

    @routes.command("test")
    @click.argument("labels", nargs=-1, required=True, metavar="LABEL=VALUE...")
    @output_option
    @pass_state
    def routes_test(state: State, labels: tuple[str, ...], output: str) -> None:
        """Where an alert with these labels would go, e.g.
        `pacta routes test kind=breach service=checkout priority=P1`."""
        answer = state.api.post("alerting", "/v1/routes/test", {"labels": parse_labels(labels)})
        show(
            answer.get("matches", []) if output == "table" else answer,
            output,
            ["receiver", "escalation", "group_by", "continue", "path"],
        )

    @cli.group()
    def silence() -> None:
        """Silences: mute the alerts matching some labels for a while."""

    @silence.command("add")
    @click.argument("matchers", nargs=-1, required=True, metavar="MATCHER...")
    @click.option(
        "--duration",
        "-d",
        default="1h",
        show_default=True,
        help="how long from now (or from --start)",
    )
    @click.option("--start", default=None, help="now, +1h or RFC 3339 (default now)")
    @click.option("--end", default=None, help="instead of --duration: +2h or RFC 3339")
    @click.option("--comment", "-c", default="", help="why")
    @click.option("--author", "-a", default="", help="who (default $USER)", envvar="USER")
    @click.option(
        "--expire-on-resolve", is_flag=True, help="end the silence when its alerts resolve"
    )
    @output_option
    @pass_state
    def silence_add(
        state: State,
        matchers: tuple[str, ...],
        duration: str,
        start: str | None,
        end: str | None,
        comment: str,
        author: str,
        expire_on_resolve: bool,
        output: str,
    ) -> None:
        """Silence the alerts matching every MATCHER (`service=checkout`, `kind=~"breach|warning"`).
        Prints the silence's id."""
        body: dict[str, Any] = {
            "matchers": list(matchers),
            "comment": comment,
            "created_by": author,
            "expire_on_resolve": expire_on_resolve,
        }
        if start:
            body["starts_at"] = parse_instant(start)
        if end:
            body["ends_at"] = parse_instant(end)
        else:
            body["ends_at"] = (
                parse_instant(f"+{duration}") if not start else _after(start, duration)
            )
        answer = state.api.post("alerting", "/v1/silences", body)
        if output == "json":
            show(answer, output)
        else:
            click.echo(answer["id"])

    @silence.command("list")
    @click.option("--all", "everything", is_flag=True, help="expired ones too")
    @click.option("--quiet", "-q", is_flag=True, help="only the ids, one a line")
    @output_option
    @pass_state
    def silence_list(state: State, everything: bool, quiet: bool, output: str) -> None:
        """Active and pending silences (all of them with --all)."""
        answer = state.api.get("alerting", "/v1/silences")
        if not everything:
            answer = {"items": [s for s in answer["items"] if s.get("state") != "expired"]}
        if quiet:
            for item in answer["items"]:
                click.echo(item["id"])
            return
        show(answer, output, ["id", "state", "matchers", "ends_at", "created_by", "comment"])

    @silence.command("expire")
    @click.argument("ids", nargs=-1, required=True, metavar="ID...")
    @pass_state
    def silence_expire(state: State, ids: tuple[str, ...]) -> None:
        """End silences now."""
        for silence_id in ids:
            state.api.request("alerting", "DELETE", f"/v1/silences/{silence_id}")
            click.echo(f"expired {silence_id}")

    @cli.group()
    def alerts() -> None:
        """Alerts: what fired, its state, acknowledging."""

    @alerts.command("list")
    @click.argument("matchers", nargs=-1, metavar="[MATCHER...]")
    @click.option("--quiet", "-q", is_flag=True, help="only the ids, one a line")
    @click.option(
        "--state",
        "alert_state",
        type=click.Choice(["firing", "acknowledged", "silenced", "inhibited", "resolved"]),
    )
    @output_option
    @pass_state
    def alerts_list(
        state: State, matchers: tuple[str, ...], quiet: bool, alert_state: str | None, output: str
    ) -> None:
        """Alerts of the last 7 days (and older open ones), filtered by --state and by label
        MATCHERs (`service=checkout`, `kind=~"breach|warning"`, `priority!=P4`)."""
        params = {"state": alert_state} if alert_state else None
        answer = state.api.get("alerting", "/v1/alerts", params=params)
        try:
            items = [
                a
                for a in answer["items"]
                if all(matches({**a, **(a.get("routing_labels") or {})}, m) for m in matchers)
            ]
        except (ValueError, re.error) as exc:
            raise click.BadParameter(str(exc)) from None
        if quiet:
            for item in items:
                click.echo(item["id"])
            return
        show(
            {"items": items},
            output,
            ["id", "state", "kind", "service", "metric", "ticket_id", "fired_at"],
        )

    @alerts.command("ack")
    @click.argument("ids", nargs=-1, required=True, metavar="ID...")
    @output_option
    @pass_state
    def alerts_ack(state: State, ids: tuple[str, ...], output: str) -> None:
        """Acknowledge alerts: escalation and repeats stop."""
        for alert_id in ids:
            answer = state.api.post("alerting", f"/v1/alerts/{alert_id}/ack", {})
            show(answer, output, ["id", "state", "acknowledged_at", "acknowledged_by"])


def _after(start: str, duration: str) -> str:
    from datetime import datetime, timedelta

    from pacta_cli.resources import seconds

    amount = seconds(duration)
    if amount is None:
        raise click.BadParameter(f"{duration!r}: a duration is like 30m, 2h, 1d")
    begin = datetime.fromisoformat(parse_instant(start).replace("Z", "+00:00"))
    return (begin + timedelta(seconds=amount)).isoformat().replace("+00:00", "Z")
