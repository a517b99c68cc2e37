"""`connector run`, `connector db upgrade`, `connector db copy`, `connector sandbox` and `connector demo`."""

from __future__ import annotations

from typing import Annotated

import typer

from connector.cli.common import ConfigOption, console, fail, open_config
from connector.runtime import logs
from connector.runtime.errors import DaemonLocked
from connector.storage.db import current_revision, make_engine, sqlite_file, upgrade

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command()(run)
    app.add_typer(db_app, name="db")
    db_app.command("upgrade")(db_upgrade)
    db_app.command("copy")(db_copy)


def run(
    config: ConfigOption = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Run the daemon: webhooks, polls, write-backs, API and dashboard, until SIGTERM or Ctrl-C."""
    from connector.app.daemon import Daemon
    from connector.storage.runtime import Runtime

    cfg = open_config(config)
    logs.configure(level=log_level, secrets=logs.registered_secrets())
    runtime = Runtime.open(cfg)
    try:
        code = Daemon(runtime).run()
    except DaemonLocked as exc:
        fail(str(exc), code=1)
    finally:
        runtime.close()
    raise SystemExit(code)


def db_upgrade(config: ConfigOption = None) -> None:
    """Apply the database migrations (the daemon also does this at start)."""
    cfg = open_config(config)
    engine = make_engine(cfg.daemon.database_url)
    try:
        upgrade(engine)
        revision = current_revision(engine)
    finally:
        engine.dispose()
    console.print(f"database at revision {revision}: {_shown(cfg.daemon.database_url)}", highlight=False)


def db_copy(
    source: Annotated[
        str, typer.Option("--from", help="The database to copy from, e.g. sqlite:////path/connector.db.")
    ],
    config: ConfigOption = None,
) -> None:
    """Copy every row of another database into the configured one (migrated first; it must be empty)."""
    from connector.storage.copy import CopyRefused, copy_rows

    cfg = open_config(config)
    missing = sqlite_file(source)  # None for PostgreSQL
    if missing is not None and not missing.exists():
        fail(f"nothing copied: {missing} does not exist", code=1)
    target = make_engine(cfg.daemon.database_url)
    origin = make_engine(source)
    try:
        upgrade(target)
        copied = copy_rows(origin, target)
    except CopyRefused as exc:
        fail(f"nothing copied: {exc}", code=1)
    finally:
        origin.dispose()
        target.dispose()
    for table, rows in copied.items():
        console.print(f"{table}: {rows} rows", highlight=False)
    console.print(f"copied {_shown(source)} into {_shown(cfg.daemon.database_url)}", highlight=False)


def _shown(url: str) -> str:
    """The database URL without its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
