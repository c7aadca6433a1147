"""The `pacta` command: global options, shell completion, and the command groups.

Exit codes: 0 done, 1 the server refused or did not answer, 2 bad usage or invalid input."""

from __future__ import annotations

import click

from pacta_cli import commands_alerting, commands_config, commands_events, commands_reports
from pacta_cli.common import State


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    envvar="PACTA_CONFIG",
    help="config file (default ~/.config/pacta/config.yaml)",
)
@click.option(
    "--api-key",
    help="API key (better: PACTA_API_KEY or api_key in the config file)",
)
@click.version_option("0.1.0", prog_name="pacta")
@click.pass_context
def cli(ctx: click.Context, config_file: str | None, api_key: str | None) -> None:
    """Pacta from the command line: send events, apply config as code, test routes, silence,
    acknowledge, fetch reports.

    The services are found on 127.0.0.1:8001-8004 unless PACTA_INGEST_URL,
    PACTA_SLA_ENGINE_URL, PACTA_ALERTING_URL, PACTA_REPORTING_URL or the config file say
    otherwise. Exit codes: 0 done, 1 the server refused or did not answer, 2 bad usage or
    invalid input (the message names the field)."""
    state = State(config_file, api_key)
    ctx.obj = state
    ctx.call_on_close(state.close)


@cli.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the shell completion script: `eval "$(pacta completion bash)"`."""
    from click.shell_completion import get_completion_class

    cls = get_completion_class(shell)
    assert cls is not None
    click.echo(cls(cli, {}, "pacta", "_PACTA_COMPLETE").source())


for _module in (commands_events, commands_config, commands_alerting, commands_reports):
    _module.register(cli)


def main() -> None:
    cli(prog_name="pacta")
