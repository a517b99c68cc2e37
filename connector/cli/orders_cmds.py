"""`connector orders list|show`: the stored orders, as a table or as the order JSON of the public interface."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from connector.cli.common import ConfigOption, JsonOption, console, fail, open_config, print_json
from connector.model import Order, order_json
from connector.runtime import Runtime
from connector.storage.db import upgrade
from connector.storage.orders import find_order_row, list_orders, to_model

app = typer.Typer(help="Orders: list, show.", no_args_is_help=True)


def _runtime(config: ConfigOption) -> Runtime:
    runtime = Runtime.open(open_config(config))
    upgrade(runtime.engine)
    return runtime


@app.command("list")
def list_(
    config: ConfigOption = None,
    as_json: JsonOption = False,
    store: Annotated[str | None, typer.Option(help="Only this store.")] = None,
    status: Annotated[str | None, typer.Option(help="open, completed or cancelled.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
) -> None:
    """List orders, newest first."""
    runtime = _runtime(config)
    try:
        with runtime.sessions() as session:
            orders = list_orders(session, store=store, status=status, limit=limit)
    finally:
        runtime.close()
    if as_json:
        print_json([order_json(o) for o in orders])
        return
    _table(orders)


@app.command()
def show(
    order: Annotated[str, typer.Argument(help="Order id, store:external_id, or display number (#1001).")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one order with its lines and fulfilments."""
    runtime = _runtime(config)
    try:
        with runtime.sessions() as session:
            row = find_order_row(session, order)
            found = to_model(row) if row is not None else None
    finally:
        runtime.close()
    if found is None:
        fail(f"no order {order!r}", code=1)
    if as_json:
        print_json(order_json(found))
        return
    _detail(found)


def _table(orders: list[Order]) -> None:
    table = Table(title=f"{len(orders)} orders")
    for column in ("id", "store", "number", "date", "kind", "status", "fulfilment", "payment", "total"):
        table.add_column(column)
    for o in orders:
        table.add_row(
            str(o.id),
            o.store,
            o.number,
            o.created_at.strftime("%Y-%m-%d %H:%M"),
            o.kind.value,
            o.status.value,
            o.fulfilment_status.value,
            o.payment_status.value,
            str(o.total),
        )
    console.print(table)


def _detail(o: Order) -> None:
    console.print(
        f"[bold]{o.number}[/] ({o.store}, {o.platform.value} #{o.external_id}) — {o.kind.value}, "
        f"{o.status.value}, payment {o.payment_status.value}, platform status {o.platform_status}"
    )
    console.print(f"customer: {o.customer.name} <{o.customer.email}>  total: {o.total}")
    for line in o.lines:
        console.print(f"  {line.quantity} x {line.sku} {line.name} @ {line.unit_price.amount} = {line.total.amount}")
    for f in o.fulfilments:
        items = ", ".join(f"{fl.quantity}x{fl.sku}" for fl in f.lines)
        console.print(f"  fulfilment {f.id} at {f.location}: {f.status.value} [{items}]")
