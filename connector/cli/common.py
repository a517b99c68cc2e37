"""Shared CLI pieces: the `--config` option, loading it, and the output layer (the only place that prints)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from connector.orders.service import InvalidChoice
from connector.runtime import logs
from connector.runtime.config import Config, load_config
from connector.runtime.errors import ConfigError

console = Console()
err_console = Console(stderr=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        envvar="CONNECTOR_CONFIG",
        help="Configuration file (default config/connector.toml).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
StoreOption = Annotated[str, typer.Option("--store", help="The store's name from the configuration.")]


class CliExit(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one line to stderr and exit with `code`."""
    err_console.print(message, markup=False, highlight=False, soft_wrap=True)
    raise SystemExit(code)


def bad_choice(exc: InvalidChoice) -> NoReturn:
    """A filter value that is not valid: a usage error (exit 2) naming the valid values, as click does for choices."""
    raise typer.BadParameter(f"{exc.value!r} is not one of: {', '.join(exc.choices)}", param_hint=f"'--{exc.option}'")


def open_config(path: Path | None) -> Config:
    try:
        config = load_config(path)
    except ConfigError as exc:
        fail(f"config error: {exc}", code=2)
    secrets = [config.daemon.admin_token]
    for store in config.stores:
        secrets.extend(store.credentials.values())
        secrets.append(store.webhook_secret)
    logs.configure(secrets=secrets, json=None, level="warning")
    return config


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()
