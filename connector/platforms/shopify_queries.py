"""The GraphQL documents the Shopify client sends, built from the mapper's `ORDER_QUERY_FIELDS`.

The mapper (`connector.mapping.shopify`) owns which fields an order needs; this module owns how much of each
nested list one request asks for. Shopify charges a query by what it *could* return: a connection costs 2 plus
`first` times the cost of one node, and no single query may cost more than 1000 points (`MAX_COST_EXCEEDED`). So
whatever `first:` values the fragment carries are replaced here (`PAGE_SIZES` for a page of the orders listing,
`ORDER_SIZES` for one order) and every connection gets `pageInfo { hasNextPage endCursor }`. An order with more
lines than a request asked for is completed by the client, one connection at a time, with `more_query`
(`order(id:)` or `fulfillmentOrder(id:)`, `after:` the connection's end cursor), so nothing is cut off silently.
A page's requested cost sets how many orders it can hold; what Shopify charges (and what paces a backfill) is the
actual cost, which counts only what came back.

Requested costs (Shopify's documented rules, as the sandbox computes them; checked in the unit tests):

    ORDERS_PAGE   PAGE_ORDERS (6) orders     902 points requested (2 + 6 x 150); a page is charged far less
                                               (about 45 points per order of 1-3 lines): the rest is refunded
    ORDER_QUERY   one order                  652 points requested
    WRITE_STATE   an order's fulfillment     333 points requested
                  orders (for write-backs)
    more_query    one connection, next page  at most 633 points requested
    stock_query   PAGE_LEVELS (250) levels   503 points requested (1 + 2 + 250 x 2) with `available`,
                  of one location            753 (1 + 2 + 250 x 3) with `quantities` (one name: one object),
                                               as the sandbox charges it for 2023-01 and later
    mutations                                10 points each

A location's stock (`stock_query`) depends on the API version: `InventoryLevel.available` (units free to sell:
on hand minus those committed to unfulfilled orders and those set aside) is all the 2022-07 schema has; 2023-01
added `quantities(names:)` with `on_hand` (every unit physically there, committed ones included) and 2024-04
removed `available`. Our ledger's on_hand includes units allocated to open orders, so `on_hand` is asked for
wherever the version has it.

A connection is named by its path, the connection fields above it: "lineItems", "fulfillmentOrders",
"fulfillmentOrders.lineItems". `CONNECTIONS` says which connections an object reached by each path holds.
"""

from __future__ import annotations

from collections.abc import Mapping

from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    IntValueNode,
    NameNode,
    SelectionNode,
    SelectionSetNode,
    VariableNode,
    parse,
    print_ast,
)

from connector.mapping.shopify import ORDER_QUERY_FIELDS

Sizes = Mapping[str, int]

PAGE_ORDERS = 6  # orders per page of the listing: see the cost table above
PAGE_SIZES: Sizes = {"shippingLines": 2, "lineItems": 8, "fulfillmentOrders": 2, "fulfillmentOrders.lineItems": 8}
ORDER_SIZES: Sizes = {"shippingLines": 5, "lineItems": 30, "fulfillmentOrders": 5, "fulfillmentOrders.lineItems": 30}
MORE_SIZES: Sizes = {"shippingLines": 50, "lineItems": 60, "fulfillmentOrders": 5, "fulfillmentOrders.lineItems": 60}

# Which connections an object holds, by the path of the connection it came from ("" is the order itself), and the
# root field that reads such an object by its id (for the next page of one of its connections).
CONNECTIONS: dict[str, tuple[str, ...]] = {
    "": ("shippingLines", "lineItems", "fulfillmentOrders"),
    "fulfillmentOrders": ("fulfillmentOrders.lineItems",),
}
OWNER_FIELDS = {"": "order", "fulfillmentOrders": "fulfillmentOrder"}

_WRAPPERS = {"nodes", "edges", "node"}  # connection plumbing: not part of a connection's path


def _fragment() -> FragmentDefinitionNode:
    document = parse(ORDER_QUERY_FIELDS)
    fragments = [d for d in document.definitions if isinstance(d, FragmentDefinitionNode)]
    if len(fragments) != 1:
        raise ValueError("ORDER_QUERY_FIELDS must hold exactly one fragment")
    return fragments[0]


def _page_info() -> SelectionNode:
    fragment = parse("fragment P on PageInfoHolder { pageInfo { hasNextPage endCursor } }").definitions[0]
    assert isinstance(fragment, FragmentDefinitionNode)
    return fragment.selection_set.selections[0]


def _child_path(prefix: str, field: FieldNode) -> str:
    name = field.name.value
    return prefix if name in _WRAPPERS else f"{prefix}.{name}".lstrip(".")


def _is_connection(field: FieldNode) -> bool:
    return any(arg.name.value == "first" for arg in field.arguments or ())


def _with_page_info(selections: tuple[SelectionNode, ...]) -> tuple[SelectionNode, ...]:
    if any(isinstance(s, FieldNode) and s.name.value == "pageInfo" for s in selections):
        return selections
    return (_page_info(), *selections)


def _resized(field: FieldNode, path: str, sizes: Sizes, after: bool = False) -> FieldNode:
    """A connection field asking for `sizes[path]` nodes (and `after: $after` if asked), with `pageInfo`."""
    if path not in sizes:
        raise KeyError(f"no size for the connection {path!r} of ORDER_QUERY_FIELDS")
    arguments = [a for a in field.arguments or () if a.name.value not in {"first", "after"}]
    arguments.insert(0, ArgumentNode(name=NameNode(value="first"), value=IntValueNode(value=str(sizes[path]))))
    if after:
        arguments.append(ArgumentNode(name=NameNode(value="after"), value=VariableNode(name=NameNode(value="after"))))
    inner = _sized(field.selection_set.selections if field.selection_set else (), path, sizes)
    return _copy(field, tuple(arguments), _with_page_info(inner))


def _copy(field: FieldNode, arguments: tuple[ArgumentNode, ...], selections: tuple[SelectionNode, ...]) -> FieldNode:
    return FieldNode(
        alias=field.alias,
        name=field.name,
        arguments=arguments,
        directives=field.directives,
        selection_set=SelectionSetNode(selections=selections),
    )


def _sized(selections: tuple[SelectionNode, ...], prefix: str, sizes: Sizes) -> tuple[SelectionNode, ...]:
    out: list[SelectionNode] = []
    for selection in selections:
        if not isinstance(selection, FieldNode) or selection.selection_set is None:
            out.append(selection)
            continue
        path = _child_path(prefix, selection)
        if _is_connection(selection) and path in sizes:
            out.append(_resized(selection, path, sizes))
        else:
            inner = _sized(selection.selection_set.selections, path, sizes)
            out.append(_copy(selection, tuple(selection.arguments or ()), inner))
    return tuple(out)


def connection_paths() -> list[str]:
    """Every connection of the mapper's fragment, by path (each should have a size in `PAGE_SIZES`...)."""
    found: list[str] = []

    def walk(selections: tuple[SelectionNode, ...], prefix: str) -> None:
        for selection in selections:
            if isinstance(selection, FieldNode) and selection.selection_set is not None:
                path = _child_path(prefix, selection)
                if _is_connection(selection):
                    found.append(path)
                walk(selection.selection_set.selections, path)

    walk(_fragment().selection_set.selections, "")
    return found


def order_fields(sizes: Sizes) -> str:
    """`ORDER_QUERY_FIELDS` (fragment `OrderFields`) with its connections sized and paginated.

    A connection `sizes` does not name (one the mapper added since) keeps the fragment's own `first:` and is
    read as far as that goes; the unit tests insist that every connection has a size here.
    """
    fragment = _fragment()
    selections = _sized(fragment.selection_set.selections, "", sizes)
    sized = FragmentDefinitionNode(
        name=fragment.name,
        type_condition=fragment.type_condition,
        directives=fragment.directives,
        selection_set=SelectionSetNode(selections=selections),
    )
    return print_ast(DocumentNode(definitions=(sized,)))


def _find(selections: tuple[SelectionNode, ...], prefix: str, wanted: str) -> tuple[FieldNode, str] | None:
    for selection in selections:
        if not isinstance(selection, FieldNode) or selection.selection_set is None:
            continue
        path = _child_path(prefix, selection)
        if path == wanted and _is_connection(selection):
            return selection, prefix
        found = _find(selection.selection_set.selections, path, wanted)
        if found is not None:
            return found
    return None


def connection_field(path: str, sizes: Sizes, *, alias: str = "", after: bool = False) -> str:
    """One connection of the fragment (e.g. "fulfillmentOrders") as a field, sized, with `pageInfo`."""
    found = _find(_fragment().selection_set.selections, "", path)
    if found is None:
        raise KeyError(f"ORDER_QUERY_FIELDS has no connection {path!r}")
    field, _owner = found
    sized = _resized(field, path, sizes, after=after)
    if alias:
        sized = FieldNode(
            alias=NameNode(value=alias),
            name=sized.name,
            arguments=sized.arguments,
            directives=sized.directives,
            selection_set=sized.selection_set,
        )
    return print_ast(sized)


def more_operation(path: str) -> str:
    """The operation name of `more_query(path)`: "fulfillmentOrders.lineItems" -> "MoreFulfillmentOrdersLineItems"."""
    return "More" + "".join(part[:1].upper() + part[1:] for part in path.split("."))


def more_query(path: str) -> str:
    """The next page of one connection of one object: `owner.conn` in the answer."""
    root = OWNER_FIELDS[path.rpartition(".")[0]]
    field = connection_field(path, MORE_SIZES, alias="conn", after=True)
    return f"query {more_operation(path)}($id: ID!, $after: String) {{ owner: {root}(id: $id) {{ {field} }} }}"


ORDERS_PAGE = (
    "query OrdersPage($first: Int!, $after: String, $query: String) {\n"
    "  orders(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) {\n"
    "    pageInfo { hasNextPage endCursor }\n"
    "    nodes { ...OrderFields }\n"
    "  }\n"
    "}\n" + order_fields(PAGE_SIZES)
)

ORDER_QUERY = "query Order($id: ID!) {\n  order(id: $id) { ...OrderFields }\n}\n" + order_fields(ORDER_SIZES)

WRITE_STATE = (
    "query WriteState($id: ID!) {\n"
    "  order(id: $id) {\n"
    "    id cancelledAt displayFulfillmentStatus\n"
    f"    {connection_field('fulfillmentOrders', ORDER_SIZES)}\n"
    "  }\n"
    "}\n"
)

FULFILL = """
mutation Fulfill($fulfillment: FulfillmentV2Input!) {
  fulfillmentCreateV2(fulfillment: $fulfillment) {
    fulfillment { id name status trackingInfo { company number url } }
    userErrors { field message }
  }
}
"""

PREPARE_FOR_PICKUP = """
mutation PrepareForPickup($input: FulfillmentOrderLineItemsPreparedForPickupInput!) {
  fulfillmentOrderLineItemsPreparedForPickup(input: $input) {
    userErrors { code field message }
  }
}
"""

CANCEL = """
mutation Cancel($orderId: ID!, $reason: OrderCancelReason!, $refund: Boolean!, $restock: Boolean!,
                $notifyCustomer: Boolean, $staffNote: String) {
  orderCancel(orderId: $orderId, reason: $reason, refund: $refund, restock: $restock,
              notifyCustomer: $notifyCustomer, staffNote: $staffNote) {
    job { id done }
    orderCancelUserErrors { code field message }
  }
}
"""

WEBHOOKS = """
query Webhooks($after: String) {
  webhookSubscriptions(first: 100, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { id topic endpoint { __typename ... on WebhookHttpEndpoint { callbackUrl } } }
  }
}
"""

WEBHOOK_CREATE = """
mutation WebhookCreate($topic: WebhookSubscriptionTopic!, $webhookSubscription: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {
    webhookSubscription { id topic endpoint { __typename ... on WebhookHttpEndpoint { callbackUrl } } }
    userErrors { field message }
  }
}
"""

PAGE_LEVELS = 250  # inventory levels per page of a location's stock (Shopify's most for `first`)
NAMED_QUANTITIES_SINCE = "2023-01"  # the first API version with `InventoryLevel.quantities(names:)`

_LOCATION_STOCK = """
query %s($id: ID!, $first: Int!, $after: String) {
  location(id: $id) {
    id
    inventoryLevels(first: $first, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes { %s item { sku tracked } }
    }
  }
}
"""
LOCATION_STOCK_AVAILABLE = _LOCATION_STOCK % ("LocationStockAvailable", "available")
LOCATION_STOCK_ON_HAND = _LOCATION_STOCK % ("LocationStockOnHand", 'quantities(names: ["on_hand"]) { name quantity }')


def stock_query(api_version: str) -> tuple[str, str, str]:
    """(operation, document, quantity) that reads a location's stock in `api_version`: `on_hand` from 2023-01 on
    (and on `unstable`), `available` before (see the module docstring)."""
    if api_version == "unstable" or api_version >= NAMED_QUANTITIES_SINCE:
        return "LocationStockOnHand", LOCATION_STOCK_ON_HAND, "on_hand"
    return "LocationStockAvailable", LOCATION_STOCK_AVAILABLE, "available"


__all__ = [
    "CANCEL",
    "CONNECTIONS",
    "FULFILL",
    "LOCATION_STOCK_AVAILABLE",
    "LOCATION_STOCK_ON_HAND",
    "MORE_SIZES",
    "NAMED_QUANTITIES_SINCE",
    "ORDERS_PAGE",
    "ORDER_QUERY",
    "ORDER_SIZES",
    "PAGE_LEVELS",
    "PAGE_ORDERS",
    "PAGE_SIZES",
    "PREPARE_FOR_PICKUP",
    "WEBHOOKS",
    "WEBHOOK_CREATE",
    "WRITE_STATE",
    "connection_field",
    "connection_paths",
    "more_operation",
    "more_query",
    "order_fields",
    "stock_query",
]
