"""`connector stock import|move|history|pull|show` and `connector allocation simulate`."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select

from connector.cli.common import ConfigOption, JsonOption, StoreOption, console, fail, open_config, print_json
from connector.cli.timeutil import parse_since
from connector.orders.service import BadInput, Service
from connector.platforms import open_client
from connector.platforms.base import StockCount
from connector.runtime.config import Config, StoreConfig
from connector.runtime.errors import ConfigError, SkippableError, SyncError
from connector.stock import imports, ledger
from connector.stock.allocation import LocationInfo, Strategy, allocate, merge_demands
from connector.stock.movements import Reason, pos_movement
from connector.storage import tables as t
from connector.storage.db import upgrade
from connector.storage.runtime import Runtime

stock_app = typer.Typer(help="Stock per SKU and location.", no_args_is_help=True)
allocation_app = typer.Typer(help="Allocation strategies.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(stock_app, name="stock")
    app.add_typer(allocation_app, name="allocation")


def _open(config: ConfigOption) -> Runtime:
    runtime = Runtime.open(open_config(config))
    upgrade(runtime.engine)
    return runtime


@stock_app.command("import")
def stock_import(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV: sku,location,on_hand (absolute counts) or key,sku,location,delta,reason (movements)."
        ),
    ],
    config: ConfigOption = None,
    batch: Annotated[
        str | None, typer.Option(help="Idempotency key of a count file: the same batch imported twice moves nothing.")
    ] = None,
) -> None:
    """Set on-hand counts or apply POS movements from a file, all or nothing; waiting back-orders take new stock."""
    runtime = _open(config)
    try:
        try:
            with file.open(encoding="utf-8-sig", newline="") as stream:
                result = Service(runtime).import_stock(stream, batch=batch or uuid.uuid4().hex)
        except OSError as exc:
            fail(f"cannot read {file}: {exc.strerror}", code=2)
        except (imports.CsvError, UnicodeDecodeError) as exc:
            fail(f"{file}: {exc} (nothing was applied)", code=2)
    finally:
        runtime.close()
    if result.kind == "counts":
        console.print(f"{result.rows} counts read, {result.changed} levels changed", highlight=False)
    else:
        console.print(f"{result.rows} movements read, {result.changed} applied", highlight=False)
    if result.served:
        console.print(f"{result.served} back-ordered orders took the new stock", highlight=False)


@stock_app.command("move")
def stock_move(
    sku: Annotated[str, typer.Argument(help="The SKU whose on-hand changes.")],
    location: Annotated[str, typer.Option(help="Where the units are.")],
    delta: Annotated[int, typer.Option(help="Signed change of on-hand: a sale of one is -1.")],
    reason: Annotated[Reason, typer.Option(help="Why on-hand changed.")],
    key: Annotated[
        str | None, typer.Option(help="The POS's idempotency key (a key seen before moves nothing); default: new.")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Apply one POS movement (as POST /api/stock/movements does for a batch)."""
    key = key or uuid.uuid4().hex
    try:
        movement = pos_movement(key, sku, location, delta, reason)
    except ValueError as exc:
        fail(f"--delta: {exc}", code=2)
    runtime = _open(config)
    try:
        try:
            [applied] = Service(runtime).move_stock([movement])
        except BadInput as exc:
            fail(f"--{exc.where[-1]}: {exc.message}", code=2)
    finally:
        runtime.close()
    state = "applied" if applied else "duplicate (key seen before: nothing moved)"
    console.print(f"{key}: {state}", highlight=False)


@stock_app.command("history")
def stock_history(
    sku: Annotated[str, typer.Argument(help="The SKU.")],
    location: Annotated[str | None, typer.Option(help="Only this location.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="At most this many movements, newest first.")] = 200,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every change of a SKU's stock, newest first, with the level each one left."""
    runtime = _open(config)
    try:
        rows = Service(runtime).stock_history(sku, location=location, limit=limit)
    finally:
        runtime.close()
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"Stock history of {sku}")
    columns = ("at", "location", "kind", "reason", "on_hand_delta", "allocated_delta", "reserved_delta", "on_hand")
    for column in (*columns, "available", "order_id"):
        table.add_column(
            column.replace("_delta", " Δ"), justify="right" if column.endswith(("delta", "id")) else "left"
        )
    for r in rows:
        table.add_row(*("" if r[c] is None else str(r[c]) for c in (*columns, "available", "order_id")))
    console.print(table)


@stock_app.command("pull")
def stock_pull(
    store: StoreOption,
    config: ConfigOption = None,
) -> None:
    """Set on-hand counts from a platform that keeps stock per location (Shopify, BigCommerce).

    Reads every SKU's count at each location that has an id for the store's platform
    (`[[locations]].platform_ids`) and sets our on-hand to it, as `stock import` does with a POS export.
    """
    runtime = _open(config)
    try:
        try:
            settings = runtime.config.store(store)
            counts, below_zero = merge_counts(_read_stock(settings, _location_ids(runtime.config, settings)))
        except ConfigError as exc:
            fail(f"config error: {exc}", code=2)
        except SkippableError as exc:
            fail(str(exc))
        except SyncError as exc:
            fail(f"stock pull from {store} stopped: {exc} (nothing was changed)")
        moved = Service(runtime).set_stock(counts, batch=f"pull-{store}-{uuid.uuid4().hex}")
    finally:
        runtime.close()
    console.print(f"{len(counts)} counts read from {store}, {moved} levels changed", highlight=False)
    if below_zero:
        console.print(f"{below_zero} counts below zero (oversold on the platform) were taken as 0", highlight=False)


def _location_ids(config: Config, store: StoreConfig) -> dict[str, str]:
    """Our location name -> the platform's id, for the locations that have one for the store's platform."""
    found = {
        loc.name: loc.platform_ids[store.platform] for loc in config.locations if store.platform in loc.platform_ids
    }
    if not found:
        key = "locations[].platform_ids"
        raise ConfigError(
            key, f"no location has an id for {store.platform.value} (needed to pull {store.name}'s stock)"
        )
    return found


def _read_stock(store: StoreConfig, location_ids: Mapping[str, str]) -> list[StockCount]:
    client = open_client(store)
    try:
        return list(client.read_stock(location_ids))
    finally:
        client.close()


def merge_counts(read: Iterable[StockCount]) -> tuple[list[ledger.Count], int]:
    """One count per (sku, location): items sharing a SKU add up; a count below zero (the platform let the item
    be oversold) is taken as none on hand, since our ledger's on-hand cannot go negative. Also says how many were."""
    totals: dict[tuple[str, str], int] = {}
    for c in read:
        totals[(c.sku, c.location)] = totals.get((c.sku, c.location), 0) + c.on_hand
    counts = [ledger.Count(sku, location, max(0, units)) for (sku, location), units in sorted(totals.items())]
    return counts, sum(units < 0 for units in totals.values())


@stock_app.command("show")
def stock_show(
    config: ConfigOption = None,
    as_json: JsonOption = False,
    sku: Annotated[str | None, typer.Option(help="Only this SKU.")] = None,
    location: Annotated[str | None, typer.Option(help="Only this location.")] = None,
) -> None:
    """On hand, allocated, reserved and available per SKU and location."""
    runtime = _open(config)
    try:
        with runtime.reads() as session:
            rows = ledger.stock_rows(session, sku=sku, location=location)
    finally:
        runtime.close()
    if as_json:
        print_json(rows)
        return
    table = Table(title="Stock")
    for column in ("sku", "location", "on_hand", "allocated", "reserved", "available"):
        table.add_column(column, justify="right" if column not in {"sku", "location"} else "left")
    for r in rows:
        table.add_row(*(str(r[c]) for c in ("sku", "location", "on_hand", "allocated", "reserved", "available")))
    console.print(table)


@allocation_app.command("simulate")
def simulate(
    since: Annotated[str, typer.Option(help="Replay orders created since (ISO-8601 or an age like 30d).")],
    strategy: Annotated[Strategy, typer.Option(help="The strategy to try.")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Replay past orders under another strategy: how many splits and back-orders it would give (no writes).

    Starts from today's on-hand stock and takes each order's units as it goes, in creation order, for the
    configured strategy of each store and for the one given; the comparison is like for like.
    """
    try:
        start = parse_since(since)
    except ValueError as exc:
        fail(f"--since: {exc}", code=2)
    runtime = _open(config)
    locations = [LocationInfo(loc.name, loc.priority, loc.pickup) for loc in runtime.config.locations]
    try:
        with runtime.reads() as session:
            orders = session.scalars(
                select(t.Order)
                .where(t.Order.platform_created_at >= start, t.Order.cancelled.is_(False))
                .order_by(t.Order.platform_created_at, t.Order.id)
            ).all()
            stock = {k: v.on_hand for k, v in ledger.levels(session).items()}
            current = {s.name: Strategy(s.allocation) for s in runtime.config.stores}
            configured = _replay(orders, dict(stock), locations, lambda o: current.get(o.store.name))
            tried = _replay(orders, dict(stock), locations, lambda _o: strategy)
    finally:
        runtime.close()
    report = {"orders": len(orders), "since": start.isoformat(), "configured": configured, strategy.value: tried}
    if as_json:
        print_json(report)
        return
    table = Table(title=f"{len(orders)} orders since {start:%Y-%m-%d}")
    for column in ("strategy", "split orders", "locations used", "back-ordered orders", "back-ordered units"):
        table.add_column(column)
    for name, r in (("configured", configured), (strategy.value, tried)):
        table.add_row(
            name,
            str(r["split_orders"]),
            str(r["locations_used"]),
            str(r["back_ordered_orders"]),
            str(r["back_ordered_units"]),
        )
    console.print(table)


def _replay(
    orders: Sequence[t.Order],
    stock: dict[tuple[str, str], int],
    locations: list[LocationInfo],
    choose: Callable[[t.Order], Strategy | None],
) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for order in orders:
        chosen = choose(order) or Strategy.FEWEST_LOCATIONS
        pickup = (
            order.pickup_location
            if order.kind == "pickup" and order.pickup_location in {loc.name for loc in locations}
            else None
        )
        result = allocate(merge_demands(order.lines), stock, locations, chosen, pickup_location=pickup)
        for part in result.parts:
            for d in part.lines:
                stock[(d.sku, part.location)] = stock.get((d.sku, part.location), 0) - d.quantity
        counts["split_orders"] += len(result.parts) > 1
        counts["locations_used"] += len(result.parts)
        counts["back_ordered_orders"] += bool(result.back_orders)
        counts["back_ordered_units"] += sum(d.quantity for d in result.back_orders)
    return {k: counts[k] for k in ("split_orders", "locations_used", "back_ordered_orders", "back_ordered_units")}
