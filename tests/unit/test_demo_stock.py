"""The demo's stock: one seeded count per SKU and location, written as a POS count file and imported the way
`connector stock import` does; replaying the demo's own order stream over it, most orders ship from one place."""

from __future__ import annotations

import csv
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from connector.app.demo import _template
from connector.app.demo_stock import demo_counts, import_counts_file, write_counts_csv
from connector.orders.model import Platform
from connector.runtime.config import validate_config
from connector.stock import imports, ledger
from connector.stock.allocation import Demand, LocationInfo, allocate
from connector.storage.db import upgrade
from connector.storage.runtime import Runtime
from sandbox import SANDBOXES

TEMPLATE = _template()
LOCATIONS = [LocationInfo(loc["name"], loc["priority"], loc["pickup"]) for loc in TEMPLATE["locations"]]
NAMES = [loc.name for loc in sorted(LOCATIONS, key=lambda loc: loc.priority)]


def demo_orders(count: int) -> list[dict[str, Any]]:
    """The order specs the demo creates, in order: five historical ones per sandbox, then the trickle's."""
    boxes = [SANDBOXES[p](locations=tuple(NAMES), seed=1) for p in Platform]
    specs = []
    for box in boxes:  # as Sandbox.seed_orders(1, 5) draws them
        rng = random.Random(1)
        specs += [box.random_order_spec(rng) for _ in range(5)]
    rng = random.Random(7)  # as demo.Trickle draws them
    while len(specs) < count:
        box = rng.choice(boxes)
        specs.append(box.random_order_spec(rng))
    return specs[:count]


def catalogue_skus() -> set[str]:
    return {sku for p in Platform for sku in SANDBOXES[p](locations=tuple(NAMES), seed=1).catalogue}


def test_every_sku_gets_one_count_per_location_and_the_same_seed_gives_the_same_counts() -> None:
    skus = catalogue_skus()
    counts = demo_counts(skus, NAMES)
    assert Counter((c.sku, c.location) for c in counts) == Counter({(s, loc): 1 for s in skus for loc in NAMES})
    assert all(c.on_hand >= 0 for c in counts)
    assert demo_counts(sorted(skus, reverse=True), NAMES) == counts
    assert demo_counts(skus, NAMES, seed=99) != counts


def test_a_location_list_is_required() -> None:
    with pytest.raises(ValueError, match="at least one location"):
        demo_counts({"SKU-1"}, [])


@pytest.mark.parametrize("orders", [40, 100])
def test_the_demo_orders_mostly_ship_from_one_place_some_split_a_few_back_order(orders: int) -> None:
    stock = {(c.sku, c.location): c.on_hand for c in demo_counts(catalogue_skus(), NAMES)}
    seen: Counter[str] = Counter()
    for spec in demo_orders(orders):
        pickup = spec.get("pickup_location") if spec["kind"] == "pickup" else None
        result = allocate(
            [Demand(li["sku"], li["quantity"]) for li in spec["lines"]], stock, LOCATIONS, pickup_location=pickup
        )
        for part in result.parts:
            for line in part.lines:
                stock[(line.sku, part.location)] -= line.quantity
        seen["fulfilled"] += bool(result.parts)
        seen["one_place"] += len(result.parts) == 1
        seen["split"] += len(result.parts) > 1
        seen["back_ordered"] += bool(result.back_orders)
    assert seen["fulfilled"] >= 0.9 * orders
    assert seen["one_place"] >= 0.8 * orders
    assert seen["split"] >= 1
    assert 1 <= seen["back_ordered"] <= 0.2 * orders


def test_the_count_file_is_imported_through_the_stock_import_path(tmp_path: Path) -> None:
    config = validate_config(
        {
            "daemon": {"admin_token": "x" * 20, "database_url": f"sqlite:///{tmp_path / 'demo.db'}"},
            "locations": TEMPLATE["locations"],
        }
    )
    runtime = Runtime.open(config)
    try:
        upgrade(runtime.engine)
        counts = demo_counts(catalogue_skus(), NAMES)
        path = tmp_path / "demo" / "stock.csv"
        write_counts_csv(path, counts)
        with path.open(newline="") as stream:
            read_back = [ledger.Count(r["sku"], r["location"], int(r["on_hand"])) for r in csv.DictReader(stream)]
        assert read_back == counts

        imported = import_counts_file(runtime, path)
        assert (imported.counts, imported.skus, imported.locations) == (len(counts), 24, 3)
        assert imported.summary(path) == f"imported {len(counts)} counts for 24 SKUs at 3 locations from {path}"
        with runtime.reads() as session:
            on_hand = {key: level.on_hand for key, level in ledger.levels(session).items()}
        assert on_hand == {(c.sku, c.location): c.on_hand for c in counts if c.on_hand}  # a zero moves nothing

        path.write_text("sku,location,on_hand\nSKU-0001,amsterdam,5\nSKU-0002,nowhere,3\n")
        with pytest.raises(imports.CsvError, match="unknown location 'nowhere'"):
            import_counts_file(runtime, path)
        with runtime.reads() as session:  # a bad file moves nothing, not even its good first row
            assert {key: level.on_hand for key, level in ledger.levels(session).items()} == on_hand
    finally:
        runtime.close()
