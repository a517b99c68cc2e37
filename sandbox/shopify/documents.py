"""Shopify sandbox: the REST Admin API's JSON for orders, line items, fulfillment orders, fulfillments, locations,
variants and inventory levels, rendered from the state in `shopify_orders`.

Field names, types and formats follow Shopify's published fixtures (`Shopify/shopify_python_api` `test/fixtures/`,
kept in `tests/fixtures/shopify/`) plus the fields newer API versions add (`admin_graphql_api_id`, the `*_set`
money bags, `current_*` totals, `processed_at`). Money is decimal strings, timestamps carry the shop's offset.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sandbox.core import CatalogueItem, Subscription
from sandbox.shopify.orders import (
    CURRENCY,
    CUSTOMER_CITIES,
    GRAMS,
    SHOP_ID,
    TAX_TITLE,
    USD_PER_EUR,
    Customer,
    FoLine,
    Fulfillment,
    FulfillmentOrder,
    Json,
    Line,
    Location,
    OrderState,
    gid,
    inventory_item_id,
    line_tax,
    money,
    money_set,
    product_id,
    shop_time,
    token,
    variant_id,
)


def render_address(address: Json) -> Json:
    return dict(address)


def render_customer(customer: Customer, address: Json) -> Json:
    default = {k: address[k] for k in ("address1", "address2", "city", "company", "country", "phone", "province")}
    default |= {"zip": address["zip"], "province_code": address["province_code"], "country_code": "NL"}
    default |= {"id": customer.id + 1, "customer_id": customer.id, "first_name": customer.first_name}
    default |= {"last_name": customer.last_name, "name": address["name"], "country_name": "Netherlands"}
    default["default"] = True
    created = shop_time(customer.created_at)
    return {
        "id": customer.id,
        "email": customer.email,
        "accepts_marketing": False,
        "created_at": created,
        "updated_at": created,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "orders_count": 1,
        "state": "disabled",
        "total_spent": "0.00",
        "last_order_id": None,
        "note": None,
        "verified_email": True,
        "multipass_identifier": None,
        "tax_exempt": False,
        "phone": customer.phone,
        "tags": "",
        "last_order_name": None,
        "currency": CURRENCY,
        "accepts_marketing_updated_at": created,
        "marketing_opt_in_level": None,
        "tax_exemptions": [],
        "admin_graphql_api_id": gid("Customer", customer.id),
        "default_address": default,
    }


def line_fulfillment_status(line: Line) -> str | None:
    if line.current > 0 and line.fulfilled >= line.current:
        return "fulfilled"
    return "partial" if line.fulfilled else None


def render_line(line: Line, order: OrderState, share: Decimal, quantity: int | None = None) -> Json:
    """A line item; `share` is its part of the order's discount (taxed after it), `quantity` overrides for
    fulfillments, which list the quantity they fulfilled."""
    qty = line.quantity if quantity is None else quantity
    tax = line_tax(line.price * line.current - share)
    fulfillable = 0 if order.cancelled_at else line.unfulfilled
    return {
        "id": line.id,
        "admin_graphql_api_id": gid("LineItem", line.id),
        "attributed_staffs": [],
        "current_quantity": line.current,
        "fulfillable_quantity": fulfillable,
        "fulfillment_service": "manual",
        "fulfillment_status": line_fulfillment_status(line),
        "gift_card": False,
        "grams": GRAMS,
        "name": line.item.name,
        "price": money(line.price),
        "price_set": money_set(line.price),
        "product_exists": True,
        "product_id": product_id(line.item),
        "properties": [],
        "quantity": qty,
        "requires_shipping": order.pickup is None,
        "sku": line.item.sku,
        "taxable": True,
        "title": line.item.name,
        "total_discount": "0.00",
        "total_discount_set": money_set(Decimal(0)),
        "variant_id": variant_id(line.item),
        "variant_inventory_management": "shopify",
        "variant_title": None,
        "vendor": "Sandbox Goods",
        "tax_lines": [tax_line(tax)],
        "duties": [],
        "discount_allocations": [_allocation(share)] if share else [],
    }


def _allocation(share: Decimal) -> Json:
    return {"amount": money(share), "amount_set": money_set(share), "discount_application_index": 0}


def _discounts(order: OrderState) -> Json:
    if order.discount_code is None:
        return {"discount_codes": [], "discount_applications": []}
    amount = money(order.original.discounts)
    code = {"code": order.discount_code, "amount": amount, "type": "fixed_amount"}
    application = {"target_type": "line_item", "type": "discount_code", "value": money(order.discount)}
    application |= {"value_type": "fixed_amount", "allocation_method": "across", "target_selection": "all"}
    return {"discount_codes": [code], "discount_applications": [application | {"code": order.discount_code}]}


def tax_line(amount: Decimal) -> Json:
    return {
        "channel_liable": False,
        "price": money(amount),
        "price_set": money_set(amount),
        "rate": 0.21,
        "title": TAX_TITLE,
    }


def render_shipping_line(order: OrderState) -> Json:
    title = order.pickup.name if order.pickup else ("Free shipping" if order.shipping == 0 else "Standard")
    return {
        "id": order.shipping_line_id,
        "carrier_identifier": None,
        "code": title if order.pickup else title.replace(" ", "_").lower(),
        "delivery_category": "pickup" if order.pickup else "shipping",
        "discounted_price": money(order.shipping),
        "discounted_price_set": money_set(order.shipping),
        "phone": None,
        "price": money(order.shipping),
        "price_set": money_set(order.shipping),
        "requested_fulfillment_service_id": None,
        "source": "shopify",
        "title": title,
        "tax_lines": [tax_line(line_tax(order.shipping))],
        "discount_allocations": [],
    }


def render_fulfillment(f: Fulfillment, order: OrderState) -> Json:
    shares = order.allocations()
    first = f.tracking.numbers[0] if f.tracking.numbers else None
    return {
        "id": f.id,
        "admin_graphql_api_id": gid("Fulfillment", f.id),
        "created_at": shop_time(f.created_at),
        "location_id": f.location.id,
        "name": f.name,
        "order_id": order.id,
        "origin_address": {},
        "receipt": _receipt(f, order),
        "service": "manual",
        "shipment_status": None,
        "status": "success",
        "tracking_company": f.tracking.company,
        "tracking_number": first,
        "tracking_numbers": list(f.tracking.numbers),
        "tracking_url": f.tracking.urls[0] if f.tracking.urls else None,
        "tracking_urls": list(f.tracking.urls),
        "updated_at": shop_time(f.updated_at),
        "line_items": [render_line(line, order, shares.get(line.id, Decimal(0)), qty) for line, qty in f.lines],
    }


def _receipt(f: Fulfillment, order: OrderState) -> Json:
    """The payment gateway's receipt: card payments carry one, manual payments an empty one."""
    if order.received == 0:
        return {}
    return {"testcase": False, "authorization": f"{f.id % 1_000_000:06d}"}


def _money_fields(prefix: str, values: dict[str, Decimal]) -> Json:
    out: Json = {}
    for name, value in values.items():
        out[f"{prefix}{name}"] = money(value)
        out[f"{prefix}{name}_set"] = money_set(value)
    return out


def _totals_fields(order: OrderState) -> Json:
    orig, cur = order.original, order.current
    out = _money_fields("", {"subtotal_price": orig.subtotal, "total_discounts": orig.discounts})
    out |= _money_fields("", {"total_line_items_price": orig.line_items, "total_price": orig.total})
    out |= _money_fields("", {"total_tax": orig.tax, "total_shipping_price": orig.shipping})
    out |= _money_fields("current_", {"subtotal_price": cur.subtotal, "total_discounts": cur.discounts})
    out |= _money_fields("current_", {"total_price": cur.total, "total_tax": cur.tax})
    out.pop("total_shipping_price")  # REST carries only the `_set` form of the shipping total
    outstanding = Decimal(0) if order.cancelled_at else max(cur.total - order.received, Decimal(0))
    out["total_outstanding"] = money(outstanding)
    out["total_price_usd"] = money(orig.total * USD_PER_EUR)
    out["total_weight"] = sum(GRAMS * line.current for line in order.lines)
    out["tax_lines"] = [tax_line(cur.tax)]
    return out


def _identity_fields(order: OrderState) -> Json:
    secret = token("order", order.id)
    return {
        "id": order.id,
        "admin_graphql_api_id": gid("Order", order.id),
        "app_id": 580111,
        "name": order.name,
        "number": order.number,
        "order_number": 1000 + order.number,
        "token": secret,
        "cart_token": token("cart", order.id),
        "checkout_token": token("checkout", order.id),
        "checkout_id": order.id + 17,
        "reference": None,
        "source_identifier": None,
        "source": None,  # legacy, still in Shopify's 2008 fixture
        "source_name": "web",
        "source_url": None,
        "landing_site": "/",
        "landing_site_ref": None,
        "referring_site": "",
        "device_id": None,
        "location_id": None,
        "user_id": None,
        "test": False,
        "confirmed": True,
        "order_status_url": f"https://sandbox-shop.myshopify.com/{SHOP_ID}/orders/{secret}/authenticate?key={token(secret)}",
    }


def _status_fields(order: OrderState) -> Json:
    card = order.received > 0
    return {
        "created_at": shop_time(order.created_at),
        "updated_at": shop_time(order.updated_at),
        "processed_at": shop_time(order.created_at),
        "closed_at": shop_time(order.closed_at),
        "cancelled_at": shop_time(order.cancelled_at),
        "cancel_reason": order.cancel_reason,
        "financial_status": order.financial_status,
        "fulfillment_status": order.fulfillment_status(),
        "currency": CURRENCY,
        "presentment_currency": CURRENCY,
        "taxes_included": False,
        "estimated_taxes": False,
        "gateway": "shopify_payments" if card else "manual",
        "payment_gateway_names": ["shopify_payments" if card else "manual"],
        "processing_method": "direct" if card else "manual",
        "payment_details": {
            "avs_result_code": None,
            "credit_card_bin": "424242" if card else None,
            "cvv_result_code": None,
            "credit_card_number": "•••• •••• •••• 4242" if card else None,
            "credit_card_company": "Visa" if card else None,
        },
    }


def _people_fields(order: OrderState) -> Json:
    billing = billing_address(order)
    return {
        "email": order.customer.email,
        "contact_email": order.customer.email,
        "phone": order.customer.phone,
        "buyer_accepts_marketing": False,
        "customer_locale": "nl-NL",
        "browser_ip": "192.0.2.10",
        "client_details": {
            "accept_language": "nl-NL",
            "browser_height": None,
            "browser_ip": "192.0.2.10",
            "browser_width": None,
            "session_hash": None,
            "user_agent": "Mozilla/5.0",
        },
        "billing_address": billing,
        "shipping_address": None if order.address is None else render_address(order.address),
        "customer": render_customer(order.customer, billing),
    }


def billing_address(order: OrderState) -> Json:
    if order.address is not None:
        return render_address(order.address)
    return customer_address(order.customer, order.id)


def customer_address(customer: Customer, seed: int) -> Json:
    city, zip_code, province, code = CUSTOMER_CITIES[seed % len(CUSTOMER_CITIES)]
    return {
        "first_name": customer.first_name,
        "address1": f"Kerkstraat {seed % 200 + 1}",
        "phone": customer.phone,
        "city": city,
        "zip": zip_code,
        "province": province,
        "country": "Netherlands",
        "last_name": customer.last_name,
        "address2": "",
        "company": None,
        "latitude": 52.0 + (seed % 97) / 100,
        "longitude": 4.3 + (seed % 89) / 100,
        "name": f"{customer.first_name} {customer.last_name}".strip(),
        "country_code": "NL",
        "province_code": code,
    }


def render_order(order: OrderState) -> Json:
    """The order as `GET /admin/api/{v}/orders/{id}.json` returns it (without the `order` envelope)."""
    out = _identity_fields(order) | _status_fields(order) | _totals_fields(order) | _people_fields(order)
    out |= {"note": None, "note_attributes": [], "tags": ""} | _discounts(order)
    shares = order.allocations()
    out["line_items"] = [render_line(line, order, shares[line.id]) for line in order.lines]
    out["shipping_lines"] = [render_shipping_line(order)]
    out["fulfillments"] = [render_fulfillment(f, order) for f in order.fulfillments]
    out["refunds"] = []
    return out


def render_fo(fo: FulfillmentOrder, order: OrderState) -> Json:
    """A fulfillment order as `GET /orders/{id}/fulfillment_orders.json` lists it."""
    loc = fo.location
    return {
        "id": fo.id,
        "shop_id": SHOP_ID,
        "order_id": order.id,
        "assigned_location_id": loc.id,
        "fulfillment_service_handle": "manual",
        "request_status": "unsubmitted" if fo.status != "closed" else "closed",
        "status": fo.status,
        "supported_actions": ["create_fulfillment"] if fo.fulfillable else [],
        "destination": _destination(order),
        "line_items": [_fo_line(fo, line) for line in fo.lines],
        "fulfill_at": shop_time(fo.created_at),
        "fulfill_by": None,
        "international_duties": None,
        "fulfillment_holds": [],
        "delivery_method": {
            "id": fo.delivery_method_id,
            "method_type": fo.method,
            "min_delivery_date_time": None,
            "max_delivery_date_time": None,
        },
        "assigned_location": {
            "address1": loc.address1,
            "address2": None,
            "city": loc.name,
            "country_code": "NL",
            "location_id": loc.id,
            "name": loc.name,
            "phone": None,
            "province": loc.province,
            "zip": loc.zip,
        },
        "merchant_requests": [],
        "created_at": shop_time(fo.created_at),
        "updated_at": shop_time(fo.updated_at),
    }


def _fo_line(fo: FulfillmentOrder, fo_line: FoLine) -> Json:
    return {
        "id": fo_line.id,
        "shop_id": SHOP_ID,
        "fulfillment_order_id": fo.id,
        "quantity": fo_line.quantity,
        "line_item_id": fo_line.line.id,
        "inventory_item_id": inventory_item_id(fo_line.line.item),
        "fulfillable_quantity": fo_line.remaining,
        "variant_id": variant_id(fo_line.line.item),
    }


def _destination(order: OrderState) -> Json | None:
    if order.address is None:
        return None
    keys = ("address1", "address2", "city", "company", "country", "first_name", "last_name", "phone", "province")
    return {k: order.address[k] for k in keys} | {
        "id": order.id + 3,
        "email": order.customer.email,
        "zip": order.address["zip"],
    }


def render_location(loc: Location, created: datetime) -> Json:
    stamp = shop_time(created)
    return {
        "id": loc.id,
        "name": loc.name,
        "deleted_at": None,
        "address1": loc.address1,
        "address2": None,
        "city": loc.name,
        "zip": loc.zip,
        "province": loc.province,
        "country": "NL",
        "phone": None,
        "created_at": stamp,
        "updated_at": stamp,
        "country_code": "NL",
        "country_name": "Netherlands",
        "province_code": loc.province_code,
        "legacy": False,
        "active": True,
        "admin_graphql_api_id": gid("Location", loc.id),
        "localized_country_name": "Netherlands",
        "localized_province_name": loc.province,
    }


def render_variant(item: CatalogueItem, created: datetime) -> Json:
    stamp = shop_time(created)
    return {
        "id": variant_id(item),
        "product_id": product_id(item),
        "title": "Default Title",
        "price": money(item.price),
        "sku": item.sku,
        "position": 1,
        "inventory_policy": "deny",
        "compare_at_price": None,
        "fulfillment_service": "manual",
        "inventory_management": "shopify",
        "option1": "Default Title",
        "option2": None,
        "option3": None,
        "created_at": stamp,
        "updated_at": stamp,
        "taxable": True,
        "barcode": None,
        "grams": GRAMS,
        "weight": GRAMS / 1000,
        "weight_unit": "kg",
        "inventory_item_id": inventory_item_id(item),
        "inventory_quantity": sum(item.stock.values()),
        "old_inventory_quantity": sum(item.stock.values()),
        "requires_shipping": True,
        "admin_graphql_api_id": gid("ProductVariant", variant_id(item)),
    }


def render_level(item: CatalogueItem, loc: Location, updated: datetime, committed: int = 0) -> Json:
    """An inventory level as `GET /inventory_levels.json` lists it. The catalogue's units are what is on hand;
    `available` leaves out the `committed` ones (on open fulfillment orders), as Shopify's does, and may go below 0."""
    return {
        "inventory_item_id": inventory_item_id(item),
        "location_id": loc.id,
        "available": item.stock.get(loc.key, 0) - committed,
        "updated_at": shop_time(updated),
        "admin_graphql_api_id": f"gid://shopify/InventoryLevel/{loc.id}?inventory_item_id={inventory_item_id(item)}",
    }


def render_webhook(sub: Subscription) -> Json:
    """A webhook subscription as `GET /webhooks.json` lists it."""
    extra = sub.extra
    return {
        "id": sub.id,
        "address": sub.address,
        "topic": sub.topic,
        "created_at": extra.get("created_at"),
        "updated_at": extra.get("updated_at"),
        "format": extra.get("format", "json"),
        "fields": list(extra.get("fields") or []),
        "metafield_namespaces": [],
        "api_version": extra.get("api_version"),
        "private_metafield_namespaces": [],
    }
