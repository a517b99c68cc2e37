"""The `connector` command line: typer commands, rich output, exit codes 0 ok / 1 failure / 2 usage or config."""

from __future__ import annotations

import sys

import typer

from connector.cli import daemon_cmds, export_cmds, orders_cmds, sandbox_cmds, status_cmds, stock_cmds, sync_cmds
from connector.cli.common import CliExit, fail
from connector.runtime.errors import ConfigError

app = typer.Typer(
    name="connector",
    help="Order sync connector: platform orders in, split over locations, fulfilled and written back.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
daemon_cmds.register(app)
app.command()(sandbox_cmds.sandbox)
app.command()(sandbox_cmds.demo)
status_cmds.register(app)
sync_cmds.register(app)
stock_cmds.register(app)
orders_cmds.app.command("export")(export_cmds.export)
app.add_typer(orders_cmds.app, name="orders")
app.add_typer(orders_cmds.outbox_app, name="outbox")


def main() -> None:
    try:
        app()
    except ConfigError as exc:
        fail(f"config error: {exc}", code=2)
    except CliExit as exc:
        sys.exit(exc.code)
