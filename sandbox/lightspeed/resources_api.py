"""Lightspeed eCom reads beyond orders, shipments and variants: the account, order events, invoices, variant
movements and metafields — the resources the sandbox's own documents link to.

No official schema is published (see platforms.md §4). Envelopes and fields follow what independent clients
validated against live shops: the account (`id`, `appId`, `apiKey` and its resource links) and its permissions
(NickTacke/lightspeed-client `store/account.ts`, validated live), parent-qualified metafield envelopes such as
`orderMetafields` (`shared/metafield.ts`, validated live), and the order event (`id`, `createdAt`, `channel`,
`type`, `message`, `comment`, `order`, `invoice`, `shipment`) as embedded in the order webhook sample kept in
`tests/fixtures/lightspeed/order-updated.json`. Lists are `{"<plural>": [...]}`, counts `{"count": N}`.

What the sandbox shop never makes is answered as an empty collection: it writes no invoices (its orders are not
invoiced), keeps no metafields, and records no variant movements.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request, Response

from sandbox.lightspeed.api import PhpJSONResponse, fail
from sandbox.lightspeed.orders import Links, stamp

if TYPE_CHECKING:
    from sandbox.lightspeed.orders import Order
    from sandbox.lightspeed.state import LightspeedState

PERMISSIONS = ("content", "products", "customers", "orders", "settings", "tracking")
METAFIELD_OWNERS = {"account": "account", "orders": "order", "shipments": "shipment", "variants": "variant"}


class LightspeedResourcesApi:
    def __init__(self, sandbox: LightspeedState) -> None:
        self.sandbox = sandbox

    def mount(self, app: FastAPI) -> None:
        routes: list[tuple[str, Callable[[Request], Any]]] = [
            ("/account.json", self.account),
            ("/account/permissions.json", self.permissions),
            ("/orders/events.json", self.order_events),
            ("/orders/events/count.json", self.count_order_events),
            ("/invoices.json", self.invoices),
            ("/invoices/count.json", self.count_empty),
            ("/variants/movements.json", self.movements),
            ("/variants/movements/count.json", self.count_empty),
            ("/account/metafields.json", self.metafields),
            ("/account/metafields/count.json", self.count_empty),
        ]
        for owner in ("orders", "shipments", "variants"):
            routes.append((f"/{owner}/{{owner_id:int}}/metafields.json", self.metafields))
            routes.append((f"/{owner}/{{owner_id:int}}/metafields/count.json", self.count_empty))
        for path, endpoint in routes:
            app.add_api_route("/{lang}" + path, endpoint, methods=["GET"])

    def links(self, request: Request) -> Links:
        return self.sandbox.links(request.path_params["lang"])

    # --- the account ------------------------------------------------------------------------------------------
    def account(self, request: Request) -> Response:
        links = self.links(request)
        account = {"id": 301000 + int(self.sandbox.api_key[:4], 16), "appId": False, "apiKey": self.sandbox.api_key}
        for name in ("signout", "permissions", "ratelimit", "metafields"):
            account[name] = links.ref(f"account/{name}")
        return PhpJSONResponse({"account": account})

    def permissions(self, request: Request) -> Response:
        granted = {name: {"read": True, "write": name in ("orders", "products")} for name in PERMISSIONS}
        return PhpJSONResponse({"accountPermissions": granted})

    # --- order events -----------------------------------------------------------------------------------------
    def _events(self, request: Request) -> list[dict[str, Any]] | Response:
        query = request.query_params
        filters = {}
        for key in ("order", "shipment", "invoice"):
            if key in query:
                if not query[key].isdigit():
                    return fail(request, 400, f"Invalid value for '{key}'.")
                filters[key] = int(query[key])
        links = self.links(request)
        with self.sandbox.lock:
            orders = [o for o in self.sandbox.orders_after(0) if not o.deleted]
            if "invoice" in filters:
                return []  # the sandbox shop invoices nothing
            chosen = [
                o
                for o in orders
                if filters.get("order", o.id) == o.id and filters.get("shipment", o.shipment.id) == o.shipment.id
            ]
            return [self._created_event(order, links) for order in chosen]

    @staticmethod
    def _created_event(order: Order, links: Links) -> dict[str, Any]:
        """The event Lightspeed records when an order is placed (one per order in the sandbox)."""
        return {
            "id": order.id,
            "createdAt": stamp(order.created_at),
            "channel": "webshop",
            "type": "order",
            "message": "new",
            "comment": None,
            "order": links.ref(f"orders/{order.id}", order.id),
            "invoice": False,
            "shipment": False,
        }

    def order_events(self, request: Request) -> Response:
        events = self._events(request)
        return events if isinstance(events, Response) else PhpJSONResponse({"ordersEvents": events})

    def count_order_events(self, request: Request) -> Response:
        events = self._events(request)
        return events if isinstance(events, Response) else PhpJSONResponse({"count": len(events)})

    # --- what the sandbox shop never makes --------------------------------------------------------------------
    def invoices(self, request: Request) -> Response:
        return PhpJSONResponse({"invoices": []})

    def movements(self, request: Request) -> Response:
        return PhpJSONResponse({"variantsMovements": []})

    def metafields(self, request: Request) -> Response:
        owner = request.url.path.split("/")[2]
        if owner != "account" and not self._owner_exists(owner, int(request.path_params["owner_id"])):
            return fail(request, 404, "Not found.")
        return PhpJSONResponse({f"{METAFIELD_OWNERS[owner]}Metafields": []})

    def _owner_exists(self, owner: str, ident: int) -> bool:
        with self.sandbox.lock:
            if owner == "orders":
                order = self.sandbox.orders.get(ident)
                return order is not None and not order.deleted
            if owner == "shipments":
                return self.sandbox.shipment_order(ident) is not None
            return any(item.variant_id == ident for item in self.sandbox.catalogue.values())

    def count_empty(self, request: Request) -> Response:
        return PhpJSONResponse({"count": 0})
