"""Stock coming in from the POS (movements, count and movement files) and the back-orders it serves, oldest first."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.orders.model import OrderKind
from connector.stock import ledger
from connector.stock.imports import CsvError, import_csv
from connector.stock.movements import Reason, count_movement, delta_problem, pos_movement
from connector.stock.order_effects import Stocker
from connector.storage import tables as t
from tests.unit.test_stocking import CONFIG, T0, feed, level, live, make


@pytest.fixture
def db(session: Session) -> Session:
    """One store, and no stock of A or B anywhere: every order is back-ordered until stock comes in."""
    session.add(t.Store(name="s", platform="woocommerce"))
    session.flush()
    return session


def order(db: Session, number: str, lines: dict[str, int], minutes: int, **changes: object) -> t.Order:
    """An order created `minutes` after T0 (the platform's creation time decides who is older)."""
    created = T0 + timedelta(minutes=minutes)
    changes = {"updated_at": created} | changes
    return feed(db, make(lines, external_id=number, number=number, created_at=created, **changes))


def counts(db: Session, text: str, batch: str = "b") -> int:
    return import_csv(db, io.StringIO(text), Stocker(CONFIG), batch=batch).served


def movements_of(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(t.StockMovement)) or 0


def test_a_pos_movement_is_applied_once_per_key() -> None:
    sale = pos_movement("pos-1", "A", "amsterdam", -1, Reason.SALE)
    assert (sale.on_hand_delta, sale.allocated_delta, sale.reason) == (-1, 0, "sale")
    assert sale.idempotency_key == "pos/pos-1"
    assert pos_movement("a/b", "A", "amsterdam", 1, Reason.RECEIPT).idempotency_key == "pos/a%2Fb"


@pytest.mark.parametrize(
    ("reason", "delta", "problem"),
    [
        (Reason.SALE, 1, "a sale removes units: the delta must be < 0"),
        (Reason.RECEIPT, -2, "a receipt adds units: the delta must be > 0"),
        (Reason.DAMAGE, 0, "must not be 0"),
        (Reason.COUNT_CORRECTION, -3, None),
        (Reason.COUNT_CORRECTION, 3, None),
        (Reason.TRANSFER_IN, 4, None),
    ],
)
def test_a_reason_fixes_the_sign_of_the_delta(reason: Reason, delta: int, problem: str | None) -> None:
    assert delta_problem(reason, delta) == problem


def test_pos_movements_report_duplicates_in_the_ledger_and_in_the_batch(db: Session) -> None:
    first = [
        pos_movement("k1", "A", "amsterdam", 3, Reason.RECEIPT),
        pos_movement("k2", "A", "amsterdam", -1, Reason.SALE),
    ]
    assert ledger.apply_pos_movements(db, first) == [True, True]
    again = [
        pos_movement("k2", "A", "amsterdam", -1, Reason.SALE),
        pos_movement("k3", "A", "utrecht", 2, Reason.RECEIPT),
        pos_movement("k3", "A", "utrecht", 2, Reason.RECEIPT),
    ]
    assert ledger.apply_pos_movements(db, again) == [False, True, False]
    assert level(db, "A", "amsterdam") == (2, 0, 0)
    assert level(db, "A", "utrecht") == (2, 0, 0)


def test_a_back_order_takes_arriving_stock_before_a_newer_order(db: Session) -> None:
    older = order(db, "1", {"A": 2}, minutes=0)
    assert older.back_orders == {"A": 2}
    assert counts(db, "sku,location,on_hand\nA,utrecht,2\n") == 1
    db.flush()
    assert live(older) == {"utrecht": {"A": 2}}
    assert not older.back_ordered
    assert older.back_orders is None
    assert level(db, "A", "utrecht") == (2, 2, 0)
    newer = order(db, "2", {"A": 1}, minutes=5)
    assert newer.back_orders == {"A": 1}  # the units went to the older order
    entries = db.scalars(select(t.TimelineEntry.summary).where(t.TimelineEntry.order_id == older.id)).all()
    assert any(s.startswith("back-order served (stock import b): 2 units from utrecht") for s in entries)


def test_waiting_back_orders_are_served_oldest_first_whatever_the_insert_order(db: Session) -> None:
    late = order(db, "late", {"A": 1}, minutes=30)
    early = order(db, "early", {"A": 1}, minutes=10)  # ingested after, but created on the platform before
    ledger_moves = [pos_movement("r1", "A", "amsterdam", 1, Reason.RECEIPT)]
    ledger.apply_pos_movements(db, ledger_moves)
    Stocker(CONFIG).serve_back_orders(ledger.StockBook(db), {"A"}, why="test")
    db.flush()
    assert live(early) == {"amsterdam": {"A": 1}}
    assert live(late) == {}
    assert late.back_orders == {"A": 1}


def test_part_of_a_back_order_is_served_and_the_rest_stays_owed(db: Session) -> None:
    row = order(db, "1", {"A": 3, "B": 1}, minutes=0)
    counts(db, "sku,location,on_hand\nA,amsterdam,1\nA,utrecht,1\n")
    db.flush()
    assert sum(q for part in live(row).values() for q in part.values()) == 2
    assert row.back_orders == {"A": 1, "B": 1}
    assert row.back_ordered


def test_a_pickup_back_order_waits_for_its_own_shop(db: Session) -> None:
    row = order(db, "1", {"A": 1}, minutes=0, kind=OrderKind.PICKUP, pickup_location="amsterdam")
    counts(db, "sku,location,on_hand\nA,utrecht,5\n", batch="u")
    db.flush()
    assert live(row) == {}
    assert row.back_orders == {"A": 1}
    counts(db, "sku,location,on_hand\nA,amsterdam,1\n", batch="a")
    db.flush()
    assert live(row) == {"amsterdam": {"A": 1}}


def test_a_cancel_gives_its_stock_to_the_oldest_waiting_order(db: Session) -> None:
    counts(db, "sku,location,on_hand\nA,amsterdam,1\n")
    first = order(db, "1", {"A": 1}, minutes=0)
    waiting = order(db, "2", {"A": 1}, minutes=1)
    assert waiting.back_orders == {"A": 1}
    order(db, "1", {"A": 1}, minutes=0, cancelled=True, updated_at=T0 + timedelta(hours=1))
    db.flush()
    assert live(first) == {}
    assert live(waiting) == {"amsterdam": {"A": 1}}
    assert level(db, "A", "amsterdam") == (1, 1, 0)


def test_an_expired_hold_serves_a_waiting_back_order(db: Session) -> None:
    counts(db, "sku,location,on_hand\nA,amsterdam,1\n")
    held = order(db, "1", {"A": 1}, minutes=0, kind=OrderKind.RESERVATION)
    waiting = order(db, "2", {"A": 1}, minutes=1)
    assert held.hold_until is not None
    Stocker(CONFIG).expire_holds(db, now=held.hold_until + timedelta(minutes=1))
    db.flush()
    assert live(waiting) == {"amsterdam": {"A": 1}}


def test_a_cancelled_order_takes_nothing(db: Session) -> None:
    row = order(db, "1", {"A": 1}, minutes=0)
    row.status = "cancelled"  # staff cancelled every part: the back-order is not wanted any more
    counts(db, "sku,location,on_hand\nA,amsterdam,1\n")
    db.flush()
    assert live(row) == {}


def test_a_movement_file_applies_each_key_once(db: Session) -> None:
    text = "key,sku,location,delta,reason\nm1,A,amsterdam,5,receipt\nm2,A,amsterdam,-1,sale\nm1,A,amsterdam,5,receipt\n"
    result = import_csv(db, io.StringIO(text), Stocker(CONFIG), batch="x")
    assert (result.kind, result.rows, result.changed) == ("movements", 3, 2)
    assert level(db, "A", "amsterdam") == (4, 0, 0)
    assert import_csv(db, io.StringIO(text), Stocker(CONFIG), batch="y").changed == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "key,sku,location,delta,reason\nm1,A,amsterdam,5,receipt\nm2,A,amsterdam,1.5,sale\n",
            r"line 3, column 4 \(delta\): '1.5' is not a whole number",
        ),
        (
            "key,sku,location,delta,reason\nm1,A,amsterdam,5,receipt\nm2,A,amsterdam,1,sale\n",
            r"line 3, column 4 \(delta\): 1 a sale removes units",
        ),
        (
            "key,sku,location,delta,reason\nm1,A,amsterdam,5,gift\n",
            r"line 2, column 5 \(reason\): 'gift' is not one of sale",
        ),
        (
            "key,sku,location,delta,reason\nm1,A,paris,5,receipt\n",
            r"line 2, column 3 \(location\): unknown location 'paris'",
        ),
        ("key,sku,location,delta,reason\nm1,A,amsterdam\n", r"line 2: 3 fields, the header has 5"),
        (
            "sku,location,on_hand\nA,amsterdam,1\nB,amsterdam,-1\n",
            r"line 3, column 3 \(on_hand\): must not be negative",
        ),
        ("sku,location,on_hand\nA,amsterdam,1\n,amsterdam,1\n", r"line 3, column 1 \(sku\): is empty"),
        ("sku,place,count\nA,amsterdam,1\n", r"line 1: the header must name the columns"),
    ],
)
def test_a_file_with_one_bad_line_is_refused_whole(db: Session, text: str, message: str) -> None:
    before = movements_of(db)
    with db.begin_nested() as savepoint, pytest.raises(CsvError, match=message):
        import_csv(db, io.StringIO(text), Stocker(CONFIG), batch="bad")
    assert not savepoint.is_active
    assert movements_of(db) == before


def test_a_count_file_contradicting_itself_is_refused_naming_both_lines(db: Session) -> None:
    text = "sku,location,on_hand\nA,amsterdam,1\nB,amsterdam,4\nA,utrecht,2\nA,amsterdam,1\nB,amsterdam,5\n"
    with pytest.raises(CsvError, match=r"line 6, column on_hand: B at amsterdam is counted 5 here but 4 on line 3"):
        import_csv(db, io.StringIO(text), Stocker(CONFIG), batch="c")
    same = "sku,location,on_hand\nA,amsterdam,1\nA,amsterdam,1\n"  # a repeated row agrees with itself: one count
    assert import_csv(db, io.StringIO(same), Stocker(CONFIG), batch="d").changed == 1
    assert level(db, "A", "amsterdam") == (1, 0, 0)


def test_a_count_file_larger_than_a_chunk_sets_every_level(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("connector.stock.imports.CHUNK", 7)
    rows = "".join(f"S{n:03d},{loc},{n}\n" for n in range(40) for loc in ("amsterdam", "utrecht"))
    result = import_csv(db, io.StringIO("sku,location,on_hand\n" + rows), Stocker(CONFIG), batch="big")
    assert (result.rows, result.changed) == (80, 78)  # S000 counted 0 at both: no change
    assert level(db, "S039", "utrecht") == (39, 0, 0)
    assert len(ledger.levels(db)) == 78


def test_history_lists_every_change_newest_first_with_the_level_it_left(db: Session) -> None:
    counts(db, "sku,location,on_hand\nA,amsterdam,3\n")
    ledger.apply_pos_movements(db, [pos_movement("s1", "A", "amsterdam", -1, Reason.SALE)])
    order(db, "1", {"A": 1}, minutes=0)
    ledger.apply_pos_movements(db, [pos_movement("r1", "A", "utrecht", 4, Reason.RECEIPT)])
    rows = ledger.history(db, "A")
    assert [(r["location"], r["kind"], r["reason"], r["on_hand"], r["available"]) for r in rows] == [
        ("utrecht", "move", "receipt", 4, 4),
        ("amsterdam", "allocate", None, 2, 1),
        ("amsterdam", "move", "sale", 2, 2),
        ("amsterdam", "count", None, 3, 3),
    ]
    assert [r["kind"] for r in ledger.history(db, "A", location="utrecht")] == ["move"]


def test_a_count_file_writes_the_same_keys_as_a_count_made_here(db: Session) -> None:
    import_csv(db, io.StringIO("sku,location,on_hand\na/b%c,amsterdam,2\n"), Stocker(CONFIG), batch="x/1")
    [stored] = db.scalars(select(t.StockMovement)).all()
    made = count_movement("a/b%c", "amsterdam", 2, 0, "count/x/1/a/b%c/amsterdam")
    assert (stored.idempotency_key, stored.kind, stored.on_hand_delta) == (made.idempotency_key, "count", 2)


# --- invariants under random histories ----------------------------------------------------------------------------
SKUS = ("A", "B")
PLACES = ("amsterdam", "utrecht")
events = st.lists(
    st.one_of(
        st.tuples(
            st.just("order"),
            st.integers(0, 3),
            st.integers(0, 3),
            st.integers(0, 120),  # minutes after T0 on the platform: ingested out of creation order
            st.sampled_from(("", *PLACES)),  # a pickup order's shop, or a delivery
        ),
        st.tuples(st.just("receipt"), st.sampled_from(SKUS), st.sampled_from(PLACES), st.integers(1, 4)),
        st.tuples(st.just("sale"), st.sampled_from(SKUS), st.sampled_from(PLACES), st.integers(1, 2)),
        st.tuples(st.just("count"), st.sampled_from(SKUS), st.sampled_from(PLACES), st.integers(0, 5)),
        st.tuples(st.just("cancel"), st.integers(0, 20)),
    ),
    max_size=14,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=events)
def test_no_back_order_waits_while_stock_it_could_take_sits_anywhere(
    db: Session, history: list[tuple[Any, ...]]
) -> None:
    """After any history: allocated stock equals the live fulfilments, every order's units are allocated or owed,
    and no waiting order could take stock that is available where it may be served from."""
    savepoint = db.begin_nested()
    try:
        _play(db, history)
        db.flush()
        _check(db)
    finally:
        savepoint.rollback()


def _play(db: Session, history: list[tuple[Any, ...]]) -> None:
    made: list[tuple[str, dict[str, int], int, str]] = []
    for n, event in enumerate(history):
        match event:
            case ("order", a, b, minute, pickup):
                lines = {sku: q for sku, q in (("A", a), ("B", b)) if q}
                if lines:
                    kind = {"kind": OrderKind.PICKUP, "pickup_location": pickup} if pickup else {}
                    order(db, f"o{n}", lines, minute, **kind)
                    made.append((f"o{n}", lines, minute, pickup))
            case ("receipt" | "sale", sku, place, units):
                reason, delta = (Reason.RECEIPT, units) if event[0] == "receipt" else (Reason.SALE, -units)
                movement = pos_movement(f"k{n}", sku, place, delta, reason)
                ledger.apply_pos_movements(db, [movement])
                if delta > 0:
                    Stocker(CONFIG).serve_back_orders(ledger.StockBook(db), {sku}, why="receipt")
            case ("count", sku, place, units):
                counts(db, f"sku,location,on_hand\n{sku},{place},{units}\n", batch=f"c{n}")
            case ("cancel", index) if made:
                number, lines, minute, pickup = made[index % len(made)]
                kind = {"kind": OrderKind.PICKUP, "pickup_location": pickup} if pickup else {}
                later = T0 + timedelta(days=1, minutes=n)
                order(db, number, lines, minute, cancelled=True, updated_at=later, **kind)


def _check(db: Session) -> None:
    levels = ledger.levels(db)
    held: dict[tuple[str, str], int] = {}
    for row in db.scalars(select(t.Order)).all():
        placed: dict[str, int] = {}
        for f in row.fulfilments:
            if f.status == "cancelled":
                continue
            for line in f.lines:
                held[(line.sku, f.location)] = held.get((line.sku, f.location), 0) + line.quantity
                placed[line.sku] = placed.get(line.sku, 0) + line.quantity
        if row.cancelled:
            assert not placed
            assert not row.back_ordered
            continue
        owed = row.back_orders or {}
        ordered = {line.sku: line.quantity for line in row.lines}
        assert {sku: placed.get(sku, 0) + owed.get(sku, 0) for sku in ordered} == ordered
        places = [row.pickup_location] if row.kind == "pickup" else list(PLACES)
        for sku in owed:
            for place in places:
                level = levels.get((sku, place))
                assert level is None or level.available <= 0, f"{row.number} waits for {sku} that {place} has"
    assert {k: v.allocated for k, v in levels.items() if v.allocated} == {k: v for k, v in held.items() if v}
