"""The Shopify sandbox's GraphQL Admin API: `POST /admin/api/{version}/graphql.json` on Shopify's own type system.

The schema is `schema.graphql`, a field-for-field slice of Shopify's 2022-07 Admin schema plus what the
connector needs that came later (see that file). Each request gets the schema of the API version in its path
(`schema(version)`): a field that came later is there only from the version that added it, a field Shopify removed
only before the version that removed it (`VERSIONED`: `InventoryLevel.quantities` from 2023-01, `available` and
`incoming` up to 2024-01), so `unstable` and every version from 2024-04 on have no `InventoryLevel.available`. Every
query is parsed and validated against that schema, so a query Shopify would reject is rejected here, with Shopify's
error shape (`message`, `locations`, `extensions.code`). Valid queries run on the resolvers in `shopify_resolvers`.

Rate limiting is Shopify's calculated query cost: scalars and enums 0, objects 1, connections 2 plus `first` (or
`last`) times the cost of one node, a list of objects as many objects as its list argument asks for (`ids`, `names`;
one without), mutations 10; no query may cost more than 1000 (`MAX_COST_EXCEEDED`). The
requested cost must fit in a bucket of 2000 points that restores 100 points a second (the Standard plan) or the
answer is HTTP 200 with a `THROTTLED` error and `actualQueryCost: null`; after the query runs the difference
between requested and actual cost is refunded. Every executed answer carries
`extensions.cost.{requestedQueryCost, actualQueryCost, throttleStatus}`.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    OperationDefinitionNode,
    OperationType,
    SelectionNode,
    TypeDefinitionNode,
    TypeExtensionNode,
    VariableNode,
    build_ast_schema,
    execute_sync,
    get_named_type,
    get_nullable_type,
    get_operation_ast,
    is_leaf_type,
    is_list_type,
    parse,
    validate,
)
from starlette.concurrency import run_in_threadpool

from sandbox.shopify.orders import Json, Tracking
from sandbox.shopify.resolvers import RESOLVERS, Context, Info, ctx, parse_gid, resolve, webhook_json
from sandbox.shopify.state import TOPICS, FulfilRequest, ShopifyError, ShopifyState

SCHEMA_FILE = Path(__file__).with_name("schema.graphql")
MAX_QUERY_COST = 1000
MUTATION_COST = 10
RATE_DOC = "https://shopify.dev/api/usage/rate-limits"
VERSION = re.compile(r"\d{4}-(01|04|07|10)|unstable")
BASE_VERSION = "2022-07"  # the version the slice is copied from
# Fields and types that only some API versions have: (first version with it, first version without it), None = open.
VERSIONED: dict[str, tuple[str | None, str | None]] = {
    "InventoryLevel.quantities": ("2023-01", None),
    "InventoryQuantity": ("2023-01", None),
    "InventoryLevel.available": (None, "2024-04"),
    "InventoryLevel.incoming": (None, "2024-04"),
}


def in_version(name: str, version: str) -> bool:
    """Whether the type or field `name` ("Type" or "Type.field") exists in `version` (`unstable` is the newest)."""
    since, until = VERSIONED.get(name, (None, None))
    key = "9999-99" if version == "unstable" else version
    return (since is None or key >= since) and (until is None or key < until)


@cache
def schema(version: str = BASE_VERSION) -> GraphQLSchema:
    """The slice as API `version` has it: the fields and types of `VERSIONED` outside their versions left out."""
    kept: list[Any] = []
    for node in parse(SCHEMA_FILE.read_text()).definitions:
        if isinstance(node, TypeDefinitionNode | TypeExtensionNode) and not in_version(node.name.value, version):
            continue
        if isinstance(node, ObjectTypeDefinitionNode | ObjectTypeExtensionNode):
            name = node.name.value
            fields = tuple(f for f in node.fields or () if in_version(f"{name}.{f.name.value}", version))
            if not fields and isinstance(node, ObjectTypeExtensionNode):
                continue
            node = dataclasses.replace(node, fields=fields)
        kept.append(node)
    return build_ast_schema(DocumentNode(definitions=tuple(kept)))


def mount_graphql(app: FastAPI, sandbox: ShopifyState) -> None:
    async def endpoint(request: Request) -> Response:
        version = request.path_params["version"]
        if not VERSION.fullmatch(version):
            return JSONResponse({"errors": "Not Found"}, status_code=404)
        raw = (await request.body()).decode("utf-8", errors="replace")
        payload = graphql_payload(raw, request.headers.get("content-type", ""))
        if not isinstance(payload.get("query"), str) or not payload["query"].strip():
            return JSONResponse({"errors": {"query": "Required parameter missing or invalid"}}, status_code=400)
        return await run_in_threadpool(run, sandbox, payload, request.url.path, version)

    app.add_api_route("/admin/api/{version}/graphql.json", endpoint, methods=["POST"], include_in_schema=False)


def graphql_payload(raw: str, content_type: str) -> Json:
    if "application/graphql" in content_type:
        return {"query": raw}
    try:
        payload = json.loads(raw) if raw.strip() else {}
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


# --- running a query ------------------------------------------------------------------------------------------
def run(sandbox: ShopifyState, payload: Json, path: str, version: str = BASE_VERSION) -> JSONResponse:
    try:
        document = parse(payload["query"])
    except GraphQLError as exc:
        return JSONResponse({"errors": [shopify_error(exc)]})
    api = schema(version)
    problems = validate(api, document)
    operation = get_operation_ast(document, payload.get("operationName"))
    if problems or operation is None:
        errors = [shopify_error(e) for e in problems] or [{"message": "An operation name is required"}]
        return JSONResponse({"errors": errors})
    variables = payload.get("variables") or {}
    walker = CostWalk(document, variables if isinstance(variables, dict) else {}, api)
    requested = walker.operation(operation, None)
    if requested > MAX_QUERY_COST:
        return JSONResponse({"errors": [max_cost_error(requested)], "extensions": cost(sandbox, requested, None)})
    if sandbox.rate_limit == "realistic" and not sandbox.cost_bucket.take(sandbox.monotonic(), requested):
        return JSONResponse({"errors": [throttled_error()], "extensions": cost(sandbox, requested, None)})
    return JSONResponse(execute_query(sandbox, document, operation, walker, requested, payload, path))


def execute_query(
    sandbox: ShopifyState,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    walker: CostWalk,
    requested: int,
    payload: Json,
    path: str,
) -> Json:
    context = Context(sandbox, path)
    result = execute_sync(
        walker.api,
        document,
        root_value={},
        context_value=context,
        variable_values=walker.variables,
        operation_name=payload.get("operationName"),
        field_resolver=resolve,
    )
    actual = walker.operation(operation, result.data or {}) if result.data is not None else requested
    if sandbox.rate_limit == "realistic":
        sandbox.cost_bucket.refund(sandbox.monotonic(), requested - actual)
    body: Json = {}
    if result.errors:
        body["errors"] = [shopify_error(e) for e in result.errors]
    body["data"] = result.data
    body["extensions"] = cost(sandbox, requested, actual)
    if context.search:
        body["extensions"]["search"] = context.search
    return body


def cost(sandbox: ShopifyState, requested: int, actual: int | None) -> Json:
    bucket = sandbox.cost_bucket
    available = bucket.current(sandbox.monotonic()) if sandbox.rate_limit == "realistic" else bucket.maximum
    throttle = {
        "maximumAvailable": bucket.maximum,
        "currentlyAvailable": int(available),
        "restoreRate": bucket.restore_rate,
    }
    return {"cost": {"requestedQueryCost": requested, "actualQueryCost": actual, "throttleStatus": throttle}}


def throttled_error() -> Json:
    return {"message": "Throttled", "extensions": {"code": "THROTTLED", "documentation": RATE_DOC}}


def max_cost_error(requested: int) -> Json:
    message = (
        f"Query cost is {requested}, which exceeds the single query max cost limit ({MAX_QUERY_COST}).\n\n"
        f"See {RATE_DOC} for more information on how the\ncost of a query is calculated.\n\n"
        "To query larger amounts of data with fewer limits, bulk operations should be used instead.\n"
    )
    extensions = {"code": "MAX_COST_EXCEEDED", "cost": requested, "maxCost": MAX_QUERY_COST, "documentation": RATE_DOC}
    return {"message": message, "extensions": extensions}


VALIDATION_CODES = (
    (re.compile(r"Cannot query field '(\w+)' on type '(\w+)'"), "undefinedField"),
    (re.compile(r"Unknown argument '(\w+)' on field '(\w+)\.(\w+)'"), "argumentNotAccepted"),
    (re.compile(r"Field '(\w+)' argument '(\w+)' of type .* is required"), "missingRequiredArguments"),
    (re.compile(r"Unknown type '(\w+)'"), "undefinedType"),
    (re.compile(r"^Syntax Error"), "parseError"),
)


def shopify_error(error: GraphQLError) -> Json:
    """A graphql-core error in Shopify's (graphql-ruby's) wording and shape."""
    out: Json = dict(error.formatted)
    if out.get("extensions"):
        return out
    for pattern, code in VALIDATION_CODES:
        match = pattern.search(error.message)
        if match is None:
            continue
        out["extensions"] = {"code": code}
        if code == "undefinedField":
            field, type_name = match.groups()
            out["message"] = f"Field '{field}' doesn't exist on type '{type_name}'"
            out["extensions"] |= {"typeName": type_name, "fieldName": field}
        return out
    return out | {"extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}


# --- calculated query cost ------------------------------------------------------------------------------------
@dataclass
class CostWalk:
    """Shopify's query cost for an operation: requested (before, from `first`) or actual (from the result)."""

    document: DocumentNode
    variables: Json
    api: GraphQLSchema = dataclasses.field(default_factory=schema)

    def __post_init__(self) -> None:
        defs = self.document.definitions
        self.fragments = {d.name.value: d for d in defs if isinstance(d, FragmentDefinitionNode)}

    def operation(self, op: OperationDefinitionNode, data: Json | None) -> int:
        if op.operation == OperationType.MUTATION:
            fields = [s for s in op.selection_set.selections if isinstance(s, FieldNode)]
            return MUTATION_COST * len([f for f in fields if not f.name.value.startswith("__")])
        return self.selections(self.api.query_type, op.selection_set.selections, data)

    def selections(self, parent: Any, nodes: tuple[SelectionNode, ...] | list[SelectionNode], data: Any) -> int:
        total, by_type = 0, dict[str, int]()
        for node in nodes:
            if isinstance(node, FieldNode):
                total += self.field(parent, node, data)
                continue
            condition, inner = self.fragment(node)
            name = condition or parent.name
            by_type[name] = by_type.get(name, 0) + self.selections(self.api.get_type(name), inner, data)
        same = by_type.pop(parent.name, 0)
        return total + same + max(by_type.values(), default=0)

    def fragment(self, node: SelectionNode) -> tuple[str | None, tuple[SelectionNode, ...]]:
        if isinstance(node, InlineFragmentNode):
            condition = node.type_condition.name.value if node.type_condition else None
            return condition, node.selection_set.selections
        assert isinstance(node, FragmentSpreadNode)
        fragment = self.fragments[node.name.value]
        return fragment.type_condition.name.value, fragment.selection_set.selections

    def field(self, parent: Any, node: FieldNode, data: Any) -> int:
        definition = getattr(parent, "fields", {}).get(node.name.value)
        if definition is None or is_leaf_type(get_named_type(definition.type)):
            return 0
        value = None if data is None else data.get(node.alias.value if node.alias else node.name.value)
        if data is not None and value is None:
            return 0
        named = get_named_type(definition.type)
        inner = node.selection_set.selections if node.selection_set else ()
        if named.name.endswith("Connection"):
            return self.connection(named, node, inner, value)
        if is_list_type(get_nullable_type(definition.type)):
            items = value if value is not None else [None] * self.size(node)
            return sum(1 + self.selections(named, inner, item) for item in items)
        return 1 + self.selections(named, inner, value)

    def connection(self, conn: Any, node: FieldNode, inner: tuple[SelectionNode, ...], value: Any) -> int:
        node_type = get_named_type(conn.fields["nodes"].type) if "nodes" in conn.fields else None
        picked: list[SelectionNode] = []
        for sel in inner:
            if isinstance(sel, FieldNode) and sel.name.value == "nodes" and sel.selection_set:
                picked += sel.selection_set.selections
            if isinstance(sel, FieldNode) and sel.name.value == "edges" and sel.selection_set:
                for edge_field in sel.selection_set.selections:
                    if (
                        isinstance(edge_field, FieldNode)
                        and edge_field.name.value == "node"
                        and edge_field.selection_set
                    ):
                        picked += edge_field.selection_set.selections
        if value is None:
            items: list[Any] = [None] * self.size(node)
        else:
            items = value.get("nodes") or [edge.get("node") for edge in value.get("edges") or []]
        return 2 + sum(1 + self.selections(node_type, picked, item) for item in items)

    def size(self, node: FieldNode) -> int:
        for arg in node.arguments or ():
            if arg.name.value not in {"first", "last", "ids", "names"}:
                continue
            value = arg.value
            if isinstance(value, VariableNode):
                resolved = self.variables.get(value.name.value)
                return len(resolved) if isinstance(resolved, list) else int(resolved or 0)
            if isinstance(value, IntValueNode):
                return int(value.value)
            if isinstance(value, ListValueNode):
                return len(value.values)
        return 1


# --- mutations ------------------------------------------------------------------------------------------------
def user_errors(error: ShopifyError, field: list[str]) -> list[Json]:
    errors = error.body.get("errors")
    if isinstance(errors, dict):
        errors = [m for value in errors.values() for m in (value if isinstance(value, list) else [value])]
    messages = errors if isinstance(errors, list) else [errors]
    return [{"field": field, "message": str(message)} for message in messages]


def gid_number(value: Any, kind: str) -> int:
    parsed = parse_gid(str(value), kind)
    return parsed[1] if parsed else -1


def tracking(info: Json | None) -> Tracking:
    info = info or {}
    numbers = list(info.get("numbers") or ([info["number"]] if info.get("number") else []))
    urls = list(info.get("urls") or ([info["url"]] if info.get("url") else []))
    return Tracking(info.get("company"), numbers, urls)


def fulfillment_create(_source: Any, info: Info, **args: Any) -> Json:
    given = args["fulfillment"]
    groups = []
    for group in given["lineItemsByFulfillmentOrder"]:
        items = group.get("fulfillmentOrderLineItems")
        lines = (
            None if items is None else [(gid_number(x["id"], "FulfillmentOrderLineItem"), x["quantity"]) for x in items]
        )
        groups.append((gid_number(group["fulfillmentOrderId"], "FulfillmentOrder"), lines))
    context = ctx(info)
    try:
        rendered = context.sandbox.fulfil(
            FulfilRequest(groups, tracking(given.get("trackingInfo"))), context.write("fulfillmentCreateV2", args)
        )
    except ShopifyError as exc:
        return {"fulfillment": None, "userErrors": user_errors(exc, ["fulfillment"])}
    return {"fulfillment": rendered, "userErrors": []}


def tracking_update(_source: Any, info: Info, **args: Any) -> Json:
    context = ctx(info)
    number = gid_number(args["fulfillmentId"], "Fulfillment")
    try:
        rendered = context.sandbox.update_tracking(
            number, tracking(args["trackingInfoInput"]), context.write("fulfillmentTrackingInfoUpdateV2", args)
        )
    except ShopifyError as exc:
        return {"fulfillment": None, "userErrors": user_errors(exc, ["fulfillmentId"])}
    return {"fulfillment": rendered, "userErrors": []}


def prepared_for_pickup(_source: Any, info: Info, **args: Any) -> Json:
    context = ctx(info)
    ids = [
        gid_number(x["fulfillmentOrderId"], "FulfillmentOrder") for x in args["input"]["lineItemsByFulfillmentOrder"]
    ]
    errors = context.sandbox.prepare_for_pickup(ids, context.write("fulfillmentOrderLineItemsPreparedForPickup", args))
    field = ["input", "lineItemsByFulfillmentOrder"]
    return {"userErrors": [{"code": code, "field": field, "message": message} for code, message in errors]}


def order_cancel(_source: Any, info: Info, **args: Any) -> Json:
    context = ctx(info)
    reason = str(args["reason"]).lower()
    try:
        context.sandbox.cancel(
            gid_number(args["orderId"], "Order"), reason, bool(args["refund"]), context.write("orderCancel", args)
        )
    except ShopifyError as exc:
        code = "NOT_FOUND" if exc.status == 404 else "INVALID"
        errors = [e | {"code": code} for e in user_errors(exc, ["orderId"])]
        return {"job": None, "orderCancelUserErrors": errors, "userErrors": user_errors(exc, ["orderId"])}
    job = {"id": f"gid://shopify/Job/{context.sandbox.ids.next('edit')}", "done": False, "query": {}}
    return {"job": job, "orderCancelUserErrors": [], "userErrors": []}


def webhook_create(_source: Any, info: Info, **args: Any) -> Json:
    sandbox = ctx(info).sandbox
    topic = str(args["topic"]).lower().replace("_", "/", 1)
    given = args["webhookSubscription"]
    address = given.get("callbackUrl")
    field = ["webhookSubscription", "callbackUrl"]
    with sandbox.lock:
        if topic not in TOPICS or not isinstance(address, str) or not re.match(r"https?://\S+", address):
            return {"webhookSubscription": None, "userErrors": [{"field": field, "message": "Address is invalid"}]}
        if any(s.topic == topic and s.address == address for s in sandbox.subscriptions.values()):
            message = "Address for this topic has already been taken"
            return {"webhookSubscription": None, "userErrors": [{"field": field, "message": message}]}
        fields = list(given.get("includeFields") or [])
        sub = sandbox.subscribe(topic, address, format=str(given.get("format") or "JSON").lower(), fields=fields)
        return {"webhookSubscription": webhook_json(sandbox, sub.id), "userErrors": []}


def webhook_delete(_source: Any, info: Info, **args: Any) -> Json:
    sandbox = ctx(info).sandbox
    number = gid_number(args["id"], "WebhookSubscription")
    with sandbox.lock:
        sub = sandbox.subscriptions.pop(number, None)
        if sub is None:
            error = {"field": ["id"], "message": "Webhook subscription does not exist"}
            return {"deletedWebhookSubscriptionId": None, "userErrors": [error]}
        sub.active = False
    return {"deletedWebhookSubscriptionId": args["id"], "userErrors": []}


RESOLVERS.update(
    {
        "Mutation.fulfillmentCreateV2": fulfillment_create,
        "Mutation.fulfillmentTrackingInfoUpdateV2": tracking_update,
        "Mutation.fulfillmentOrderLineItemsPreparedForPickup": prepared_for_pickup,
        "Mutation.orderCancel": order_cancel,
        "Mutation.webhookSubscriptionCreate": webhook_create,
        "Mutation.webhookSubscriptionDelete": webhook_delete,
    }
)
