"""The fulfilment workflow: transitions, payment gating, derived order status, and the write-backs it queues."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.mapping.statuses import Action, Event, Overrides, writes_for
from connector.orders.fulfilment import ActionRefused, Tracking, Workflow
from connector.orders.model import FulfilmentStatus, Line, Money, Order, OrderKind, PaymentStatus, Platform
from connector.runtime.config import Config, validate_config
from connector.stock import ledger
from connector.stock.order_effects import Stocker
from connector.storage import tables as t
from connector.sync.ingest import ingest_order

FS = FulfilmentStatus
T0 = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)


def config(platform: str, **writeback: Any) -> Config:
    creds = {
        "shopify": {"access_token": "x"},
        "woocommerce": {"consumer_key": "k", "consumer_secret": "s"},
        "bigcommerce": {"access_token": "x"},
        "lightspeed": {"api_key": "k", "api_secret": "s"},
    }[platform]
    return validate_config(
        {
            "daemon": {"admin_token": "x" * 20},
            "locations": [{"name": "amsterdam", "priority": 1, "pickup": True}, {"name": "utrecht", "priority": 2}],
            "stores": [
                {
                    "name": "s",
                    "platform": platform,
                    "base_url": "https://p.example",
                    "credentials": creds,
                    "writeback": writeback,
                }
            ],
        },
        env={},
    )


def eur(x: str) -> Money:
    return Money(Decimal(x), "EUR")


def setup(
    session: Session,
    platform: str,
    lines: dict[str, int],
    *,
    kind: OrderKind = OrderKind.DELIVERY,
    paid: bool = True,
    **writeback: Any,
) -> tuple[Workflow, t.Order]:
    cfg = config(platform, **writeback)
    session.add(t.Store(name="s", platform=platform))
    session.flush()
    ledger.import_counts(
        session,
        [ledger.Count("A", "amsterdam", 1), ledger.Count("B", "utrecht", 5), ledger.Count("A", "utrecht", 0)],
    )
    stocker = Stocker(cfg)
    order = Order(
        store="s",
        platform=Platform(platform),
        external_id="9",
        number="#9",
        kind=kind,
        payment_status=PaymentStatus.PAID if paid else PaymentStatus.UNPAID,
        platform_status="x",
        currency="EUR",
        subtotal=eur("30"),
        shipping_total=eur("0"),
        tax_total=eur("0"),
        discount_total=eur("0"),
        total=eur("30"),
        created_at=T0,
        updated_at=T0,
        pickup_location="amsterdam" if kind is OrderKind.PICKUP else "",
        lines=tuple(Line(sku, sku, q, eur("10"), eur("10") * q) for sku, q in lines.items()),
    )
    outcome = ingest_order(session, session.scalar(select(t.Store.id)) or 0, order, source="test")
    stocker.on_outcome(session, outcome)
    session.flush()
    row = session.get(t.Order, outcome.order_id)
    assert row is not None
    return Workflow({s.name: s for s in cfg.stores}, stocker), row


def outbox(session: Session) -> list[tuple[str, str, str]]:
    return [
        (o.action, o.target_state, (o.payload or {}).get("location", "order"))
        for o in session.scalars(select(t.OutboxItem).order_by(t.OutboxItem.id))
    ]


def test_bigcommerce_packed_then_shipped_writes_9_then_10(session: Session) -> None:
    flow, row = setup(session, "bigcommerce", {"B": 2})
    flow.transition(session, row, FS.PACKED, actor="t")
    assert outbox(session) == [("set_status", "9", "order")]
    flow.transition(session, row, FS.SHIPPED, actor="t", tracking=Tracking("3S123", "PostNL"))
    assert outbox(session)[-1] == ("set_status", "10", "order")
    assert row.status == "completed"
    assert row.fulfilments[0].tracking_number == "3S123"
    assert ledger.levels(session)[("B", "utrecht")].on_hand == 3


def test_packed_is_written_nowhere_else(session: Session) -> None:
    for platform in ("shopify", "woocommerce", "lightspeed"):
        assert writes_for(Platform(platform), Event.PACKED_DELIVERY) == ()
    flow, row = setup(session, "woocommerce", {"B": 1})
    flow.transition(session, row, FS.PACKED, actor="cli:ann")
    assert outbox(session) == []
    entries = session.scalars(select(t.TimelineEntry).order_by(t.TimelineEntry.id))
    outbound = [(e.summary, e.actor) for e in entries if e.kind == "outbound"]
    assert outbound == [("packed_delivery: skipped, unsupported by woocommerce", "cli:ann")]


def test_unpaid_ship_is_refused_until_a_payment_is_recorded(session: Session) -> None:
    flow, row = setup(session, "woocommerce", {"B": 1}, paid=False)
    flow.transition(session, row, FS.PACKED, actor="t")
    with pytest.raises(ActionRefused, match="record a payment first"):
        flow.transition(session, row, FS.SHIPPED, actor="t")
    flow.record_payment(session, row, Decimal("30"), "cash", "t")
    flow.transition(session, row, FS.SHIPPED, actor="t")
    assert outbox(session) == [("set_status", "completed", "order")]


def test_pickup_must_be_paid_before_packing(session: Session) -> None:
    flow, row = setup(session, "bigcommerce", {"A": 1}, kind=OrderKind.PICKUP, paid=False)
    with pytest.raises(ActionRefused, match="fully paid before it is packed"):
        flow.transition(session, row, FS.PACKED, actor="t")
    flow.record_payment(session, row, Decimal("30"), "card", "t")
    flow.transition(session, row, FS.PACKED, actor="t")
    assert outbox(session) == [("set_status", "8", "order")]
    with pytest.raises(ActionRefused, match="mark it picked up, not shipped"):
        flow.transition(session, row, FS.SHIPPED, actor="t")
    flow.transition(session, row, FS.PICKED_UP, actor="t")
    assert outbox(session)[-1] == ("set_status", "10", "order")


def test_invalid_transitions_say_why(session: Session) -> None:
    flow, row = setup(session, "shopify", {"B": 1})
    with pytest.raises(ActionRefused, match="it is new; pack it first"):
        flow.transition(session, row, FS.SHIPPED, actor="t")
    flow.transition(session, row, FS.PACKED, actor="t")
    flow.transition(session, row, FS.SHIPPED, actor="t")
    with pytest.raises(ActionRefused, match="already shipped"):
        flow.transition(session, row, FS.PACKED, actor="t")


def test_split_order_completes_on_the_platform_only_after_the_last_location(session: Session) -> None:
    flow, row = setup(session, "woocommerce", {"A": 1, "B": 1})
    assert sorted(f.location for f in row.fulfilments) == ["amsterdam", "utrecht"]
    flow.transition(session, row, FS.PACKED, actor="t")
    flow.transition(session, row, FS.SHIPPED, actor="cli:ann", location="amsterdam")
    assert row.status == "open"
    assert outbox(session) == []
    entries = session.scalars(select(t.TimelineEntry).order_by(t.TimelineEntry.id))
    waiting = [(e.summary, e.actor) for e in entries if e.kind == "outbound"]
    assert waiting[-1] == ("shipped at amsterdam: the platform is updated when every location is done", "cli:ann")
    flow.transition(session, row, FS.SHIPPED, actor="t", location="utrecht")
    assert row.status == "completed"
    assert outbox(session) == [("set_status", "completed", "order")]


def test_shopify_gets_one_fulfillment_per_location_as_each_ships(session: Session) -> None:
    flow, row = setup(session, "shopify", {"A": 1, "B": 1})
    flow.transition(session, row, FS.PACKED, actor="t")
    flow.transition(session, row, FS.SHIPPED, actor="t", location="utrecht")
    assert outbox(session) == [("create_fulfillment", "fulfilled", "utrecht")]
    flow.transition(session, row, FS.SHIPPED, actor="t", location="amsterdam")
    assert outbox(session)[-1] == ("create_fulfillment", "fulfilled", "amsterdam")


def test_overrides_enable_more_and_custom_statuses() -> None:
    detailed = writes_for(Platform.LIGHTSPEED, Event.PACKED_PICKUP, Overrides(detailed_statuses=True))
    assert [w.target for w in detailed] == ["processing_ready_for_pickup"]
    shipments = writes_for(Platform.BIGCOMMERCE, Event.SHIPPED, Overrides(shipments=True))
    assert [w.action for w in shipments] == [Action.CREATE_SHIPMENT, Action.SET_STATUS]
    custom = writes_for(
        Platform.WOOCOMMERCE, Event.PACKED_DELIVERY, Overrides(statuses=((Event.PACKED_DELIVERY, "packed"),))
    )
    assert [w.target for w in custom] == ["packed"]
    assert writes_for(Platform.SHOPIFY, Event.CANCELLED) == ()
    assert [w.action for w in writes_for(Platform.SHOPIFY, Event.CANCELLED, Overrides(cancel=True))] == [
        Action.CANCEL_ORDER
    ]


def test_notes_are_internal_and_never_queued(session: Session) -> None:
    flow, row = setup(session, "bigcommerce", {"B": 1})
    flow.add_note(session, row, "customer asked for gift wrap", "t")
    assert outbox(session) == []
    notes = [e for e in session.scalars(select(t.TimelineEntry)) if e.kind == "note"]
    assert notes[0].details == {"internal": True}


def test_cancel_gives_stock_back(session: Session) -> None:
    flow, row = setup(session, "bigcommerce", {"B": 2})
    assert ledger.levels(session)[("B", "utrecht")].allocated == 2
    flow.transition(session, row, FS.CANCELLED, actor="t")
    assert ledger.levels(session)[("B", "utrecht")].allocated == 0
    assert row.status == "cancelled"
