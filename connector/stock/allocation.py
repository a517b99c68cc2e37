"""Allocation: which of the retailer's locations serve which lines of an order (design section 5).

`allocate` is a pure function of the order's demand, the available stock per `(sku, location)`, the locations'
priorities and a strategy; it does no I/O and reads no clock, so the same inputs always give the same answer.

Rules every strategy keeps:

* duplicate SKUs are merged into one demand; availability that is missing or negative counts as 0;
* a line is split over several locations only when no location (of those the strategy settled on) can take it
  whole;
* whatever cannot be covered is returned as a back-order, never dropped: parts + back-orders == demand;
* one part per location, parts ordered by location priority (lower number first, then the given order);
* a pickup order is pinned to its pickup location: what that shop has is taken there and the rest is
  back-ordered, never fetched from elsewhere (the customer comes to that shop).

Strategies:

* `fewest_locations` (default): one location when any can serve the whole order (the best-priority one).
  Otherwise the smallest set of locations that covers the most units, ties broken by priority. That is a
  set-cover problem: with up to `EXACT_SEARCH_LIMIT` locations holding stock for the order we search the subsets
  exactly, by growing size and in priority order, so the first set reaching the best coverage wins; beyond that
  we take the greedy approximation (repeatedly the location adding the most units, ties by priority).
* `priority`: each line from the best-priority location that can take it whole, else split in priority order.
* `most_stock`: the location holding the most units of the order's SKUs; when none can serve the whole order,
  each line from the location with the most stock that can take it whole, else split in that order.

For an edited order, `diff_demands` gives what was added and removed, `shrink` takes the removed demand off an
existing allocation (back-orders first, they hold no stock) and `merge_parts` combines what stays with the
allocation of what was added.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from itertools import combinations
from typing import Protocol

# Exact set-cover search looks at up to 2**8 - 1 = 255 subsets; retailers rarely have more locations than that.
EXACT_SEARCH_LIMIT = 8

_Table = dict[str, list[int]]  # location name -> available units per demand, in demand order


class SkuQuantity(Protocol):
    """Anything with a SKU and a quantity: a `Demand`, or the model's `Line` and `FulfilmentLine` as they are."""

    @property
    def sku(self) -> str: ...

    @property
    def quantity(self) -> int: ...


class Strategy(StrEnum):
    FEWEST_LOCATIONS = "fewest_locations"
    PRIORITY = "priority"
    MOST_STOCK = "most_stock"


@dataclass(frozen=True, slots=True)
class Demand:
    """A quantity of one SKU: an order line to allocate, a part's line, a back-order."""

    sku: str
    quantity: int

    def __post_init__(self) -> None:
        if self.quantity < 0:
            raise ValueError(f"demand for {self.sku!r}: quantity must not be negative, got {self.quantity}")


@dataclass(frozen=True, slots=True)
class LocationInfo:
    """A shop or warehouse; a lower `priority` number is preferred. `pickup`: customers may collect there.

    `allocate` does not check `pickup`: a pickup order is pinned to its location whatever the flag says, because
    the platform has already sold it as a pickup there; refusing it would only hide the order.
    """

    name: str
    priority: int
    pickup: bool = False


@dataclass(frozen=True, slots=True)
class Part:
    """What one location serves of an order: it becomes that location's fulfilment."""

    location: str
    lines: tuple[Demand, ...]

    @property
    def units(self) -> int:
        return sum(line.quantity for line in self.lines)


@dataclass(frozen=True, slots=True)
class Allocation:
    """The outcome of `allocate`, with the sentence for the order's timeline and who could have served it all."""

    parts: tuple[Part, ...]
    back_orders: tuple[Demand, ...]
    strategy: Strategy
    reason: str
    candidates: tuple[str, ...]

    @property
    def complete(self) -> bool:
        return not self.back_orders

    @property
    def back_ordered_units(self) -> int:
        return sum(demand.quantity for demand in self.back_orders)


@dataclass(frozen=True, slots=True)
class Shrink:
    """An allocation with demand taken off: what stays allocated, what goes back to stock, what stays owed."""

    parts: tuple[Part, ...]
    released: tuple[Part, ...]
    back_orders: tuple[Demand, ...]


def merge_demands(lines: Iterable[SkuQuantity]) -> tuple[Demand, ...]:
    """One demand per SKU, in order of first appearance, zero quantities left out."""
    totals: dict[str, int] = {}
    for line in lines:
        totals[line.sku] = totals.get(line.sku, 0) + line.quantity
    return tuple(Demand(sku, quantity) for sku, quantity in totals.items() if quantity)


def allocate(
    lines: Iterable[SkuQuantity],
    availability: Mapping[tuple[str, str], int],
    locations: Sequence[LocationInfo],
    strategy: Strategy = Strategy.FEWEST_LOCATIONS,
    *,
    pickup_location: str | None = None,
) -> Allocation:
    """Allocate an order's lines to locations; see the module docstring for the rules and strategies.

    Raises ValueError for an unknown pickup location or two locations with the same name.
    """
    demands = merge_demands(lines)
    ranked = _ranked(locations)
    if pickup_location is not None and pickup_location not in ranked:
        raise ValueError(f"unknown pickup location {pickup_location!r}")
    table = _table(demands, availability, ranked)
    candidates = tuple(name for name in ranked if _serves_all(demands, table[name]))
    if not demands:
        return Allocation((), (), strategy, "nothing to allocate", candidates)
    order = [pickup_location] if pickup_location is not None else _choose(strategy, demands, table, candidates)
    parts, back_orders = _fill(demands, order, table, ranked)
    outcome = Allocation(parts, back_orders, strategy, "", candidates)
    return replace(outcome, reason=_reason(outcome, table, ranked, pickup_location))


def diff_demands(
    old: Iterable[SkuQuantity], new: Iterable[SkuQuantity]
) -> tuple[tuple[Demand, ...], tuple[Demand, ...]]:
    """What an edit added and removed, per SKU: `(added, removed)`, each in the order the SKUs appear."""
    before = {d.sku: d.quantity for d in merge_demands(old)}
    after = {d.sku: d.quantity for d in merge_demands(new)}
    added = tuple(Demand(sku, q - before.get(sku, 0)) for sku, q in after.items() if q > before.get(sku, 0))
    removed = tuple(Demand(sku, q - after.get(sku, 0)) for sku, q in before.items() if q > after.get(sku, 0))
    return added, removed


def shrink(parts: Sequence[Part], back_orders: Iterable[Demand], removed: Iterable[SkuQuantity]) -> Shrink:
    """Take `removed` off an allocation: back-orders first (they hold no stock), then the last parts first.

    Parts are ordered by priority, so the least preferred location gives its units back first.
    Raises ValueError when more is removed than the allocation and its back-orders hold.
    """
    owed = {d.sku: d.quantity for d in merge_demands(back_orders)}
    remaining = {d.sku: d.quantity for d in merge_demands(removed)}
    for sku, quantity in remaining.items():
        from_owed = min(quantity, owed.get(sku, 0))
        remaining[sku] = quantity - from_owed
        owed[sku] = owed.get(sku, 0) - from_owed
    kept: list[Part] = []
    released: list[Part] = []
    for part in reversed(parts):
        stay, give = _split_part(part, remaining)
        kept.extend([stay] if stay.lines else [])
        released.extend([give] if give.lines else [])
    if any(remaining.values()):
        raise ValueError(f"cannot remove more than was ordered: {remaining}")
    owed_left = tuple(Demand(sku, q) for sku, q in owed.items() if q)
    return Shrink(tuple(reversed(kept)), tuple(reversed(released)), owed_left)


def merge_parts(*groups: Iterable[Part]) -> tuple[Part, ...]:
    """Combine parts into one per location, keeping the order in which locations first appear."""
    lines: dict[str, list[Demand]] = {}
    for group in groups:
        for part in group:
            lines.setdefault(part.location, []).extend(part.lines)
    merged = (Part(location, merge_demands(demands)) for location, demands in lines.items())
    return tuple(part for part in merged if part.lines)


def _split_part(part: Part, remaining: dict[str, int]) -> tuple[Part, Part]:
    """Split a part into what stays and what is given back, consuming `remaining` as it goes."""
    stay: list[Demand] = []
    give: list[Demand] = []
    for line in part.lines:
        taken = min(line.quantity, remaining.get(line.sku, 0))
        if taken:
            remaining[line.sku] -= taken
            give.append(Demand(line.sku, taken))
        if line.quantity - taken:
            stay.append(Demand(line.sku, line.quantity - taken))
    return Part(part.location, tuple(stay)), Part(part.location, tuple(give))


def _ranked(locations: Sequence[LocationInfo]) -> dict[str, LocationInfo]:
    """Locations by preference (priority, then given order), keyed by name."""
    ranked = {loc.name: loc for loc in sorted(locations, key=lambda loc: loc.priority)}
    if len(ranked) != len(locations):
        raise ValueError("two locations share a name")
    return ranked


def _table(
    demands: tuple[Demand, ...], availability: Mapping[tuple[str, str], int], ranked: Mapping[str, LocationInfo]
) -> _Table:
    return {name: [max(0, availability.get((d.sku, name), 0)) for d in demands] for name in ranked}


def _serves_all(demands: tuple[Demand, ...], stock: list[int]) -> bool:
    return all(have >= d.quantity for d, have in zip(demands, stock, strict=True))


def _choose(
    strategy: Strategy,
    demands: tuple[Demand, ...],
    table: _Table,
    candidates: tuple[str, ...],
) -> list[str]:
    """The locations to draw from, in the order to try them (the table's keys are in priority order)."""
    if strategy is Strategy.MOST_STOCK:
        by_stock = sorted(table, key=lambda name: -sum(table[name]))  # stable: ties stay in priority order
        whole = [name for name in by_stock if name in candidates]
        return whole[:1] or by_stock
    if strategy is Strategy.PRIORITY:
        return list(table)
    if candidates:
        return [candidates[0]]
    return _cover(demands, table, list(table))


def _cover(demands: tuple[Demand, ...], table: _Table, names: list[str]) -> list[str]:
    """The smallest set of locations covering the most units, ties by priority (exact, or greedy when large)."""
    useful = [name for name in names if any(table[name])]
    if len(useful) > EXACT_SEARCH_LIMIT:
        return _greedy_cover(demands, table, useful)
    best = _coverage(demands, table, useful)
    for size in range(1, len(useful)):
        for subset in combinations(useful, size):
            if _coverage(demands, table, subset) == best:
                return list(subset)
    return useful


def _coverage(demands: tuple[Demand, ...], table: _Table, names: Sequence[str]) -> int:
    if not names:
        return 0
    totals = [sum(column) for column in zip(*(table[name] for name in names), strict=True)]
    return sum(min(d.quantity, total) for d, total in zip(demands, totals, strict=True))


def _greedy_cover(demands: tuple[Demand, ...], table: _Table, names: list[str]) -> list[str]:
    """Repeatedly add the location that covers the most still-uncovered units; the first one wins a tie."""
    remaining = [d.quantity for d in demands]
    chosen: set[str] = set()
    while True:
        gains = {n: _gain(remaining, table[n]) for n in names if n not in chosen}
        best = max(gains, key=gains.__getitem__, default=None)
        if best is None or not gains[best]:
            return [name for name in names if name in chosen]
        chosen.add(best)
        remaining = [max(0, want - have) for want, have in zip(remaining, table[best], strict=True)]


def _gain(remaining: list[int], stock: list[int]) -> int:
    return sum(min(want, have) for want, have in zip(remaining, stock, strict=True))


def _fill(
    demands: tuple[Demand, ...], order: list[str], table: _Table, ranked: Mapping[str, LocationInfo]
) -> tuple[tuple[Part, ...], tuple[Demand, ...]]:
    """Take each line whole from the first location in `order` that has it all, else split in that order."""
    taken: dict[str, list[Demand]] = {}
    back_orders: list[Demand] = []
    for i, demand in enumerate(demands):
        whole = next((name for name in order if table[name][i] >= demand.quantity), None)
        if whole is not None:
            taken.setdefault(whole, []).append(demand)
            continue
        want = demand.quantity
        for name in order:
            give = min(want, table[name][i])
            if give:
                taken.setdefault(name, []).append(Demand(demand.sku, give))
                want -= give
        if want:
            back_orders.append(Demand(demand.sku, want))
    parts = tuple(Part(name, tuple(taken[name])) for name in ranked if name in taken)
    return parts, tuple(back_orders)


def _reason(outcome: Allocation, table: _Table, ranked: Mapping[str, LocationInfo], pickup: str | None) -> str:
    """The sentence for the order timeline: where the order goes, why, and what is back-ordered."""
    parts = outcome.parts
    if pickup is not None:
        head = f"pickup pinned to {pickup}"
    elif not parts:
        head = "nothing in stock"
    elif len(parts) == 1:
        name = parts[0].location
        detail = f"priority {ranked[name].priority}"
        if outcome.strategy is Strategy.MOST_STOCK:
            detail = f"most stock: {sum(table[name])} units"
        head = f"{'whole order' if outcome.complete else 'partly'} from {name} ({detail})"
    else:
        cause = "each line from the first location in priority order that had it"
        if not outcome.candidates:
            cause = "no single location had all items"
        head = f"split over {', '.join(part.location for part in parts)}: {cause}"
    units = outcome.back_ordered_units
    return f"{head}; {units} unit{'s' if units != 1 else ''} back-ordered" if units else head
