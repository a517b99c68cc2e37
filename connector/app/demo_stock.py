"""The demo's stock: a POS count file derived from the sandboxes' catalogues, imported as a retailer would.

`demo_counts` gives every SKU the sandboxes sell a count at each location, from a seeded generator (the same SKUs
and seed always give the same file). The locations come in priority order, and each SKU draws one profile:

* most SKUs are stocked everywhere, the first location with the most: an order of them ships from one place;
* some are held only by the first location and some only by the others: an order mixing the two is split;
* a few are sold out everywhere: the lines that ask for them are back-ordered.

`write_counts_csv` writes the counts as the `sku,location,on_hand` file `connector stock import` reads, and
`import_counts_file` reads it back through the same import (`Service.import_stock`) that command uses.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from connector.orders.service import Service
from connector.stock import ledger
from connector.storage.runtime import Runtime

SEED = 12

# (share of SKUs, range at the first location, range at each other location); the shares add up to 1.
EVERYWHERE = (0.62, (60, 120), (15, 30))
FIRST_ONLY = (0.17, (40, 80), (0, 0))
OTHERS_ONLY = (0.17, (0, 0), (20, 40))
SOLD_OUT = (0.04, (0, 0), (0, 0))
PROFILES = (EVERYWHERE, FIRST_ONLY, OTHERS_ONLY, SOLD_OUT)


@dataclass(frozen=True)
class Imported:
    """What an import did: counts read, distinct SKUs and locations in them, levels changed."""

    counts: int
    skus: int
    locations: int
    changed: int

    def summary(self, path: Path) -> str:
        return f"imported {self.counts} counts for {self.skus} SKUs at {self.locations} locations from {path}"


def demo_counts(skus: Iterable[str], locations: Sequence[str], seed: int = SEED) -> list[ledger.Count]:
    """One count per SKU and location (locations in priority order, the first being the main shop)."""
    if not locations:
        raise ValueError("the demo needs at least one location")
    rng = random.Random(seed)  # noqa: S311 - demo stock, not a secret
    ordered = sorted(set(skus))
    rng.shuffle(ordered)
    counts = []
    for sku, (first, others) in zip(ordered, _profiles(len(ordered)), strict=True):
        counts.append(ledger.Count(sku, locations[0], rng.randint(*first)))
        counts += [ledger.Count(sku, loc, rng.randint(*others)) for loc in locations[1:]]
    return sorted(counts, key=lambda c: (c.sku, locations.index(c.location)))


def _profiles(n: int) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """The profile of each of `n` SKUs: each rarer profile's share of `n` (rounded), the rest stocked everywhere."""
    rare = [(first, others) for share, first, others in PROFILES[1:] for _ in range(round(share * n))]
    rare = rare[:n]
    return rare + [(EVERYWHERE[1], EVERYWHERE[2])] * (n - len(rare))


def write_counts_csv(path: Path, counts: Iterable[ledger.Count]) -> None:
    """The counts as a POS export: header `sku,location,on_hand`, one row per count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["sku", "location", "on_hand"])
        writer.writerows([c.sku, c.location, c.on_hand] for c in counts)


def import_counts_file(runtime: Runtime, path: Path) -> Imported:
    """Read a count file and set on-hand from it, exactly as `connector stock import` does.

    Raises `imports.CsvError` for a bad file (nothing is imported then) and `OSError` when it cannot be read.
    """
    with path.open(encoding="utf-8-sig", newline="") as stream:
        result = Service(runtime).import_stock(stream, batch=f"demo:{path.name}")
    with path.open(encoding="utf-8-sig", newline="") as stream:
        rows = list(csv.DictReader(stream))
    return Imported(result.rows, len({r["sku"] for r in rows}), len({r["location"] for r in rows}), result.changed)
