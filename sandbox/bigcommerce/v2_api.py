"""The BigCommerce sandbox's V2 routes: orders, products, shipping addresses, consignments, shipments and order
statuses, as bigcommerce/docs `reference/orders.v2.oas2.yml` describes them (paths, bodies, answers, errors).

V2 collections answer `204 No Content` (no body) when a page is empty, as the spec documents for shipments and as
BigCommerce does for every V2 list, `GET /v2/orders` included; a `limit` over 250 is refused with 413. Archived
orders (`is_deleted`) leave `GET /v2/orders` unless `is_deleted=true` is asked; `GET /v2/orders/{id}` still shows
them. `shippingaddresses` (the spelling of the order's own links) and `shipping_addresses` are both served. A
shipment moves the order to Shipped (2) once every item is shipped and to Partially Shipped (3) before; deleting a
shipment leaves the status alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from sandbox.bigcommerce.orders import (
    PARTIALLY_SHIPPED,
    SHIPPED,
    STATUSES,
    BcOrder,
    QueryError,
    consignments,
    count_items,
    money,
    paging,
    render_address,
    rfc2822,
    select,
    status_counts,
    status_json,
)
from sandbox.bigcommerce.state import (
    REASONS,
    STATUS_CODES_URL,
    BigCommerceState,
    Event,
    error_body,
    order_event,
)

ORDER_WRITABLE = {"status_id", "is_deleted", "staff_notes", "customer_message", "external_order_id"}
SHIPMENT_FIELDS = {
    "order_address_id",
    "tracking_number",
    "tracking_link",
    "merchant_shipping_cost",
    "shipping_method",
    "shipping_provider",
    "tracking_carrier",
    "comments",
}
PROVIDERS = {
    "": "",
    "auspost": "Australia Post",
    "canadapost": "Canada Post",
    "endicia": "Endicia",
    "usps": "USPS",
    "fedex": "FedEx",
    "royalmail": "Royal Mail",
    "ups": "UPS",
    "upsready": "UPS Ready",
    "upsonline": "UPS Online",
    "shipperhq": "ShipperHQ",
}
TRACKING_URLS = {
    "usps": "https://tools.usps.com/go/TrackConfirmAction?tLabels={}",
    "ups": "https://www.ups.com/track?tracknum={}",
    "fedex": "https://www.fedex.com/fedextrack/?trknbr={}",
}


def mount_v2(app: FastAPI, sandbox: BigCommerceState) -> None:
    """Register the store's V2 routes (under `/stores/{hash}/v2/`) on `app`."""
    for method, path, endpoint in OrdersApi(sandbox).routes():
        app.add_api_route(sandbox.prefix + path, endpoint, methods=[method])


async def http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths, wrong methods and refusals raised by the handlers, in the shape of the API version."""
    assert isinstance(exc, StarletteHTTPException)
    status, detail = exc.status_code, str(exc.detail)
    message = REASONS.get(status, detail) if detail in {"Not Found", "Method Not Allowed"} else detail
    return error_body(status, message, "v3" if "/v3/" in request.url.path else "v2")


async def invalid_body(request: Request, exc: Exception) -> Response:
    message = "The request body is missing or is not a valid JSON object."
    if "/v3/" in request.url.path:
        body = {"status": 422, "title": "JSON data is missing or invalid", "type": STATUS_CODES_URL}
        return JSONResponse({**body, "errors": {"body": message}}, status_code=422)
    return error_body(400, message, "v2")


def bad(message: str, status: int = 400) -> HTTPException:
    return HTTPException(status_code=status, detail=message)


def includes(query: Mapping[str, str]) -> tuple[frozenset[str], bool]:
    wanted = frozenset(query.get("include", "").split(",")) - {""}
    return wanted, query.get("consignment_structure") == "object"


def v2_page(rows: Sequence[Any], query: Mapping[str, str]) -> Response:
    """One page of a V2 collection; an empty page is 204 No Content."""
    page, limit = checked_paging(query)
    chunk = list(rows[(page - 1) * limit : page * limit])
    return JSONResponse(chunk) if chunk else Response(status_code=204)


def checked_paging(query: Mapping[str, str]) -> tuple[int, int]:
    try:
        return paging(query)
    except QueryError as exc:
        raise bad(str(exc)) from exc
    except OverflowError as exc:
        raise bad(str(exc), 413) from exc


def integer(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise bad(f"The field '{name}' is invalid.")
    return int(value)


class OrdersApi:
    """Route handlers; each takes the sandbox lock while it reads or changes the store."""

    def __init__(self, sandbox: BigCommerceState) -> None:
        self.sb = sandbox

    def routes(self) -> list[tuple[str, str, Callable[..., Any]]]:
        order, shipment = "/v2/orders/{order_id}", "/v2/orders/{order_id}/shipments/{shipment_id}"
        return [
            ("GET", "/v2/orders", self.list_orders),
            ("GET", "/v2/orders/count", self.count_orders),
            ("GET", order, self.get_order),
            ("PUT", order, self.put_order),
            ("DELETE", order, self.delete_order),
            ("GET", order + "/products", self.list_products),
            ("GET", order + "/products/{product_id}", self.get_product),
            ("GET", order + "/shipping_addresses", self.list_addresses),
            ("GET", order + "/shippingaddresses", self.list_addresses),
            ("GET", order + "/shipping_addresses/{address_id}", self.get_address),
            ("GET", order + "/shippingaddresses/{address_id}", self.get_address),
            ("GET", order + "/coupons", self.list_coupons),
            ("GET", order + "/consignments", self.get_consignments),
            ("GET", order + "/shipments", self.list_shipments),
            ("POST", order + "/shipments", self.create_shipment),
            ("DELETE", order + "/shipments", self.delete_shipments),
            ("GET", order + "/shipments/count", self.count_shipments),
            ("GET", shipment, self.get_shipment),
            ("PUT", shipment, self.put_shipment),
            ("DELETE", shipment, self.delete_shipment),
            ("GET", "/v2/order_statuses", self.list_statuses),
            ("GET", "/v2/order_statuses/{status_id}", self.status),
        ]

    def _order(self, order_id: str) -> BcOrder:
        try:
            return self.sb.order(order_id)
        except KeyError as exc:
            raise HTTPException(status_code=404) from exc

    def _write(self, request: Request, order: BcOrder, body: Any) -> None:
        self.sb.record_write(str(order.id), {"method": request.method, "path": request.url.path, "body": body})

    # --- orders ------------------------------------------------------------------------------------------------
    def list_orders(self, request: Request) -> Response:
        query = request.query_params
        page, limit = checked_paging(query)
        wanted, as_object = includes(query)
        with self.sb.lock:
            chunk = self._select(query)[(page - 1) * limit : page * limit]
            rows = [self.sb.render(o, wanted, as_object) for o in chunk]
        return JSONResponse(rows) if rows else Response(status_code=204)

    def _select(self, query: Mapping[str, str]) -> list[BcOrder]:
        try:
            return select(self.sb.orders.values(), query)
        except QueryError as exc:
            raise bad(str(exc)) from exc

    def count_orders(self, request: Request) -> Response:
        with self.sb.lock:
            return JSONResponse(status_counts(self._select(request.query_params)))

    def get_order(self, request: Request, order_id: str) -> Response:
        wanted, as_object = includes(request.query_params)
        with self.sb.lock:
            return JSONResponse(self.sb.render(self._order(order_id), wanted, as_object))

    def put_order(self, request: Request, order_id: str, body: dict[str, Any]) -> Response:
        for key in body:
            if key not in ORDER_WRITABLE:
                raise bad(
                    f"The field '{key}' cannot be written to. Please remove it from your request before trying again."
                )
        if "status_id" in body and (isinstance(body["status_id"], bool) or body["status_id"] not in STATUSES):
            raise bad("The field 'status_id' is invalid.")
        with self.sb.lock:
            order = self._order(order_id)
            events = self._update_order(order, body)
            self._write(request, order, body)
            rendered = self.sb.render(order)
        self.sb.fire(events)
        return JSONResponse(rendered)

    def _update_order(self, order: BcOrder, body: dict[str, Any]) -> list[Event]:
        events = self.sb.set_status(order, body["status_id"]) if "status_id" in body else []
        texts = ("staff_notes", "customer_message", "external_order_id")
        notes: dict[str, Any] = {k: str(body[k]) for k in texts if k in body}
        if notes and any(order.data[k] != v for k, v in notes.items()):
            order.data.update(notes)
            order.touch(self.sb.now())
            events.append(order_event("updated", order))
        if body.get("is_deleted") is True:
            events += self.sb.archive(order)
        elif body.get("is_deleted") is False and order.data["is_deleted"]:
            order.data["is_deleted"] = False
            order.touch(self.sb.now())
            events.append(order_event("updated", order))
        return events

    def delete_order(self, request: Request, order_id: str) -> Response:
        with self.sb.lock:
            order = self._order(order_id)
            events = self.sb.archive(order)
            self._write(request, order, None)
        self.sb.fire(events)
        return Response(status_code=204)

    def list_products(self, request: Request, order_id: str) -> Response:
        with self.sb.lock:
            rows = [dict(p) for p in self._order(order_id).products]
        return v2_page(rows, request.query_params)

    def get_product(self, order_id: str, product_id: str) -> Response:
        with self.sb.lock:
            product = self._order(order_id).product(int(product_id) if product_id.isdigit() else -1)
            if product is None:
                raise HTTPException(status_code=404)
            return JSONResponse(dict(product))

    def list_addresses(self, request: Request, order_id: str) -> Response:
        with self.sb.lock:
            rows = [render_address(a, self.sb.api_base) for a in self._order(order_id).addresses]
        return v2_page(rows, request.query_params)

    def get_address(self, order_id: str, address_id: str) -> Response:
        with self.sb.lock:
            found = [a for a in self._order(order_id).addresses if str(a["id"]) == address_id]
            if not found:
                raise HTTPException(status_code=404)
            return JSONResponse(render_address(found[0], self.sb.api_base))

    def list_coupons(self, order_id: str) -> Response:
        with self.sb.lock:
            self._order(order_id)
        return Response(status_code=204)

    def get_consignments(self, request: Request, order_id: str) -> Response:
        with_lines = "consignments.line_items" in request.query_params.get("include", "")
        with self.sb.lock:
            return JSONResponse(consignments(self._order(order_id), self.sb.api_base, with_lines))

    def list_statuses(self) -> Response:
        return JSONResponse([status_json(sid) for sid in sorted(STATUSES)])

    def status(self, status_id: str) -> Response:
        if not status_id.isdigit() or int(status_id) not in STATUSES:
            raise HTTPException(status_code=404)
        return JSONResponse(status_json(int(status_id)))

    # --- shipments -----------------------------------------------------------------------------------------------
    def list_shipments(self, request: Request, order_id: str) -> Response:
        with self.sb.lock:
            rows = [dict(s) for s in self._order(order_id).shipments]
        return v2_page(rows, request.query_params)

    def count_shipments(self, order_id: str) -> Response:
        with self.sb.lock:
            return JSONResponse({"count": len(self._order(order_id).shipments)})

    def _shipment(self, order: BcOrder, shipment_id: str) -> dict[str, Any]:
        found = [s for s in order.shipments if str(s["id"]) == shipment_id]
        if not found:
            raise HTTPException(status_code=404)
        return found[0]

    def get_shipment(self, order_id: str, shipment_id: str) -> Response:
        with self.sb.lock:
            return JSONResponse(dict(self._shipment(self._order(order_id), shipment_id)))

    def create_shipment(self, request: Request, order_id: str, body: dict[str, Any]) -> Response:
        check_shipment_fields(body, SHIPMENT_FIELDS | {"items"})
        with self.sb.lock:
            order = self._order(order_id)
            address = self._address(order, body.get("order_address_id"))
            items = self._items(order, address["id"], body.get("items"))
            shipment = self._new_shipment(order, address, items, body)
            events = [shipment_event("created", shipment), *self._ship(order, items)]
            self._write(request, order, body)
        self.sb.fire(events)
        return JSONResponse(shipment, status_code=201)

    def _address(self, order: BcOrder, raw: Any) -> dict[str, Any]:
        address_id = integer(raw, "order_address_id")
        found = [a for a in order.addresses if a["id"] == address_id]
        if not found:
            raise bad("The field 'order_address_id' is invalid.")
        return found[0]

    def _items(self, order: BcOrder, address_id: int, raw: Any) -> dict[int, int]:
        """{order_product_id: quantity} of a shipment's `items`, checked against what is left to ship."""
        if not isinstance(raw, list) or not raw or not all(isinstance(i, dict) for i in raw):
            raise bad("The field 'items' is invalid.")
        wanted: dict[int, int] = {}
        for item in raw:
            pid = integer(item.get("order_product_id"), "order_product_id")
            wanted[pid] = wanted.get(pid, 0) + integer(item.get("quantity"), "quantity")
        for pid, quantity in wanted.items():
            product = order.product(pid)
            if product is None or product["order_address_id"] != address_id:
                raise bad(f"The order product {pid} does not belong to this order and shipping address.")
            if quantity < 1 or quantity > product["quantity"] - product["quantity_shipped"]:
                raise bad(f"The quantity for order product {pid} is greater than the quantity left to ship.")
        return wanted

    def _new_shipment(
        self, order: BcOrder, address: dict[str, Any], items: dict[int, int], body: dict[str, Any]
    ) -> dict[str, Any]:
        person = ("first_name", "last_name", "company", "street_1", "street_2", "city", "state", "zip", "country")
        contact = (*person, "country_iso2", "phone", "email")
        billing = order.data["billing_address"]
        shipment = {
            "id": next(self.sb.ids["other"]),
            "order_id": order.id,
            "customer_id": order.data["customer_id"],
            "order_address_id": address["id"],
            "date_created": rfc2822(self.sb.now()),
            "tracking_number": "",
            "merchant_shipping_cost": money(Decimal(0)),
            "shipping_method": "None",
            "comments": "",
            "shipping_provider": "",
            "tracking_carrier": "",
            "tracking_link": "",
            "billing_address": {k: billing[k] for k in contact},
            "shipping_address": {k: address[k] for k in contact},
            "items": [{"order_product_id": pid, "product_id": 0, "quantity": q} for pid, q in items.items()],
            "shipping_provider_display_name": "",
            "generated_tracking_link": "",
        }
        apply_tracking(shipment, body)
        order.shipments.append(shipment)
        return shipment

    def _ship(self, order: BcOrder, items: dict[int, int]) -> list[Event]:
        for pid, quantity in items.items():
            product = order.product(pid)
            assert product is not None
            product["quantity_shipped"] += quantity
        count_items(order)
        done = order.data["items_shipped"] >= order.data["items_total"]
        if done:
            order.data["date_shipped"] = rfc2822(self.sb.now())
        order.touch(self.sb.now())
        moved = self.sb.set_status(order, SHIPPED if done else PARTIALLY_SHIPPED)
        return [*moved, order_event("updated", order)]

    def put_shipment(self, request: Request, order_id: str, shipment_id: str, body: dict[str, Any]) -> Response:
        check_shipment_fields(body, SHIPMENT_FIELDS)
        with self.sb.lock:
            order = self._order(order_id)
            shipment = self._shipment(order, shipment_id)
            if "order_address_id" in body:
                shipment["order_address_id"] = self._address(order, body["order_address_id"])["id"]
            apply_tracking(shipment, body)
            self._write(request, order, body)
            answer = dict(shipment)
        self.sb.fire([shipment_event("updated", shipment)])
        return JSONResponse(answer)

    def delete_shipment(self, request: Request, order_id: str, shipment_id: str) -> Response:
        with self.sb.lock:
            order = self._order(order_id)
            events = self._unship(order, [self._shipment(order, shipment_id)])
            self._write(request, order, None)
        self.sb.fire(events)
        return Response(status_code=204)

    def delete_shipments(self, request: Request, order_id: str) -> Response:
        with self.sb.lock:
            order = self._order(order_id)
            events = self._unship(order, list(order.shipments))
            self._write(request, order, None)
        self.sb.fire(events)
        return Response(status_code=204)

    def _unship(self, order: BcOrder, shipments: list[dict[str, Any]]) -> list[Event]:
        """Remove shipments; the items count as unshipped again but the order keeps its status (as BigCommerce)."""
        for shipment in shipments:
            for item in shipment["items"]:
                product = order.product(item["order_product_id"])
                if product is not None:
                    product["quantity_shipped"] -= item["quantity"]
            order.shipments.remove(shipment)
        count_items(order)
        return [shipment_event("deleted", s) for s in shipments]


# --- helpers without state ------------------------------------------------------------------------------------------


def shipment_event(action: str, shipment: dict[str, Any]) -> Event:
    return f"store/shipment/{action}", {"type": "shipment", "id": shipment["id"], "orderId": shipment["order_id"]}


def check_shipment_fields(body: dict[str, Any], allowed: set[str]) -> None:
    for key, value in body.items():
        if key not in allowed:
            raise bad(
                f"The field '{key}' cannot be written to. Please remove it from your request before trying again."
            )
        if key not in {"items", "order_address_id", "merchant_shipping_cost"} and not isinstance(value, str):
            raise bad(f"The field '{key}' is invalid.")
    if len(body.get("tracking_number", "")) > 50 or len(body.get("tracking_link", "")) > 500:
        raise bad("The field 'tracking_number' is invalid.")


def apply_tracking(shipment: dict[str, Any], body: dict[str, Any]) -> None:
    """Copy the tracking fields of a POST or PUT onto the shipment and derive the links BigCommerce derives."""
    for key in ("tracking_number", "shipping_method", "comments", "shipping_provider", "tracking_carrier"):
        shipment[key] = body.get(key, shipment[key])
    shipment["tracking_link"] = body.get("tracking_link", shipment["tracking_link"])
    if "merchant_shipping_cost" in body:
        try:
            shipment["merchant_shipping_cost"] = money(Decimal(str(body["merchant_shipping_cost"])))
        except InvalidOperation as exc:
            raise bad("The field 'merchant_shipping_cost' is invalid.") from exc
    provider, carrier, number = shipment["shipping_provider"], shipment["tracking_carrier"], shipment["tracking_number"]
    shipment["shipping_provider_display_name"] = PROVIDERS.get(provider, provider)
    if provider in TRACKING_URLS and number:
        shipment["generated_tracking_link"] = TRACKING_URLS[provider].format(number)
    elif number and (carrier or provider):
        shipment["generated_tracking_link"] = f"https://www.aftership.com/track/{carrier or provider}/{number}"
    else:
        shipment["generated_tracking_link"] = ""
