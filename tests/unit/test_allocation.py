"""Allocation: each strategy on hand-made cases, pickup pinning, back-orders, edits, and properties of `allocate`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from decimal import Decimal
from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.orders.model import Line, Money
from connector.stock.allocation import (
    EXACT_SEARCH_LIMIT,
    Allocation,
    Demand,
    LocationInfo,
    Part,
    Strategy,
    allocate,
    diff_demands,
    merge_parts,
    shrink,
)

AMS = LocationInfo("amsterdam", 1, pickup=True)
UTR = LocationInfo("utrecht", 2, pickup=True)
WH = LocationInfo("warehouse", 3)
LOCATIONS = (WH, UTR, AMS)  # deliberately not in priority order


def stock(**by_location: dict[str, int]) -> dict[tuple[str, str], int]:
    return {(sku, location): units for location, skus in by_location.items() for sku, units in skus.items()}


def d(sku: str, quantity: int) -> Demand:
    return Demand(sku, quantity)


def layout(allocation: Allocation) -> dict[str, dict[str, int]]:
    """Parts as {location: {sku: quantity}} for readable assertions."""
    return {part.location: {line.sku: line.quantity for line in part.lines} for part in allocation.parts}


def units(demands: Iterable[Demand]) -> Counter[str]:
    total: Counter[str] = Counter()
    for demand in demands:
        total[demand.sku] += demand.quantity
    return total


# -- every strategy --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", list(Strategy))
def test_one_location_with_everything_serves_the_whole_order(strategy: Strategy) -> None:
    availability = stock(amsterdam={"A": 0}, utrecht={"A": 3, "B": 1}, warehouse={"A": 1})

    result = allocate([d("A", 2), d("B", 1)], availability, LOCATIONS, strategy)

    assert layout(result) == {"utrecht": {"A": 2, "B": 1}}
    assert result.back_orders == ()
    assert result.candidates == ("utrecht",)
    assert result.strategy is strategy
    assert result.complete


@pytest.mark.parametrize("strategy", list(Strategy))
def test_nothing_in_stock_back_orders_everything(strategy: Strategy) -> None:
    result = allocate([d("A", 2), d("B", 1)], {}, LOCATIONS, strategy)

    assert result.parts == ()
    assert result.back_orders == (d("A", 2), d("B", 1))
    assert result.reason == "nothing in stock; 3 units back-ordered"
    assert result.candidates == ()


@pytest.mark.parametrize("strategy", list(Strategy))
def test_duplicate_skus_are_merged_and_zero_lines_dropped(strategy: Strategy) -> None:
    availability = stock(amsterdam={"A": 5})

    result = allocate([d("A", 2), d("B", 0), d("A", 3)], availability, LOCATIONS, strategy)

    assert result.parts == (Part("amsterdam", (d("A", 5),)),)


@pytest.mark.parametrize("strategy", list(Strategy))
def test_negative_and_missing_availability_count_as_zero(strategy: Strategy) -> None:
    availability = stock(amsterdam={"A": -4}, utrecht={"A": 1})

    result = allocate([d("A", 2)], availability, LOCATIONS, strategy)

    assert layout(result) == {"utrecht": {"A": 1}}
    assert result.back_orders == (d("A", 1),)
    assert result.reason.endswith("; 1 unit back-ordered")


@pytest.mark.parametrize("strategy", list(Strategy))
def test_a_line_is_split_only_when_no_location_has_it_whole(strategy: Strategy) -> None:
    availability = stock(amsterdam={"A": 2}, utrecht={"A": 2}, warehouse={"A": 1})

    result = allocate([d("A", 4)], availability, LOCATIONS, strategy)

    assert sum(part.units for part in result.parts) == 4
    assert len(result.parts) == 2
    assert result.reason.startswith("split over ")
    assert result.reason.endswith("no single location had all items")


@pytest.mark.parametrize("strategy", list(Strategy))
def test_insufficient_stock_overall_takes_everything_and_back_orders_the_rest(strategy: Strategy) -> None:
    availability = stock(amsterdam={"A": 1}, utrecht={"A": 1, "B": 1})

    result = allocate([d("A", 3), d("B", 2)], availability, LOCATIONS, strategy)

    assert units(line for part in result.parts for line in part.lines) == {"A": 2, "B": 1}
    assert result.back_orders == (d("A", 1), d("B", 1))
    assert result.back_ordered_units == 2
    assert not result.complete


def test_the_models_order_lines_can_be_allocated_as_they_are() -> None:
    price = Money(Decimal("2.50"), "EUR")
    lines = [Line("A", "Apple", 2, price, price * 2), Line("A", "Apple", 1, price, price)]

    result = allocate(lines, stock(utrecht={"A": 3}), LOCATIONS)

    assert result.parts == (Part("utrecht", (d("A", 3),)),)


def test_an_empty_order_allocates_nothing() -> None:
    result = allocate([], stock(amsterdam={"A": 1}), LOCATIONS)

    assert (result.parts, result.back_orders, result.reason) == ((), (), "nothing to allocate")


def test_unknown_pickup_location_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown pickup location 'rotterdam'"):
        allocate([d("A", 1)], {}, LOCATIONS, pickup_location="rotterdam")


def test_two_locations_with_one_name_are_an_error() -> None:
    with pytest.raises(ValueError, match="share a name"):
        allocate([d("A", 1)], {}, [AMS, LocationInfo("amsterdam", 5)])


def test_a_negative_demand_is_refused() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        Demand("A", -1)


# -- fewest_locations ------------------------------------------------------------------------------------------


def test_fewest_prefers_the_best_priority_among_locations_that_have_it_all() -> None:
    availability = stock(amsterdam={"A": 1}, utrecht={"A": 9}, warehouse={"A": 9})

    result = allocate([d("A", 1)], availability, LOCATIONS, Strategy.FEWEST_LOCATIONS)

    assert layout(result) == {"amsterdam": {"A": 1}}
    assert result.reason == "whole order from amsterdam (priority 1)"
    assert result.candidates == ("amsterdam", "utrecht", "warehouse")


def test_fewest_picks_the_smallest_covering_set_not_the_priority_walk() -> None:
    # Line by line in priority order: A and B from amsterdam, C from utrecht, D from the warehouse: three
    # parcels. Amsterdam and the warehouse together cover everything in two.
    availability = stock(amsterdam={"A": 1, "B": 1}, utrecht={"C": 1}, warehouse={"A": 1, "C": 1, "D": 1})
    lines = [d("A", 1), d("B", 1), d("C", 1), d("D", 1)]

    result = allocate(lines, availability, LOCATIONS, Strategy.FEWEST_LOCATIONS)

    assert layout(result) == {"amsterdam": {"A": 1, "B": 1}, "warehouse": {"C": 1, "D": 1}}
    assert result.reason == "split over amsterdam, warehouse: no single location had all items"
    assert len(allocate(lines, availability, LOCATIONS, Strategy.PRIORITY).parts) == 3


def test_fewest_breaks_ties_between_equal_sets_by_priority() -> None:
    availability = stock(amsterdam={"A": 1}, utrecht={"B": 1}, warehouse={"B": 1})

    result = allocate([d("A", 1), d("B", 1)], availability, LOCATIONS, Strategy.FEWEST_LOCATIONS)

    assert layout(result) == {"amsterdam": {"A": 1}, "utrecht": {"B": 1}}


def test_fewest_covers_the_most_before_counting_locations() -> None:
    # amsterdam alone covers 1 of 3 units; the set must reach the best coverage (all 3) first.
    availability = stock(amsterdam={"A": 1}, utrecht={"A": 1}, warehouse={"A": 1})

    result = allocate([d("A", 3)], availability, LOCATIONS, Strategy.FEWEST_LOCATIONS)

    assert layout(result) == {"amsterdam": {"A": 1}, "utrecht": {"A": 1}, "warehouse": {"A": 1}}


def test_fewest_with_many_locations_falls_back_to_greedy_and_still_covers_all() -> None:
    many = [LocationInfo(f"shop{i:02}", i) for i in range(EXACT_SEARCH_LIMIT + 4)]
    availability = {(f"S{i}", f"shop{i:02}"): 1 for i in range(len(many))}
    availability[("S0", "shop11")] = 1
    availability[("S1", "shop11")] = 1
    lines = [d(f"S{i}", 1) for i in range(len(many))]

    result = allocate(lines, availability, many, Strategy.FEWEST_LOCATIONS)

    assert result.back_orders == ()
    assert len(result.parts) == len(many) - 2  # shop11 takes S0, S1 and S11 in one go
    assert [part.location for part in result.parts] == sorted(part.location for part in result.parts)


# -- priority --------------------------------------------------------------------------------------------------


def test_priority_takes_each_line_from_the_best_ranked_location_that_has_it() -> None:
    availability = stock(amsterdam={"A": 2}, utrecht={"A": 5, "B": 5}, warehouse={"B": 5})

    result = allocate([d("A", 2), d("B", 1)], availability, LOCATIONS, Strategy.PRIORITY)

    assert layout(result) == {"amsterdam": {"A": 2}, "utrecht": {"B": 1}}
    assert result.candidates == ("utrecht",)
    assert result.reason == (
        "split over amsterdam, utrecht: each line from the first location in priority order that had it"
    )


def test_priority_splits_a_line_in_priority_order() -> None:
    availability = stock(amsterdam={"A": 1}, utrecht={"A": 2}, warehouse={"A": 5})

    result = allocate([d("A", 6)], availability, LOCATIONS, Strategy.PRIORITY)

    assert layout(result) == {"amsterdam": {"A": 1}, "utrecht": {"A": 2}, "warehouse": {"A": 3}}


def test_priority_ties_keep_the_given_order() -> None:
    first, second = LocationInfo("north", 1), LocationInfo("south", 1)
    availability = stock(north={"A": 1}, south={"A": 1})

    assert layout(allocate([d("A", 1)], availability, [first, second], Strategy.PRIORITY)) == {"north": {"A": 1}}
    assert layout(allocate([d("A", 1)], availability, [second, first], Strategy.PRIORITY)) == {"south": {"A": 1}}


# -- most_stock ------------------------------------------------------------------------------------------------


def test_most_stock_chooses_the_location_holding_the_most_of_the_order_skus() -> None:
    availability = stock(amsterdam={"A": 1, "B": 1}, utrecht={"A": 9, "B": 3, "Z": 100}, warehouse={"A": 4})

    result = allocate([d("A", 1), d("B", 1)], availability, LOCATIONS, Strategy.MOST_STOCK)

    assert layout(result) == {"utrecht": {"A": 1, "B": 1}}
    assert result.reason == "whole order from utrecht (most stock: 12 units)"


def test_most_stock_keeps_the_order_whole_when_some_location_can() -> None:
    # the warehouse holds the most, but only utrecht has both SKUs
    availability = stock(utrecht={"A": 1, "B": 1}, warehouse={"A": 50})

    result = allocate([d("A", 1), d("B", 1)], availability, LOCATIONS, Strategy.MOST_STOCK)

    assert layout(result) == {"utrecht": {"A": 1, "B": 1}}


def test_most_stock_without_a_whole_location_draws_lines_from_the_fullest() -> None:
    availability = stock(amsterdam={"A": 2, "B": 1}, utrecht={"A": 3}, warehouse={"A": 9})

    result = allocate([d("A", 2), d("B", 2)], availability, LOCATIONS, Strategy.MOST_STOCK)

    assert layout(result) == {"amsterdam": {"B": 1}, "warehouse": {"A": 2}}
    assert result.back_orders == (d("B", 1),)


def test_most_stock_ties_go_to_priority() -> None:
    availability = stock(amsterdam={"A": 4}, utrecht={"A": 4})

    result = allocate([d("A", 1)], availability, LOCATIONS, Strategy.MOST_STOCK)

    assert layout(result) == {"amsterdam": {"A": 1}}


# -- pickup ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", list(Strategy))
def test_pickup_is_pinned_even_when_another_location_has_it_all(strategy: Strategy) -> None:
    availability = stock(amsterdam={"A": 9, "B": 9}, utrecht={"A": 1, "B": 5})

    result = allocate([d("A", 2), d("B", 1)], availability, LOCATIONS, strategy, pickup_location="utrecht")

    assert layout(result) == {"utrecht": {"A": 1, "B": 1}}
    assert result.back_orders == (d("A", 1),)
    assert result.reason == "pickup pinned to utrecht; 1 unit back-ordered"
    assert result.candidates == ("amsterdam",)


def test_pickup_at_a_shop_with_nothing_back_orders_everything() -> None:
    availability = stock(amsterdam={"A": 9})

    result = allocate([d("A", 2)], availability, LOCATIONS, pickup_location="utrecht")

    assert result.parts == ()
    assert result.back_orders == (d("A", 2),)


def test_pickup_with_everything_in_the_shop() -> None:
    result = allocate([d("A", 2)], stock(utrecht={"A": 2}), LOCATIONS, pickup_location="utrecht")

    assert layout(result) == {"utrecht": {"A": 2}}
    assert result.reason == "pickup pinned to utrecht"


# -- edits -----------------------------------------------------------------------------------------------------


def test_diff_demands_gives_what_was_added_and_removed() -> None:
    old = [d("A", 2), d("B", 1), d("A", 1), d("C", 4)]
    new = [d("A", 1), d("C", 4), d("D", 2), d("B", 3)]

    assert diff_demands(old, new) == ((d("D", 2), d("B", 2)), (d("A", 2),))
    assert diff_demands(new, new) == ((), ())


def test_shrink_takes_back_orders_first_then_the_least_preferred_part() -> None:
    parts = (Part("amsterdam", (d("A", 2), d("B", 1))), Part("utrecht", (d("A", 2),)))

    result = shrink(parts, [d("A", 1)], [d("A", 3), d("B", 1)])

    assert result.back_orders == ()
    assert result.released == (Part("amsterdam", (d("B", 1),)), Part("utrecht", (d("A", 2),)))
    assert result.parts == (Part("amsterdam", (d("A", 2),)),)


def test_shrink_refuses_to_remove_more_than_there_is() -> None:
    with pytest.raises(ValueError, match="cannot remove more"):
        shrink([Part("amsterdam", (d("A", 1),))], [], [d("A", 2)])


def test_merge_parts_adds_up_per_location() -> None:
    kept = (Part("amsterdam", (d("A", 1),)),)
    added = (Part("utrecht", (d("B", 1),)), Part("amsterdam", (d("A", 2), d("C", 1))))

    assert merge_parts(kept, added) == (
        Part("amsterdam", (d("A", 3), d("C", 1))),
        Part("utrecht", (d("B", 1),)),
    )


# -- properties ------------------------------------------------------------------------------------------------

SKUS = ("A", "B", "C", "D")


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[Demand], dict[tuple[str, str], int], list[LocationInfo]]:
    names = draw(st.lists(st.sampled_from("abcdefghij"), min_size=1, max_size=6, unique=True))
    locations = [LocationInfo(name, draw(st.integers(0, 3))) for name in names]
    keys = st.tuples(st.sampled_from(SKUS), st.sampled_from(names))
    availability = draw(st.dictionaries(keys, st.integers(-2, 6), max_size=16))
    lines = draw(st.lists(st.builds(Demand, st.sampled_from(SKUS), st.integers(0, 7)), max_size=6))
    return lines, availability, locations


@settings(max_examples=300, deadline=None)
@given(scenarios(), st.sampled_from(Strategy), st.booleans())
def test_allocation_accounts_for_every_unit_and_never_overdraws(
    scenario: tuple[list[Demand], dict[tuple[str, str], int], list[LocationInfo]],
    strategy: Strategy,
    pickup: bool,
) -> None:
    lines, availability, locations = scenario
    pinned = locations[-1].name if pickup else None

    result = allocate(lines, availability, locations, strategy, pickup_location=pinned)

    allocated = [line for part in result.parts for line in part.lines]
    assert units(allocated) + units(result.back_orders) == units(lines) - Counter()
    assert all(line.quantity > 0 for line in allocated + list(result.back_orders))
    assert len({part.location for part in result.parts}) == len(result.parts)
    for part in result.parts:
        assert pinned in (None, part.location)
        for line in part.lines:
            assert line.quantity <= availability.get((line.sku, part.location), 0)
    if pinned is None:  # everything that is anywhere is taken
        for sku, wanted in units(result.back_orders).items():
            assert wanted == units(lines)[sku] - sum(max(0, availability.get((sku, n.name), 0)) for n in locations)


@settings(max_examples=300, deadline=None)
@given(scenarios(), st.sampled_from(Strategy))
def test_a_split_line_means_no_location_in_the_set_could_take_it_whole(
    scenario: tuple[list[Demand], dict[tuple[str, str], int], list[LocationInfo]], strategy: Strategy
) -> None:
    lines, availability, locations = scenario

    result = allocate(lines, availability, locations, strategy)

    wanted = units(lines)
    chosen = [part.location for part in result.parts]
    pool = chosen if strategy is Strategy.FEWEST_LOCATIONS else [n.name for n in locations]
    holders: dict[str, list[str]] = {}
    for part in result.parts:
        for line in part.lines:
            holders.setdefault(line.sku, []).append(part.location)
    for sku, where in holders.items():
        if len(where) > 1:
            assert all(availability.get((sku, name), 0) < wanted[sku] for name in pool)


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_fewest_locations_uses_no_more_locations_than_any_set_that_covers_as_much(
    scenario: tuple[list[Demand], dict[tuple[str, str], int], list[LocationInfo]],
) -> None:
    lines, availability, locations = scenario
    wanted = units(lines)

    def coverage(names: Iterable[str]) -> int:
        names = list(names)
        return sum(min(q, sum(max(0, availability.get((s, n), 0)) for n in names)) for s, q in wanted.items())

    result = allocate(lines, availability, locations, Strategy.FEWEST_LOCATIONS)

    used = [part.location for part in result.parts]
    best = coverage(n.name for n in locations)
    assert coverage(used) == best
    smaller = (c for size in range(len(used)) for c in combinations([n.name for n in locations], size))
    assert not any(coverage(c) == best for c in smaller)
