"""The Shopify client's pure parts: its GraphQL documents, the cost gauge, and how a write-back is decided.

Documents are validated against Shopify's own 2022-07 Admin schema (its slice in `tests/fixtures/shopify`) where
they use nothing newer, against the sandbox's slice (2022-07 plus the documented later mutations) otherwise, and their
requested cost is computed with Shopify's documented rules (the sandbox's `CostWalk`): none may exceed 1000.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
import samples
from graphql import GraphQLSchema, build_schema, get_operation_ast, parse, validate

from connector.platforms import shopify_queries as q
from connector.platforms.shopify_transport import UNKNOWN_COST, CostGauge, error_codes, throttle_wait
from connector.platforms.shopify_writes import fulfilment_plan, pickup_orders, tracking_input
from sandbox.shopify.graphql_api import CostWalk, schema

CONNECTIONS = ("shippingLines", "lineItems", "fulfillmentOrders", "fulfillmentOrders.lineItems")
LATER_MUTATIONS = {"PREPARE_FOR_PICKUP", "CANCEL"}  # on shopify.dev since 2023-04 / 2024-04


@cache
def admin_schema() -> GraphQLSchema:
    return build_schema(samples.load_text("shopify", "admin-2022-07.graphql"), assume_valid=True)


def documents() -> dict[str, str]:
    fixed = {name: getattr(q, name) for name in ("ORDERS_PAGE", "ORDER_QUERY", "WRITE_STATE", "FULFILL", "WEBHOOKS")}
    fixed |= {"WEBHOOK_CREATE": q.WEBHOOK_CREATE, "PREPARE_FOR_PICKUP": q.PREPARE_FOR_PICKUP, "CANCEL": q.CANCEL}
    return fixed | {f"more {path}": q.more_query(path) for path in CONNECTIONS}


def requested_cost(document: str, **variables: Any) -> int:
    parsed = parse(document)
    operation = get_operation_ast(parsed)
    assert operation is not None
    return CostWalk(parsed, variables).operation(operation, None)


# --- documents --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(documents()))
def test_every_document_is_valid_against_shopifys_schema(name: str) -> None:
    document = parse(documents()[name])
    against = schema() if name in LATER_MUTATIONS else admin_schema()
    assert [error.message for error in validate(against, document)] == []
    assert [error.message for error in validate(schema(), document)] == []


@pytest.mark.parametrize("name", sorted(documents()))
def test_no_document_costs_more_than_shopify_allows(name: str) -> None:
    variables = {"first": q.PAGE_ORDERS} if name == "ORDERS_PAGE" else {}
    assert requested_cost(documents()[name], **variables) <= 1000


def test_the_costs_are_those_the_docstring_gives() -> None:
    assert requested_cost(q.ORDERS_PAGE, first=q.PAGE_ORDERS) == 902
    assert requested_cost(q.ORDER_QUERY) == 652
    assert requested_cost(q.WRITE_STATE) == 333
    assert max(requested_cost(q.more_query(path)) for path in CONNECTIONS) == 633


# A location's stock: `available` up to 2022-10, `quantities(names:)` from 2023-01 on (Shopify removed `available`
# in 2024-04). The later field, as shopify.dev documents it for 2024-07, added to 2022-07's schema:
QUANTITIES_2023_01 = """
extend type InventoryLevel { quantities(names: [String!]!): [InventoryQuantity!]! }
type InventoryQuantity { id: ID! name: String! quantity: Int! updatedAt: DateTime }
"""


@cache
def admin_schema_with_quantities() -> GraphQLSchema:
    text = samples.load_text("shopify", "admin-2022-07.graphql") + QUANTITIES_2023_01
    return build_schema(text, assume_valid=True)


def test_stock_is_read_as_available_before_2023_01_and_as_on_hand_from_then_on() -> None:
    assert [q.stock_query(v)[2] for v in ("2022-07", "2022-10")] == ["available", "available"]
    assert [q.stock_query(v)[2] for v in ("2023-01", "2024-07", "2025-01", "unstable")] == ["on_hand"] * 4
    old, new = parse(q.LOCATION_STOCK_AVAILABLE), parse(q.LOCATION_STOCK_ON_HAND)
    assert [error.message for error in validate(admin_schema(), old)] == []
    assert [error.message for error in validate(schema(), old)] == []
    assert [error.message for error in validate(admin_schema_with_quantities(), new)] == []
    assert validate(admin_schema(), new)  # 2022-07 has no `quantities`: the version decides which one is sent


def test_a_page_of_a_locations_stock_costs_what_the_docstring_gives() -> None:
    assert requested_cost(q.LOCATION_STOCK_AVAILABLE, first=q.PAGE_LEVELS) == 503


def test_every_connection_is_sized_and_paginated() -> None:
    fragment = q.order_fields(
        {"shippingLines": 1, "lineItems": 2, "fulfillmentOrders": 3, "fulfillmentOrders.lineItems": 4}
    )
    assert "shippingLines(first: 1)" in fragment
    assert "lineItems(first: 2)" in fragment
    assert "fulfillmentOrders(first: 3)" in fragment
    assert "lineItems(first: 4)" in fragment
    assert fragment.count("pageInfo") == 4
    unsized = q.order_fields({"shippingLines": 1, "lineItems": 2, "fulfillmentOrders": 3})
    assert unsized.count("pageInfo") == 3  # a connection without a size keeps the fragment's own `first:`


def test_every_connection_of_the_mappers_fragment_has_a_size_and_an_owner() -> None:
    paths = q.connection_paths()
    assert sorted(paths) == sorted(CONNECTIONS)
    for sizes in (q.PAGE_SIZES, q.ORDER_SIZES, q.MORE_SIZES):
        assert set(sizes) == set(paths)
    assert {path for owned in q.CONNECTIONS.values() for path in owned} == set(paths)


def test_the_next_page_of_a_nested_connection_is_read_from_its_owner() -> None:
    more = q.more_query("fulfillmentOrders.lineItems")
    assert more.startswith("query MoreFulfillmentOrdersLineItems($id: ID!, $after: String)")
    assert "owner: fulfillmentOrder(id: $id)" in more
    assert "conn: lineItems(first: 60, after: $after)" in more


# --- cost gauge -------------------------------------------------------------------------------------------------
def cost(requested: float, available: float, actual: float | None = None) -> dict[str, Any]:
    throttle = {"maximumAvailable": 2000.0, "currentlyAvailable": available, "restoreRate": 100.0}
    return {"requestedQueryCost": requested, "actualQueryCost": actual, "throttleStatus": throttle}


def test_the_gauge_waits_until_a_query_fits_and_books_it() -> None:
    now = [0.0]
    gauge = CostGauge(clock=lambda: now[0])
    assert gauge.reserve("OrdersPage") == 0.0  # nothing known yet
    gauge.observe("OrdersPage", cost(866, 300, 250))
    assert gauge.reserve("OrdersPage") == pytest.approx((866 + 1 - 300) / 100)
    now[0] += 1.0  # 100 points restored, but the booked query has taken them
    assert gauge.reserve("OrdersPage") == pytest.approx((866 + 1 - (300 - 866 + 100)) / 100)
    assert gauge.spent == 250


def test_the_gauge_assumes_the_maximum_for_an_operation_it_has_not_seen() -> None:
    gauge = CostGauge(clock=lambda: 0.0)
    gauge.observe("Order", cost(646, 500, 40))
    assert gauge.reserve("MoreLineItems") == pytest.approx((UNKNOWN_COST + 1 - 500) / 100)


def test_a_refusal_says_how_long_to_wait() -> None:
    assert throttle_wait(cost(866, 66)) == pytest.approx(8.01)
    assert throttle_wait(None) is None
    assert error_codes([{"message": "Throttled"}]) == {"THROTTLED"}
    assert error_codes([{"message": "x", "extensions": {"code": "MAX_COST_EXCEEDED"}}]) == {"MAX_COST_EXCEEDED"}


# --- write-back decisions ---------------------------------------------------------------------------------------
def fo(fo_id: int, location: int, status: str = "OPEN", method: str = "SHIPPING", **remaining: int) -> dict[str, Any]:
    lines = [
        {"id": f"gid://shopify/FulfillmentOrderLineItem/{fo_id}{n}", "remainingQuantity": qty, "lineItem": {"sku": sku}}
        for n, (sku, qty) in enumerate(remaining.items())
    ]
    return {
        "id": f"gid://shopify/FulfillmentOrder/{fo_id}",
        "status": status,
        "assignedLocation": {"location": {"id": f"gid://shopify/Location/{location}"}},
        "deliveryMethod": {"methodType": method},
        "lineItems": {"nodes": lines},
    }


def test_a_location_fulfils_its_own_fulfillment_orders_only() -> None:
    fos = [fo(1, 10, A=2, B=1), fo(2, 20, C=3)]
    plan = fulfilment_plan(fos, "10", {})
    assert plan.groups == {
        "gid://shopify/Location/10": [
            {
                "fulfillmentOrderId": "gid://shopify/FulfillmentOrder/1",
                "fulfillmentOrderLineItems": [
                    {"id": "gid://shopify/FulfillmentOrderLineItem/10", "quantity": 2},
                    {"id": "gid://shopify/FulfillmentOrderLineItem/11", "quantity": 1},
                ],
            }
        ]
    }
    by_gid = fulfilment_plan(fos, "gid://shopify/Location/20", {"C": 2})
    assert by_gid.groups["gid://shopify/Location/20"][0]["fulfillmentOrderLineItems"][0]["quantity"] == 2


def test_what_is_fulfilled_already_leaves_nothing_to_send() -> None:
    fos = [fo(1, 10, status="CLOSED", A=0), fo(2, 20, C=3)]
    assert fulfilment_plan(fos, "10", {"A": 2}).groups == {}
    assert fulfilment_plan([fo(1, 10, status="IN_PROGRESS", A=0, B=1)], "10", {"A": 1}).groups == {}


def test_an_unknown_location_falls_back_to_every_fulfillment_order_by_location() -> None:
    plan = fulfilment_plan([fo(1, 10, A=1), fo(2, 20, B=1)], "99", {"A": 1, "B": 1})
    assert sorted(plan.groups) == ["gid://shopify/Location/10", "gid://shopify/Location/20"]


def test_skus_the_order_does_not_have_are_named() -> None:
    plan = fulfilment_plan([fo(1, 10, A=1)], "10", {"A": 1, "Z": 2})
    assert plan.unknown == ["Z"]
    assert plan.groups["gid://shopify/Location/10"][0]["fulfillmentOrderLineItems"] == [
        {"id": "gid://shopify/FulfillmentOrderLineItem/10", "quantity": 1}
    ]


def test_fulfillment_orders_on_hold_make_the_write_wait() -> None:
    plan = fulfilment_plan([fo(1, 10, status="ON_HOLD", A=1)], "10", {})
    assert (plan.groups, plan.waiting) == ({}, ["gid://shopify/FulfillmentOrder/1"])


def test_pickup_orders_are_the_open_pick_up_ones_of_the_location() -> None:
    fos = [fo(1, 10, method="PICK_UP", A=1), fo(2, 20, method="SHIPPING", B=1)]
    assert pickup_orders(fos, "10") == (["gid://shopify/FulfillmentOrder/1"], True)
    assert pickup_orders([fo(1, 10, status="CLOSED", method="PICK_UP", A=0)], "10") == ([], True)
    assert pickup_orders([fo(2, 20, B=1)], "20") == ([], False)


def test_tracking_becomes_shopifys_input() -> None:
    assert tracking_input({"number": "1Z9", "carrier": "UPS", "url": "https://t.example/1Z9"}) == {
        "number": "1Z9",
        "company": "UPS",
        "url": "https://t.example/1Z9",
    }
    assert tracking_input({"number": " 42 "}) == {"number": "42"}
    assert tracking_input({}) is None
