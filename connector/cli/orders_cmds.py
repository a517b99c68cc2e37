"""`connector orders …`: list, show (with the timeline), fulfilment actions, assignment, payments, notes; `outbox …`."""

from __future__ import annotations

import getpass
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from connector.cli.common import ConfigOption, JsonOption, bad_choice, console, fail, open_config, print_json
from connector.orders.fulfilment import ActionRefused, LocationNeeded, Tracking
from connector.orders.model import OrderStatus
from connector.orders.service import InvalidChoice, NotFound, Service
from connector.storage.db import upgrade
from connector.storage.runtime import Runtime

app = typer.Typer(help="Orders: list, show, fulfil.", no_args_is_help=True)
outbox_app = typer.Typer(help="Write-backs to the platforms.", no_args_is_help=True)
OrderArg = Annotated[str, typer.Argument(help="Order id, store:external_id, or display number (#1001).")]
LocationOption = Annotated[str | None, typer.Option(help="Only this location's part of the order.")]


def _service(config: ConfigOption) -> tuple[Runtime, Service]:
    runtime = Runtime.open(open_config(config))
    upgrade(runtime.engine)
    return runtime, Service(runtime)


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


@app.command("list")
def list_(
    config: ConfigOption = None,
    as_json: JsonOption = False,
    store: Annotated[str | None, typer.Option(help="Only this store.")] = None,
    status: Annotated[OrderStatus | None, typer.Option(help="Only orders in this state.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    backordered: Annotated[
        bool, typer.Option("--backordered", help="Only orders waiting for stock, with what they wait for.")
    ] = False,
) -> None:
    """List orders, newest first."""
    runtime, service = _service(config)
    try:
        orders = service.orders(
            store=store, status=status.value if status else None, limit=limit, backordered=backordered
        )
    except InvalidChoice as exc:
        bad_choice(exc)
    finally:
        runtime.close()
    if as_json:
        print_json(orders)
        return
    table = Table(title=f"{len(orders)} orders")
    for column in ("id", "store", "number", "date", "kind", "status", "fulfilment", "assigned", "payment", "total"):
        table.add_column(column)
    if backordered:
        table.add_column("back-ordered")
    for o in orders:
        table.add_row(
            str(o["id"]),
            o["store"],
            o["number"],
            o["created_at"][:16].replace("T", " "),
            o["kind"],
            o["status"],
            o["fulfilment_status"],
            escape(_assigned(o)),
            o["payment_status"],
            f"{o['total']} {o['currency']}",
            *([", ".join(f"{q}x{sku}" for sku, q in o["back_orders"].items())] if backordered else []),
        )
    console.print(table)


def _assigned(o: dict[str, Any]) -> str:
    """Who has the order's live parts, compact: `Ann`, or `amsterdam: Ann, utrecht: -` when it is split."""
    parts = [f for f in o["fulfilments"] if f["status"] != "cancelled"]
    if not any(f["assigned_user"] for f in parts):
        return ""
    if len(parts) == 1:
        return str(parts[0]["assigned_user"])
    return ", ".join(f"{f['location']}: {f['assigned_user'] or '-'}" for f in parts)


@app.command()
def show(
    order: OrderArg,
    config: ConfigOption = None,
    as_json: JsonOption = False,
    raw: Annotated[bool, typer.Option("--raw", help="Include each inbound event's raw payload.")] = False,
) -> None:
    """One order: lines, fulfilments per location, and its timeline (what came in, was decided, was written)."""
    runtime, service = _service(config)
    try:
        detail = service.order(order, raw=raw)
    except NotFound as exc:
        fail(str(exc))
    finally:
        runtime.close()
    if as_json:
        print_json(detail)
        return
    render_order(detail, raw=raw)


def render_order(o: dict[str, Any], *, raw: bool = False) -> None:
    console.print(
        f"[bold]{o['number']}[/] ({o['store']}, {o['platform']} #{o['external_id']}) — {o['kind']}, "
        f"{o['status']}, fulfilment {o['fulfilment_status']}, payment {o['payment_status']}, "
        f"platform status {o['platform_status']}",
        highlight=False,
    )
    customer = o["customer"]
    console.print(
        f"customer: {customer['name']} <{customer['email']}>   total: {o['total']} {o['currency']}", highlight=False
    )
    if o.get("totals_difference"):
        console.print(f"[yellow]totals differ from the platform's by {o['totals_difference']}[/]")
    if o.get("conflict"):
        console.print(f"[red]conflict:[/] {o['conflict']}", highlight=False)
    for line in o["lines"]:
        console.print(
            f"  {line['quantity']} x {line['sku']} {line['name']} @ {line['unit_price']} = {line['total']}",
            highlight=False,
        )
    for f in o["fulfilments"]:
        items = ", ".join(f"{fl['quantity']}x{fl['sku']}" for fl in f["lines"])
        tracking = f" tracking {f['tracking']['carrier']} {f['tracking']['number']}" if f["tracking"] else ""
        assigned = f" assigned to {f['assigned_user']}" if f.get("assigned_user") else ""
        console.print(
            f"  fulfilment {f['id']} at {f['location']}: {f['status']} [{items}]{tracking}{assigned}",
            highlight=False,
            markup=False,
        )
    for line in back_order_lines(o.get("back_orders")):
        console.print(f"  {line}", highlight=False, markup=False)
    console.print("[bold]timeline[/]")
    for entry in o.get("timeline", []):
        console.print(
            f"  {entry['at'][:19]}  {entry['kind']:<10} {escape(entry['summary'])}  [dim]({escape(entry['actor'])})[/]",
            highlight=False,
        )
        if raw and entry.get("raw"):
            console.print(f"      {entry['raw']}", highlight=False, markup=False, soft_wrap=True)


def back_order_lines(back_orders: Any) -> list[str]:
    """Back-orders as text, one line per SKU: `back-ordered: 2 x SKU-1, waiting for stock` (or `… at utrecht`).

    Stored as `{sku: units}` (no location has the stock yet); a list of `{sku, quantity, location}` reads the same.
    """
    if not back_orders:
        return []
    items = back_orders.items() if isinstance(back_orders, dict) else [(b["sku"], b) for b in back_orders]
    lines = []
    for sku, owed in items:
        quantity, location = (owed.get("quantity"), owed.get("location")) if isinstance(owed, dict) else (owed, None)
        lines.append(f"back-ordered: {quantity} x {sku}, " + (f"at {location}" if location else "waiting for stock"))
    return lines


def _act(order: str, config: ConfigOption, as_json: bool, run: Any, say: Any = None) -> None:
    """Run one action; print the order as JSON, or one line (`say(detail)`, else the latest timeline entry)."""
    runtime, service = _service(config)
    try:
        detail = run(service)
    except LocationNeeded as exc:
        fail(_choices(exc), code=2)
    except (ActionRefused, NotFound) as exc:
        fail(str(exc))
    finally:
        runtime.close()
    if as_json:
        print_json(detail)
    elif say is not None:
        console.print(say(detail), highlight=False, markup=False)
    else:
        last = detail["timeline"][-1]["summary"] if detail["timeline"] else ""
        console.print(
            f"{detail['number']}: {detail['status']} / {detail['fulfilment_status']} — {last}", highlight=False
        )


def _choices(exc: LocationNeeded) -> str:
    """The parts that could ship, one line each: `  --location utrecht   1 x B-2, 2 x C-3`."""
    head = str(exc).partition(";")[0] + "; choose one:"
    width = max(len(c["location"]) for c in exc.choices)
    rows = [
        f"  --location {c['location']:<{width}}  " + ", ".join(f"{ln['quantity']} x {ln['sku']}" for ln in c["lines"])
        for c in exc.choices
    ]
    return "\n".join([head, *rows])


def _fulfilment_command(action: str, doc: str) -> None:
    def command(
        order: OrderArg,
        location: LocationOption = None,
        notify: Annotated[bool, typer.Option("--notify", help="Ask the platform to tell the customer.")] = False,
        config: ConfigOption = None,
        as_json: JsonOption = False,
    ) -> None:
        _act(order, config, as_json, lambda s: s.act(order, action, actor=_actor(), location=location, notify=notify))

    command.__doc__ = doc
    app.command(action)(command)


for _action, _doc in (
    ("start", "Mark the order (or one location's part) in progress."),
    ("pack", "Mark packed (a pickup order must be paid first)."),
    ("pickup", "Mark a pickup order collected (it must be paid)."),
    ("cancel", "Cancel the order's open parts here: stock goes back."),
):
    _fulfilment_command(_action, _doc)


@app.command()
def ship(
    order: OrderArg,
    location: LocationOption = None,
    tracking: Annotated[str | None, typer.Option(help="Tracking number.")] = None,
    carrier: Annotated[str, typer.Option(help="Carrier, e.g. PostNL, DHL, UPS.")] = "",
    tracking_url: Annotated[str, typer.Option(help="Tracking link.")] = "",
    notify: Annotated[bool, typer.Option("--notify", help="Ask the platform to tell the customer.")] = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Mark shipped, with tracking (the order must be paid)."""
    if carrier and not tracking:
        fail("--carrier needs --tracking", code=2)
    track = Tracking(tracking, carrier, tracking_url) if tracking else None
    _act(
        order,
        config,
        as_json,
        lambda s: s.act(order, "ship", actor=_actor(), location=location, tracking=track, notify=notify),
    )


@app.command()
def assign(
    order: OrderArg,
    location: Annotated[str, typer.Option(help="The location whose part of the order is assigned.")],
    user: Annotated[str | None, typer.Option(help="Who does the work (a name as the shop knows it).")] = None,
    unassign: Annotated[bool, typer.Option("--unassign", help="Take the part back from whoever has it.")] = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Assign one location's open part of the order to a member of staff (--user NAME), or clear it (--unassign).

    Shown in the fulfilment queue, `orders show` and the API; recorded on the timeline. Never sent to the platform.
    """
    if unassign and user is not None:
        fail("--user and --unassign exclude each other", code=2)
    if not unassign and not (user or "").strip():
        fail("give --user NAME, or --unassign to clear the assignment", code=2)
    name = "" if unassign else (user or "")
    _act(
        order,
        config,
        as_json,
        lambda s: s.assign(order, location, name, actor=_actor()),
        lambda detail: _assignment(detail, location),
    )


def _assignment(detail: dict[str, Any], location: str) -> str:
    """What `orders assign` says: the part's assignment now (a repeated assignment adds no timeline entry)."""
    users = [f["assigned_user"] for f in detail["fulfilments"] if f["location"] == location and f["assigned_user"]]
    return f"{detail['number']} at {location}: " + (f"assigned to {users[0]}" if users else "unassigned")


@app.command()
def pay(
    order: OrderArg,
    amount: Annotated[str, typer.Option(help="Amount paid, e.g. 24.95.")],
    method: Annotated[str, typer.Option(help="cash, card, bank transfer…")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record a payment (takes no money; keeps the systems equal)."""
    _act(order, config, as_json, lambda s: s.pay(order, amount, method, actor=_actor()))


@app.command()
def note(
    order: OrderArg,
    text: Annotated[str, typer.Argument(help="The note (internal: never sent to the platform or the customer).")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add an internal note to the order's timeline."""
    _act(order, config, as_json, lambda s: s.note(order, text, actor=_actor()))


@app.command()
def confirm(order: OrderArg, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Confirm a reservation: the held stock becomes allocated."""
    _act(order, config, as_json, lambda s: s.confirm(order, actor=_actor()))


@outbox_app.command("list")
def outbox_list(
    config: ConfigOption = None,
    as_json: JsonOption = False,
    failed: Annotated[bool, typer.Option("--failed", help="Only write-backs that failed for good.")] = False,
    store: Annotated[str | None, typer.Option(help="Only this store.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
) -> None:
    """Write-backs to the platforms, newest first."""
    runtime, service = _service(config)
    try:
        rows = service.outbox(failed=failed, store=store, limit=limit)
    except InvalidChoice as exc:
        bad_choice(exc)
    finally:
        runtime.close()
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"{len(rows)} write-backs")
    columns = ("id", "store", "order", "action", "target", "location", "status", "attempts", "last_error")
    for column in columns:
        table.add_column(column)
    for r in rows:
        table.add_row(*(str(r[c]) if r[c] is not None else "" for c in columns))
    console.print(table)


@outbox_app.command("retry")
def outbox_retry(
    item_id: Annotated[int, typer.Argument(help="The write-back's id.")], config: ConfigOption = None
) -> None:
    """Queue a (failed) write-back again; the daemon applies it."""
    runtime, service = _service(config)
    try:
        service.retry(item_id)
    except NotFound as exc:
        fail(str(exc))
    finally:
        runtime.close()
    console.print(f"write-back {item_id} queued again")


__all__ = ["app", "outbox_app", "render_order"]
