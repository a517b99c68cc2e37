"""Stock arithmetic: the append-only ledger of movements per `(sku, location)` (design section 5).

A movement changes `on_hand`, `allocated` and `reserved` of one SKU at one location; `available` is derived as
`on_hand - allocated - reserved`. Each movement carries an idempotency key, and a key is applied at most once,
so replaying an event never moves stock twice. The movement model holds only strings and ints so that the
database-backed ledger stores the same rows with the same keys; `Ledger` here is the in-memory implementation
(used by tests and as the reference the database ledger mirrors).

Movement kinds and their shape for a quantity q > 0 (on_hand, allocated, reserved):

    count      (d, 0, 0)     a POS count: the delta from the current on_hand to the counted level (d may be 0)
    move       (d, 0, 0)     a POS movement (a sale, a receipt, ...): d != 0, its sign fixed by its `Reason`
    allocate   (0, +q, 0)    an order takes stock
    release    (0, -q, 0)    cancel, delete or edit gives allocated stock back
    reserve    (0, 0, +q)    a reservation holds stock without deducting it
    unreserve  (0, 0, -q)    a reservation is cancelled or expires
    confirm    (0, +q, -q)   a reservation becomes an allocation
    ship       (-q, -q, 0)   allocated stock leaves the location (shipped or picked up)

Idempotency keys are `order/event/location/sku/kind`: the design's `order, fulfilment, line, kind` (a fulfilment
is one location's part; lines are merged per SKU) plus `event`, the order's stock-event generation. The caller
numbers an order's stock-moving events (create, edit, cancel, un-cancel, delete, confirm, expire, ship) with a
sequence kept on the order and advanced in the same transaction as the movements. Replaying an event reuses its
number and so its keys, and moves nothing; a later event gets a new number, so cancel -> un-cancel -> cancel
releases, takes and releases again. A key made only of order, location, SKU and kind could not tell the second
cancel from a replay of the first. Key components are escaped, so no two different tuples share a key.
`order_ref` must be unique across stores (the internal order id), as keys are unique ledger-wide.

`on_hand` may go below zero (a POS count can find fewer units than are allocated, and they still ship): that is
the truth to show, not an error. Allocated or reserved below zero is a bookkeeping error and is refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from connector.stock.allocation import Allocation, Part, SkuQuantity, merge_demands


class LedgerError(ValueError):
    """A movement that would leave allocated or reserved stock below zero: the caller's books are wrong."""


class MovementKind(StrEnum):
    COUNT = "count"
    MOVE = "move"
    ALLOCATE = "allocate"
    RELEASE = "release"
    RESERVE = "reserve"
    UNRESERVE = "unreserve"
    CONFIRM = "confirm"
    SHIP = "ship"


# (on_hand, allocated, reserved) change per unit of each kind; a count has no fixed shape.
_SHAPES: dict[MovementKind, tuple[int, int, int]] = {
    MovementKind.ALLOCATE: (0, 1, 0),
    MovementKind.RELEASE: (0, -1, 0),
    MovementKind.RESERVE: (0, 0, 1),
    MovementKind.UNRESERVE: (0, 0, -1),
    MovementKind.CONFIRM: (0, 1, -1),
    MovementKind.SHIP: (-1, -1, 0),
}


class Reason(StrEnum):
    """Why the POS says on-hand changed; the sign of the change each allows is in `SIGNS`."""

    SALE = "sale"
    RETURN = "return"
    RECEIPT = "receipt"
    TRANSFER_OUT = "transfer_out"
    TRANSFER_IN = "transfer_in"
    COUNT_CORRECTION = "count_correction"
    DAMAGE = "damage"


# +1: the reason only adds units, -1: only takes them away, 0: either (a correction).
SIGNS: dict[Reason, int] = {
    Reason.SALE: -1,
    Reason.RETURN: 1,
    Reason.RECEIPT: 1,
    Reason.TRANSFER_OUT: -1,
    Reason.TRANSFER_IN: 1,
    Reason.COUNT_CORRECTION: 0,
    Reason.DAMAGE: -1,
}


def delta_problem(reason: Reason, delta: int) -> str | None:
    """Why `delta` cannot be a `reason` movement (a sale of one is -1), or None when it can."""
    if delta == 0:
        return "must not be 0"
    sign = SIGNS[reason]
    if sign and (delta > 0) != (sign > 0):
        verb, bound = ("adds", "> 0") if sign > 0 else ("removes", "< 0")
        return f"a {reason.value} {verb} units: the delta must be {bound}"
    return None


@dataclass(frozen=True, slots=True)
class Movement:
    """One ledger row. The deltas must match the kind's shape (see the module docstring)."""

    sku: str
    location: str
    kind: MovementKind
    on_hand_delta: int
    allocated_delta: int
    reserved_delta: int
    idempotency_key: str
    order_ref: str = ""
    reason: str = ""

    def __post_init__(self) -> None:
        deltas = (self.on_hand_delta, self.allocated_delta, self.reserved_delta)
        if self.kind is MovementKind.COUNT:
            valid = deltas[1:] == (0, 0)
        elif self.kind is MovementKind.MOVE:
            valid = deltas[1:] == (0, 0) and delta_problem(Reason(self.reason), deltas[0]) is None
        else:
            quantity = self.quantity
            valid = quantity > 0 and deltas == tuple(quantity * unit for unit in _SHAPES[self.kind])
        if not valid:
            raise ValueError(f"{self.kind} movement {self.idempotency_key!r} has the wrong shape: {deltas}")

    @classmethod
    def of(cls, kind: MovementKind, sku: str, location: str, quantity: int, key: str, order_ref: str) -> Movement:
        """A movement of `quantity` units of a non-count kind."""
        on_hand, allocated, reserved = (quantity * unit for unit in _SHAPES[kind])
        return cls(sku, location, kind, on_hand, allocated, reserved, key, order_ref)

    @property
    def quantity(self) -> int:
        """Units moved: the size of the largest delta (for a count, the change of on_hand)."""
        return max(abs(self.on_hand_delta), abs(self.allocated_delta), abs(self.reserved_delta))


@dataclass(frozen=True, slots=True)
class StockLevel:
    on_hand: int = 0
    allocated: int = 0
    reserved: int = 0

    @property
    def available(self) -> int:
        return self.on_hand - self.allocated - self.reserved

    def moved(self, movement: Movement) -> StockLevel:
        """The level after `movement`; LedgerError when allocated or reserved would drop below zero."""
        after = StockLevel(
            self.on_hand + movement.on_hand_delta,
            self.allocated + movement.allocated_delta,
            self.reserved + movement.reserved_delta,
        )
        if after.allocated < 0 or after.reserved < 0:
            raise LedgerError(f"movement {movement.idempotency_key!r} leaves {after} at {movement.location}")
        return after


class Ledger:
    """The in-memory ledger: the movements in order, the keys seen, and the levels they add up to."""

    def __init__(self) -> None:
        self._movements: list[Movement] = []
        self._keys: set[str] = set()
        self._levels: dict[tuple[str, str], StockLevel] = {}

    def apply(self, movement: Movement) -> bool:
        """Record `movement`; False (and nothing changes) when its key was applied before."""
        return self.apply_all([movement]) == 1

    def apply_all(self, movements: Iterable[Movement]) -> int:
        """Record the movements of one event all or nothing; returns how many were new (not replays)."""
        fresh: list[Movement] = []
        keys: set[str] = set()
        levels: dict[tuple[str, str], StockLevel] = {}
        for movement in movements:
            key = movement.idempotency_key
            if key in self._keys or key in keys:
                continue
            where = (movement.sku, movement.location)
            levels[where] = levels.get(where, self.level(*where)).moved(movement)
            keys.add(key)
            fresh.append(movement)
        self._movements.extend(fresh)
        self._keys |= keys
        self._levels.update(levels)
        return len(fresh)

    def seen(self, key: str) -> bool:
        return key in self._keys

    def level(self, sku: str, location: str) -> StockLevel:
        return self._levels.get((sku, location), StockLevel())

    def levels(self) -> dict[tuple[str, str], StockLevel]:
        return dict(self._levels)

    def availability(self) -> dict[tuple[str, str], int]:
        """`available` per `(sku, location)`: the input `allocate` expects."""
        return {where: level.available for where, level in self._levels.items()}

    @property
    def movements(self) -> tuple[Movement, ...]:
        return tuple(self._movements)

    @classmethod
    def replayed(cls, movements: Iterable[Movement]) -> Ledger:
        """A ledger rebuilt from a movement log, as the database ledger derives its levels."""
        ledger = cls()
        ledger.apply_all(movements)
        return ledger


def movement_key(order_ref: str, event: str | int, location: str, sku: str, kind: MovementKind) -> str:
    """The idempotency key `order/event/location/sku/kind`, components escaped so '/' cannot collide."""
    return "/".join(_escape(str(part)) for part in (order_ref, event, location, sku, kind.value))


def allocate_movements(order_ref: str, allocation: Allocation, event: str | int) -> tuple[Movement, ...]:
    """Take the allocated parts' stock (back-orders hold none)."""
    return _movements(MovementKind.ALLOCATE, order_ref, allocation.parts, event)


def release_movements(order_ref: str, parts: Sequence[Part], event: str | int) -> tuple[Movement, ...]:
    """Give allocated stock back: cancel, delete, or the removed part of an edit (see `allocation.shrink`)."""
    return _movements(MovementKind.RELEASE, order_ref, parts, event)


def reserve_movements(order_ref: str, allocation: Allocation, event: str | int) -> tuple[Movement, ...]:
    """Hold a reservation's parts without deducting them."""
    return _movements(MovementKind.RESERVE, order_ref, allocation.parts, event)


def unreserve_movements(order_ref: str, parts: Sequence[Part], event: str | int) -> tuple[Movement, ...]:
    """Release a reservation's hold: cancelled or expired."""
    return _movements(MovementKind.UNRESERVE, order_ref, parts, event)


def confirm_movements(order_ref: str, parts: Sequence[Part], event: str | int) -> tuple[Movement, ...]:
    """Turn a reservation's hold into an allocation (available stays the same)."""
    return _movements(MovementKind.CONFIRM, order_ref, parts, event)


def ship_movements(
    order_ref: str, location: str, lines: Iterable[SkuQuantity], event: str | int
) -> tuple[Movement, ...]:
    """Allocated stock leaves `location`: a fulfilment (its part or `FulfilmentLine`s) shipped or picked up."""
    return _movements(MovementKind.SHIP, order_ref, [Part(location, merge_demands(lines))], event)


def count_movement(sku: str, location: str, new_on_hand: int, current: int, key: str) -> Movement:
    """A POS count of `new_on_hand` as the delta from the `current` on_hand.

    `key` names the import (e.g. the feed's batch id); with location and SKU it makes the movement's key, so
    importing the same batch again moves nothing.
    """
    full_key = "/".join(_escape(part) for part in ("count", key, location, sku))
    return Movement(sku, location, MovementKind.COUNT, new_on_hand - current, 0, 0, full_key)


def pos_movement(key: str, sku: str, location: str, delta: int, reason: Reason) -> Movement:
    """A POS movement of on-hand by `delta`; `key` is the POS's idempotency key (a key seen before moves nothing).

    ValueError when the delta does not fit the reason (see `delta_problem`).
    """
    full_key = "/".join(_escape(part) for part in ("pos", key))
    problem = delta_problem(reason, delta)
    if problem:
        raise ValueError(f"movement {key!r}: delta {delta} {problem}")
    return Movement(sku, location, MovementKind.MOVE, delta, 0, 0, full_key, reason=reason.value)


def _movements(kind: MovementKind, order_ref: str, parts: Iterable[Part], event: str | int) -> tuple[Movement, ...]:
    """One movement per location and SKU (lines of one SKU in a part are added up)."""
    totals: dict[tuple[str, str], int] = {}
    for part in parts:
        for line in part.lines:
            where = (part.location, line.sku)
            totals[where] = totals.get(where, 0) + line.quantity
    return tuple(
        Movement.of(kind, sku, location, quantity, movement_key(order_ref, event, location, sku, kind), order_ref)
        for (location, sku), quantity in totals.items()
        if quantity
    )


def _escape(part: str) -> str:
    return part.replace("%", "%25").replace("/", "%2F")
