"""Allocation, end to end: orders from the sandboxes are split over the locations as each store's strategy says.

One stack, each platform's store on its own strategy (`STRATEGIES`, every strategy on at least one platform). Stock
is imported once, through `connector stock import`, with the same layout for every platform under its own SKUs, a
layout on which the three strategies disagree. Orders are created in the sandboxes and arrive by webhook; what the
connector made of them is read through the real CLI, as support staff would: `orders show --json` (fulfilments per
location with their lines, back-orders, the strategy) and `stock show --json` (allocated and available per SKU and
location).

Locations (the harness's): amsterdam priority 1, utrecht 2, rotterdam 3, all of them pickup points.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from connector.orders.model import Platform
from connector.storage import tables as t
from tests.acceptance.harness import Stack, running_stack, wait_for
from tests.support import cli

STRATEGIES = {
    Platform.SHOPIFY: "fewest_locations",
    Platform.WOOCOMMERCE: "priority",
    Platform.BIGCOMMERCE: "most_stock",
    Platform.LIGHTSPEED: "fewest_locations",
}
PLATFORMS = list(Platform)

# On hand per (SKU role, location). A delivery order for A x2 + B x2: utrecht and rotterdam could each send all
# of it; amsterdam, the first by priority, only has A.
STOCK = {
    ("A", "amsterdam"): 2,
    ("A", "utrecht"): 2,
    ("A", "rotterdam"): 3,
    ("B", "utrecht"): 2,
    ("B", "rotterdam"): 3,
    ("C", "amsterdam"): 1,
    ("C", "utrecht"): 5,
    ("C", "rotterdam"): 5,
}
DELIVERY = {"A": 2, "B": 2}
Split = list[tuple[str, dict[str, int]]]  # (location, {SKU role: units}) per fulfilment, by location priority
EXPECTED: dict[str, Split] = {
    # one location when any can send it all: the best by priority of those (utrecht)
    "fewest_locations": [("utrecht", {"A": 2, "B": 2})],
    # each line from the first location by priority that has it whole: A from amsterdam, B from utrecht
    "priority": [("amsterdam", {"A": 2}), ("utrecht", {"B": 2})],
    # the location holding the most units of the order's SKUs that can send it all (rotterdam, 6 units)
    "most_stock": [("rotterdam", {"A": 2, "B": 2})],
}


def sku(platform: Platform, role: str) -> str:
    """Each platform's orders use SKUs of their own, so the platforms never draw on one another's stock."""
    return f"ALLOC-{platform.value.upper()}-{role}"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("allocation")
    with running_stack(tmp, f"sqlite:///{tmp / 'connector.db'}", allocation=STRATEGIES) as running:
        counts = tmp / "counts.csv"
        rows = [f"{sku(p, role)},{location},{units}" for p in PLATFORMS for (role, location), units in STOCK.items()]
        counts.write_text("\n".join(["sku,location,on_hand", *rows]) + "\n")
        imported = connector(running, "stock", "import", str(counts))
        assert f"{len(rows)} counts read" in imported, imported
        yield running


def connector(stack: Stack, *args: str) -> str:
    """`connector ARGS --config ...` in a fresh process; it must succeed."""
    done = cli(*args, "--config", str(stack.config_path), cwd=stack.config_path.parent)
    assert done.returncode == 0, done.stderr
    return done.stdout


def allocated(stack: Stack, platform: Platform, created: dict[str, Any]) -> str:
    """Wait until the connector has the order the sandbox created and has allocated it; its CLI reference."""
    external_id = str(created.get("order", created)["id"])

    def done() -> bool:
        with stack.daemon.runtime.sessions() as session:
            row = session.scalar(
                select(t.Order)
                .join(t.Store)
                .where(t.Store.name == stack.store(platform), t.Order.external_id == external_id)
            )
            return row is not None and row.allocation is not None

    wait_for(done, timeout=30, what=f"{platform.value} order {external_id} allocated")
    return f"{stack.store(platform)}:{external_id}"


def shown(stack: Stack, ref: str) -> dict[str, Any]:
    detail: dict[str, Any] = json.loads(connector(stack, "orders", "show", ref, "--json"))
    return detail


def split(detail: dict[str, Any], platform: Platform) -> Split:
    """The order's fulfilments as (location, {SKU role: units}), SKUs named by their role."""
    role = {sku(platform, r): r for r in ("A", "B", "C")}
    return [
        (part["location"], {role[line["sku"]]: line["quantity"] for line in part["lines"]})
        for part in detail["fulfilments"]
    ]


def levels(stack: Stack, platform: Platform) -> dict[tuple[str, str], dict[str, int]]:
    """`stock show --json` for the platform's SKUs: (SKU role, location) -> on_hand, allocated, available."""
    role = {sku(platform, r): r for r in ("A", "B", "C")}
    rows = json.loads(connector(stack, "stock", "show", "--json"))
    keys = ("on_hand", "allocated", "available")
    return {(role[r["sku"]], r["location"]): {k: r[k] for k in keys} for r in rows if r["sku"] in role}


def test_the_stock_layout_makes_the_strategies_disagree() -> None:
    splits = [json.dumps(expected, sort_keys=True) for expected in EXPECTED.values()]
    assert len(set(splits)) == len(EXPECTED)
    assert set(STRATEGIES.values()) == set(EXPECTED)  # every strategy runs on some platform


@pytest.mark.parametrize("platform", PLATFORMS)
def test_orders_are_split_as_the_stores_strategy_says_and_a_pickup_is_pinned(stack: Stack, platform: Platform) -> None:
    """A delivery order (A x2, B x2) goes where the store's strategy sends it. A pickup order at amsterdam for C x3
    takes the 1 amsterdam has and back-orders 2, whatever the strategy: none is fetched from utrecht or rotterdam
    (5 each). Both orders are placed before either is read, so they arrive together."""
    strategy = STRATEGIES[platform]
    lines = [{"sku": sku(platform, role), "quantity": units} for role, units in DELIVERY.items()]
    delivery = stack.create_order(platform, {"lines": lines, "kind": "delivery", "paid": True})
    pickup_lines = [{"sku": sku(platform, "C"), "quantity": 3}]
    pickup = stack.create_order(platform, {"lines": pickup_lines, "kind": "pickup", "pickup_location": "amsterdam"})

    sent = shown(stack, allocated(stack, platform, delivery))
    assert sent["allocation"]["strategy"] == strategy
    assert split(sent, platform) == EXPECTED[strategy]
    assert sent["back_orders"] == {}
    assert all(part["status"] == "new" for part in sent["fulfilments"])

    pinned = shown(stack, allocated(stack, platform, pickup))
    assert pinned["kind"] == "pickup"
    assert pinned["allocation"]["reason"].startswith("pickup pinned to amsterdam")
    assert split(pinned, platform) == [("amsterdam", {"C": 1})]
    assert pinned["back_orders"] == {sku(platform, "C"): 2}
    assert [line["quantity"] for line in pinned["lines"]] == [3]  # the order keeps what the customer ordered

    taken = {
        (role, loc): units
        for loc, part in [*EXPECTED[strategy], ("amsterdam", {"C": 1})]
        for role, units in part.items()
    }
    expected = {
        key: {"on_hand": on_hand, "allocated": taken.get(key, 0), "available": on_hand - taken.get(key, 0)}
        for key, on_hand in STOCK.items()
    }
    assert levels(stack, platform) == expected
