"""The stock ledger: movement shapes and idempotency by example, and invariants under random order histories.

The state machine drives `allocate` and `Ledger` through a tiny order life cycle (create, edit, cancel,
un-cancel, delete, reserve, confirm, expire, ship, POS counts, replays) and checks after every step that stock
is conserved, that allocated and reserved equal the live orders' holdings, that allocation never overdraws a
location, and that replaying an applied event changes nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from connector.orders.model import FulfilmentLine
from connector.stock.allocation import (
    Allocation,
    Demand,
    LocationInfo,
    Part,
    Strategy,
    allocate,
    diff_demands,
    merge_demands,
    merge_parts,
    shrink,
)
from connector.stock.movements import (
    Ledger,
    LedgerError,
    Movement,
    MovementKind,
    StockLevel,
    allocate_movements,
    confirm_movements,
    count_movement,
    movement_key,
    release_movements,
    reserve_movements,
    ship_movements,
    unreserve_movements,
)

AMS = LocationInfo("amsterdam", 1, pickup=True)
UTR = LocationInfo("utrecht", 2, pickup=True)


def stocked(**on_hand: int) -> Ledger:
    """A ledger with SKU 'A' counted in at each given location."""
    ledger = Ledger()
    for location, units in on_hand.items():
        ledger.apply(count_movement("A", location, units, 0, "seed"))
    return ledger


def one_part(location: str, quantity: int) -> tuple[Part, ...]:
    return (Part(location, (Demand("A", quantity),)),)


# -- by example ------------------------------------------------------------------------------------------------


def test_replaying_an_event_moves_nothing() -> None:
    ledger = stocked(amsterdam=5)
    allocation = allocate([Demand("A", 2)], ledger.availability(), [AMS])
    movements = allocate_movements("o1", allocation, 1)

    assert ledger.apply_all(movements) == 1
    assert ledger.apply_all(movements) == 0
    assert not ledger.apply(movements[0])
    assert ledger.level("A", "amsterdam") == StockLevel(on_hand=5, allocated=2, reserved=0)
    assert len(ledger.movements) == 2


def test_cancel_uncancel_cancel_moves_stock_each_time_but_a_replayed_cancel_does_not() -> None:
    ledger = stocked(amsterdam=5)
    parts = one_part("amsterdam", 2)
    history = [
        allocate_movements("o1", Allocation(parts, (), Strategy.PRIORITY, "", ()), 1),
        release_movements("o1", parts, 2),
        allocate_movements("o1", Allocation(parts, (), Strategy.PRIORITY, "", ()), 3),
        release_movements("o1", parts, 4),
    ]
    allocated = []
    for event in history:
        ledger.apply_all(event)
        allocated.append(ledger.level("A", "amsterdam").allocated)

    assert allocated == [2, 0, 2, 0]
    assert ledger.apply_all(history[3]) == 0
    assert ledger.level("A", "amsterdam").available == 5


def test_reservation_holds_then_confirm_turns_the_hold_into_an_allocation() -> None:
    ledger = stocked(amsterdam=3)
    allocation = allocate([Demand("A", 2)], ledger.availability(), [AMS])

    ledger.apply_all(reserve_movements("r1", allocation, 1))
    held = ledger.level("A", "amsterdam")
    ledger.apply_all(confirm_movements("r1", allocation.parts, 2))
    confirmed = ledger.level("A", "amsterdam")

    assert held == StockLevel(on_hand=3, allocated=0, reserved=2)
    assert confirmed == StockLevel(on_hand=3, allocated=2, reserved=0)
    assert held.available == confirmed.available == 1


def test_expired_reservation_gives_the_hold_back() -> None:
    ledger = stocked(amsterdam=3)
    parts = one_part("amsterdam", 2)

    ledger.apply_all(reserve_movements("r1", Allocation(parts, (), Strategy.PRIORITY, "", ()), 1))
    ledger.apply_all(unreserve_movements("r1", parts, 2))

    assert ledger.level("A", "amsterdam") == StockLevel(on_hand=3)


def test_shipping_takes_stock_off_the_shelf_and_out_of_allocated() -> None:
    ledger = stocked(amsterdam=3)
    parts = one_part("amsterdam", 2)
    ledger.apply_all(allocate_movements("o1", Allocation(parts, (), Strategy.PRIORITY, "", ()), 1))

    ledger.apply_all(ship_movements("o1", "amsterdam", [FulfilmentLine("A", 1), FulfilmentLine("A", 1)], 2))

    assert ledger.level("A", "amsterdam") == StockLevel(on_hand=1, allocated=0, reserved=0)


def test_a_count_is_the_delta_from_the_current_level_and_replays_as_a_no_op() -> None:
    ledger = stocked(amsterdam=5)

    movement = count_movement("A", "amsterdam", 2, ledger.level("A", "amsterdam").on_hand, "batch-7")
    ledger.apply(movement)

    assert movement.on_hand_delta == -3
    assert ledger.level("A", "amsterdam").on_hand == 2
    assert not ledger.apply(count_movement("A", "amsterdam", 2, ledger.level("A", "amsterdam").on_hand, "batch-7"))


def test_lines_of_one_sku_in_a_part_become_one_movement() -> None:
    part = Part("amsterdam", (Demand("A", 1), Demand("A", 2)))

    (movement,) = release_movements("o1", [part], 5)

    assert (movement.allocated_delta, movement.idempotency_key) == (-3, "o1/5/amsterdam/A/release")


def test_releasing_more_than_is_allocated_is_refused_and_nothing_is_recorded() -> None:
    ledger = stocked(amsterdam=5, utrecht=5)
    ledger.apply_all(allocate_movements("o1", Allocation(one_part("utrecht", 1), (), Strategy.PRIORITY, "", ()), 1))
    bad = release_movements("o1", one_part("utrecht", 1) + one_part("amsterdam", 1), 2)

    with pytest.raises(LedgerError, match="amsterdam"):
        ledger.apply_all(bad)

    assert ledger.level("A", "utrecht").allocated == 1
    assert not any(ledger.seen(m.idempotency_key) for m in bad)


@pytest.mark.parametrize(
    ("kind", "deltas"),
    [
        (MovementKind.ALLOCATE, (0, -1, 0)),
        (MovementKind.SHIP, (-1, -2, 0)),
        (MovementKind.CONFIRM, (0, 1, 1)),
        (MovementKind.RESERVE, (0, 0, 0)),
        (MovementKind.COUNT, (1, 1, 0)),
    ],
)
def test_a_movement_must_have_its_kinds_shape(kind: MovementKind, deltas: tuple[int, int, int]) -> None:
    with pytest.raises(ValueError, match="wrong shape"):
        Movement("A", "amsterdam", kind, *deltas, idempotency_key="k")


def test_keys_of_different_events_never_collide() -> None:
    assert movement_key("a/b", 1, "x", "A", MovementKind.ALLOCATE) != movement_key(
        "a", "b/1", "x", "A", MovementKind.ALLOCATE
    )
    assert movement_key("o%2F", 1, "x", "A", MovementKind.ALLOCATE) != movement_key(
        "o/", 1, "x", "A", MovementKind.ALLOCATE
    )


# -- the state machine -----------------------------------------------------------------------------------------

SKUS = ("A", "B", "C")
NAMES = ("amsterdam", "utrecht", "warehouse", "rotterdam")


def units(demands: Iterable[Demand]) -> Counter[str]:
    total: Counter[str] = Counter()
    for demand in demands:
        total[demand.sku] += demand.quantity
    return total


def placed(parts: Iterable[Part]) -> Counter[tuple[str, str]]:
    total: Counter[tuple[str, str]] = Counter()
    for part in parts:
        for line in part.lines:
            total[(line.sku, part.location)] += line.quantity
    return total


@dataclass
class Order:
    """The test's model of one order: what it asked for, what it holds, where it is in its life."""

    ref: str
    lines: tuple[Demand, ...]
    strategy: Strategy
    pickup: str | None
    reservation: bool
    status: str = "live"  # live | cancelled | deleted | expired
    parts: tuple[Part, ...] = ()
    back_orders: tuple[Demand, ...] = ()
    shipped: Counter[str] = field(default_factory=Counter)
    events: int = 0

    def next_event(self) -> int:
        self.events += 1
        return self.events

    @property
    def holds(self) -> bool:
        return self.status == "live"


lines_strategy = st.lists(st.builds(Demand, st.sampled_from(SKUS), st.integers(1, 4)), min_size=1, max_size=4)


class StockMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ledger = Ledger()
        self.locations: list[LocationInfo] = []
        self.stocked: Counter[tuple[str, str]] = Counter()  # initial stock plus POS count changes
        self.shipped: Counter[tuple[str, str]] = Counter()
        self.orders: list[Order] = []
        self.history: list[tuple[Movement, ...]] = []

    @initialize(
        names=st.lists(st.sampled_from(NAMES), min_size=1, max_size=4, unique=True),
        priorities=st.lists(st.integers(0, 3), min_size=4, max_size=4),
        initial=st.dictionaries(st.tuples(st.sampled_from(SKUS), st.sampled_from(NAMES)), st.integers(0, 8)),
    )
    def setup(self, names: list[str], priorities: list[int], initial: dict[tuple[str, str], int]) -> None:
        self.locations = [LocationInfo(name, priority, True) for name, priority in zip(names, priorities, strict=False)]
        for (sku, location), on_hand in initial.items():
            if location in names:
                self.count(sku, location, on_hand, "initial")

    # -- helpers --

    def count(self, sku: str, location: str, on_hand: int, key: str) -> None:
        movement = count_movement(sku, location, on_hand, self.ledger.level(sku, location).on_hand, key)
        self.apply(movement)
        self.stocked[(sku, location)] += movement.on_hand_delta

    def apply(self, *movements: Movement) -> None:
        """Apply one event's movements; every key of a new event must be new."""
        assert self.ledger.apply_all(movements) == len(movements)
        self.history.append(movements)

    def allocate(self, order: Order, demand: Iterable[Demand]) -> Allocation:
        """Allocate against current availability and check the result against the demand and the stock."""
        demand = tuple(demand)
        availability = self.ledger.availability()
        result = allocate(demand, availability, self.locations, order.strategy, pickup_location=order.pickup)
        allocated = placed(result.parts)
        assert units(Demand(sku, q) for (sku, _), q in allocated.items()) + units(result.back_orders) == units(demand)
        assert all(q <= max(0, availability.get(where, 0)) for where, q in allocated.items())
        return result

    def never_overdrawn(self, allocation: Allocation) -> None:
        """Allocation takes only what is available, so no location it drew from is left below zero."""
        for where in placed(allocation.parts):
            assert self.ledger.level(*where).available >= 0

    def hold(self, order: Order, allocation: Allocation, event: int) -> tuple[Movement, ...]:
        make = reserve_movements if order.reservation else allocate_movements
        return make(order.ref, allocation, event)

    def let_go(self, order: Order, parts: tuple[Part, ...], event: int) -> tuple[Movement, ...]:
        make = unreserve_movements if order.reservation else release_movements
        return make(order.ref, parts, event)

    def pick(self, data: st.DataObject, wanted: str) -> Order:
        return data.draw(st.sampled_from([o for o in self.orders if self.matches(o, wanted)]))

    def matches(self, order: Order, wanted: str) -> bool:
        never_shipped = not order.shipped
        return {
            "live": order.status == "live",
            "editable": order.status == "live" and never_shipped,
            "cancelled": order.status == "cancelled" and never_shipped,
            "not_deleted": order.status != "deleted",
            "reservation": order.status == "live" and order.reservation,
            "shippable": order.status == "live" and not order.reservation and bool(order.parts),
        }[wanted]

    def any_order(self, wanted: str) -> bool:
        return any(self.matches(o, wanted) for o in self.orders)

    # -- rules --

    @rule(
        data=st.data(),
        lines=lines_strategy,
        strategy=st.sampled_from(Strategy),
        kind=st.sampled_from(["delivery", "pickup", "reservation"]),
    )
    def create(self, data: st.DataObject, lines: list[Demand], strategy: Strategy, kind: str) -> None:
        pickup = data.draw(st.sampled_from(self.locations)).name if kind == "pickup" else None
        order = Order(f"o{len(self.orders)}", tuple(lines), strategy, pickup, kind == "reservation")
        allocation = self.allocate(order, lines)
        self.apply(*self.hold(order, allocation, order.next_event()))
        self.never_overdrawn(allocation)
        order.parts, order.back_orders = allocation.parts, allocation.back_orders
        self.orders.append(order)

    @precondition(lambda self: self.any_order("editable"))
    @rule(data=st.data(), lines=lines_strategy)
    def edit(self, data: st.DataObject, lines: list[Demand]) -> None:
        order = self.pick(data, "editable")
        added, removed = diff_demands(order.lines, lines)
        taken_off = shrink(order.parts, order.back_orders, removed)
        extra = self.allocate(order, added)
        event = order.next_event()
        self.apply(*self.let_go(order, taken_off.released, event), *self.hold(order, extra, event))
        self.never_overdrawn(extra)
        order.lines = tuple(lines)
        order.parts = merge_parts(taken_off.parts, extra.parts)
        order.back_orders = merge_demands(taken_off.back_orders + extra.back_orders)

    @precondition(lambda self: self.any_order("live"))
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        order = self.pick(data, "live")
        self.apply(*self.let_go(order, order.parts, order.next_event()))
        order.status, order.parts, order.back_orders = "cancelled", (), ()

    @precondition(lambda self: self.any_order("cancelled"))
    @rule(data=st.data())
    def uncancel(self, data: st.DataObject) -> None:
        order = self.pick(data, "cancelled")
        allocation = self.allocate(order, order.lines)
        self.apply(*self.hold(order, allocation, order.next_event()))
        self.never_overdrawn(allocation)
        order.status, order.parts, order.back_orders = "live", allocation.parts, allocation.back_orders

    @precondition(lambda self: self.any_order("not_deleted"))
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        order = self.pick(data, "not_deleted")
        if order.holds:
            self.apply(*self.let_go(order, order.parts, order.next_event()))
        order.status, order.parts, order.back_orders = "deleted", (), ()

    @precondition(lambda self: self.any_order("reservation"))
    @rule(data=st.data())
    def confirm(self, data: st.DataObject) -> None:
        order = self.pick(data, "reservation")
        self.apply(*confirm_movements(order.ref, order.parts, order.next_event()))
        order.reservation = False

    @precondition(lambda self: self.any_order("reservation"))
    @rule(data=st.data())
    def expire(self, data: st.DataObject) -> None:
        order = self.pick(data, "reservation")
        self.apply(*unreserve_movements(order.ref, order.parts, order.next_event()))
        order.status, order.parts, order.back_orders = "expired", (), ()

    @precondition(lambda self: self.any_order("shippable"))
    @rule(data=st.data())
    def ship(self, data: st.DataObject) -> None:
        order = self.pick(data, "shippable")
        index = data.draw(st.integers(0, len(order.parts) - 1))
        part = order.parts[index]
        self.apply(*ship_movements(order.ref, part.location, part.lines, order.next_event()))
        order.parts = order.parts[:index] + order.parts[index + 1 :]
        order.shipped.update(units(part.lines))
        self.shipped.update(placed([part]))

    @rule(data=st.data(), sku=st.sampled_from(SKUS), on_hand=st.integers(0, 10))
    def pos_count(self, data: st.DataObject, sku: str, on_hand: int) -> None:
        location = data.draw(st.sampled_from(self.locations)).name
        self.count(sku, location, on_hand, f"count-{len(self.history)}")

    @precondition(lambda self: bool(self.history))
    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        event = data.draw(st.sampled_from(self.history))
        before = (self.ledger.levels(), len(self.ledger.movements))

        assert self.ledger.apply_all(event) == 0
        assert all(not self.ledger.apply(movement) for movement in event)
        assert (self.ledger.levels(), len(self.ledger.movements)) == before

    # -- invariants --

    @invariant()
    def stock_is_conserved(self) -> None:
        levels = self.ledger.levels()
        for where in set(levels) | set(self.stocked):
            assert levels.get(where, StockLevel()).on_hand + self.shipped[where] == self.stocked[where]
        total_on_hand = sum(level.on_hand for level in levels.values())
        assert total_on_hand + self.shipped.total() == self.stocked.total()

    @invariant()
    def holdings_match_live_orders(self) -> None:
        live = [o for o in self.orders if o.holds]
        allocated = placed(p for o in live if not o.reservation for p in o.parts)
        reserved = placed(p for o in live if o.reservation for p in o.parts)
        levels = self.ledger.levels()
        for where in set(levels) | set(allocated) | set(reserved):
            level = levels.get(where, StockLevel())
            assert (level.allocated, level.reserved) == (allocated[where], reserved[where])

    @invariant()
    def live_orders_account_for_every_unit(self) -> None:
        for order in self.orders:
            if order.holds:
                held = units(line for part in order.parts for line in part.lines)
                assert held + units(order.back_orders) + order.shipped == units(order.lines)

    @invariant()
    def levels_are_what_the_log_adds_up_to(self) -> None:
        assert Ledger.replayed(self.ledger.movements).levels() == self.ledger.levels()


StockMachine.TestCase.settings = settings(max_examples=80, stateful_step_count=30, deadline=None)
test_stock_machine = StockMachine.TestCase
