"""`connector resync`, `connector webhooks register`, `connector inbox list|replay`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from connector.cli.common import (
    ConfigOption,
    JsonOption,
    StoreOption,
    bad_choice,
    console,
    fail,
    open_config,
    print_json,
)
from connector.cli.timeutil import parse_since
from connector.orders.service import InvalidChoice, NotFound, Service
from connector.runtime.errors import SyncError
from connector.stock.order_effects import Stocker
from connector.storage.db import upgrade
from connector.storage.runtime import Runtime
from connector.sync.store_sync import StoreSync

webhooks_app = typer.Typer(help="Webhook subscriptions on the platforms.", no_args_is_help=True)
inbox_app = typer.Typer(help="Received deliveries and dead letters.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command()(resync)
    app.add_typer(webhooks_app, name="webhooks")
    app.add_typer(inbox_app, name="inbox")


def _open(config: ConfigOption) -> Runtime:
    runtime = Runtime.open(open_config(config))
    upgrade(runtime.engine)
    runtime.sync_stores()
    return runtime


def resync(
    store: StoreOption,
    since: Annotated[str, typer.Option(help="ISO-8601 time (naive = UTC) or an age like 24h or 30d.")],
    config: ConfigOption = None,
) -> None:
    """Backfill a store from a point in time through the poll path (idempotent: unchanged orders are skipped)."""
    try:
        start = parse_since(since)
    except ValueError as exc:
        fail(f"--since: {exc}", code=2)
    runtime = _open(config)
    sync = StoreSync(runtime, runtime.config.store(store))
    sync.hooks.append(Stocker(runtime.config))
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=console, transient=False) as progress:
            task = progress.add_task(f"{store} since {start:%Y-%m-%d %H:%M}Z", total=None)

            def advance(count: int, total: int | None) -> None:
                progress.update(task, advance=count, total=total)

            result = sync.poll(since=start, progress=advance)
    except SyncError as exc:
        fail(f"resync of {store} stopped: {exc} (run it again to continue; nothing is lost)")
    finally:
        sync.close()
        runtime.close()
    console.print(
        f"{result.seen} orders read in {result.pages} pages, {result.stored} stored, {result.dead} dead letters"
    )


@webhooks_app.command("register")
def webhooks_register(store: StoreOption, config: ConfigOption = None) -> None:
    """Subscribe {public_url}/webhooks/{store} to the platform's order topics (existing ones are kept)."""
    runtime = _open(config)
    sync = StoreSync(runtime, runtime.config.store(store))
    address = f"{runtime.config.daemon.public_url}/webhooks/{store}"
    try:
        created = sync.client.register_webhooks(address)
    except SyncError as exc:
        fail(f"could not register webhooks for {store}: {exc}")
    finally:
        sync.close()
        runtime.close()
    console.print(f"{store}: webhooks point at {address}")
    for line in created:
        console.print(f"  {line}", highlight=False)


@inbox_app.command("list")
def inbox_list(
    config: ConfigOption = None,
    as_json: JsonOption = False,
    dead: Annotated[bool, typer.Option("--dead", help="Only dead letters.")] = False,
    store: Annotated[str | None, typer.Option(help="Only this store.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
) -> None:
    """Deliveries received (webhooks, dead poll items), newest first."""
    runtime = _open(config)
    try:
        rows = Service(runtime).inbox(dead=dead, store=store, limit=limit)
    except InvalidChoice as exc:
        bad_choice(exc)
    finally:
        runtime.close()
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"{len(rows)} deliveries")
    columns = ("id", "store", "source", "topic", "external_id", "status", "received_at", "error")
    for column in columns:
        table.add_column(column)
    for r in rows:
        table.add_row(*(str(r[c] if r[c] is not None else "") for c in columns))
    console.print(table)


@inbox_app.command("replay")
def inbox_replay(
    item_id: Annotated[int, typer.Argument(help="The delivery's id (from inbox list).")], config: ConfigOption = None
) -> None:
    """Put a delivery (typically a dead letter) back in the queue; the daemon ingests it again."""
    runtime = _open(config)
    try:
        Service(runtime).replay(item_id)
    except NotFound as exc:
        fail(str(exc))
    finally:
        runtime.close()
    console.print(f"delivery {item_id} queued again")
