"""WooCommerce's native JSON documents for the sandbox: orders, products, variations, order notes, webhooks.

Shapes follow the REST v3 samples of WooCommerce's API docs (kept in `tests/fixtures/woocommerce/`) plus the fields
current WooCommerce adds to them (`currency_symbol`, `payment_url`, `is_editable`, `needs_payment`,
`needs_processing`, `shipping.phone`, line `image` / `parent_name`, `tax_lines[].rate_percent`,
`shipping_lines[].instance_id`, display keys on line meta). Money follows WooCommerce's own convention with
`prices_include_tax: false`: a line's `total` is before tax, its tax is rounded per line, shipping tax keeps its
unrounded value in `taxes[]` and is rounded in `total_tax`, and `total = Σ line totals + shipping_total + cart_tax +
shipping_tax`. Dates come in pairs: site local time without offset (the site runs on Europe/Amsterdam) and `*_gmt`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sandbox.core import CatalogueItem

SITE_TZ = ZoneInfo("Europe/Amsterdam")
CURRENCY = "EUR"
WC_VERSION = "9.8.5"
WP_VERSION = "6.8.1"
VAT = Decimal("0.21")
FLAT_RATE = Decimal("4.95")
CENT = Decimal("0.01")
STATUSES = ("pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed", "trash")
STATUS_LABELS = {
    "pending": "Pending payment",
    "processing": "Processing",
    "on-hold": "On hold",
    "completed": "Completed",
    "cancelled": "Cancelled",
    "refunded": "Refunded",
    "failed": "Failed",
    "trash": "Trash",
}
PAID_METHOD = ("woocommerce_payments", "Credit card / debit card")
BANK_METHOD = ("bacs", "Direct bank transfer")
SITES = {  # pickup location name -> (name shown in WooCommerce, street, postcode, city)
    "amsterdam": ("Amsterdam", "Damrak 1", "1012 LG", "Amsterdam"),
    "utrecht": ("Utrecht", "Oudegracht 100", "3511 AX", "Utrecht"),
    "rotterdam": ("Rotterdam", "Coolsingel 40", "3011 AD", "Rotterdam"),
}
FIRST_NAMES = ("Anna", "Daan", "Emma", "Lucas", "Sophie", "Milan", "Julia", "Sem", "Tess", "Noah")
LAST_NAMES = ("de Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "de Boer", "Mulder", "de Groot", "Bos")
STREETS = (("Prinsengracht 263", "1016 GV", "Amsterdam"), ("Lange Nieuwstraat 12", "3512 PH", "Utrecht"))
USER_AGENT = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Safari/605.1.15"
CATALOGUE_EPOCH = datetime(2024, 1, 8, 9, 0, tzinfo=UTC)


# --- values ---------------------------------------------------------------------------------------------------
def php_json(value: Any) -> bytes:
    """`wp_json_encode`: compact, `/` escaped as `\\/`, non-ASCII as `\\u00e9` (the bytes webhooks are signed over)."""
    return json.dumps(value, separators=(",", ":")).replace("/", "\\/").encode()


def money(value: Decimal) -> str:
    return f"{value.quantize(CENT, ROUND_HALF_UP)}"


def trimmed(value: Decimal) -> str:
    """`wc_format_decimal` with trailing zeros trimmed, as stored tax amounts appear ("0.9", "1.0395")."""
    text = f"{value.normalize():f}"
    return text if text != "-0" else "0"


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


def local(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(SITE_TZ).strftime("%Y-%m-%dT%H:%M:%S")


def gmt(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def date_pair(name: str, moment: datetime | None) -> dict[str, str | None]:
    return {name: local(moment), f"{name}_gmt": gmt(moment)}


def unit_price(total: Decimal, quantity: int) -> int | float:
    """Line `price`: a JSON number, `total / quantity` as PHP divides (an int when it divides evenly)."""
    if total == total.to_integral_value() and int(total) % quantity == 0:
        return int(total) // quantity
    return float(total) / quantity


def site(location: str) -> tuple[str, str, str, str]:
    name = location.title()
    return SITES.get(location, (name, f"{name}plein 1", "1000 AA", name))


def is_variation(item: CatalogueItem) -> bool:
    """Every fourth catalogue item is sold as the single variation ("Size M") of a variable product."""
    return (item.product_id - 1000) % 4 == 0


# --- orders ---------------------------------------------------------------------------------------------------
@dataclass
class Line:
    item: CatalogueItem
    quantity: int
    price: Decimal
    item_id: int
    meta_ids: tuple[int, ...] = ()


@dataclass
class WooOrder:
    """One order: its native document plus what WooCommerce keeps beside it."""

    id: int
    doc: dict[str, Any]
    created: datetime
    modified: datetime
    lines: list[Line]
    kind: str
    pickup_location: str | None
    shipping_line_id: int
    tax_line_id: int
    meta_ids: tuple[int, ...]  # 3 for the order's meta, 4 for the shipping line's
    notes: list[dict[str, Any]] = field(default_factory=list)
    stock_reduced: bool = False
    trashed_from: str = ""


@dataclass(frozen=True)
class Customer:
    first_name: str
    last_name: str
    email: str
    phone: str
    street: str
    postcode: str
    city: str


def customer_from(spec: dict[str, Any] | None, n: int) -> Customer:
    street, postcode, city = STREETS[n % len(STREETS)]
    first, last = FIRST_NAMES[n % len(FIRST_NAMES)], LAST_NAMES[(n // 10) % len(LAST_NAMES)]
    if spec and spec.get("name"):
        first, _, last = str(spec["name"]).partition(" ")
    email = str((spec or {}).get("email") or f"customer{n}@example.com")
    phone = str((spec or {}).get("phone") or f"+31 6 {10000000 + n * 7919 % 89999999}")
    return Customer(first, last, email, phone, street, postcode, city)


def billing(c: Customer) -> dict[str, str]:
    return {
        "first_name": c.first_name,
        "last_name": c.last_name,
        "company": "",
        "address_1": c.street,
        "address_2": "",
        "city": c.city,
        "state": "",
        "postcode": c.postcode,
        "country": "NL",
        "email": c.email,
        "phone": c.phone,
    }


def shipping_address(c: Customer, pickup: str | None) -> dict[str, str]:
    """The delivery address, or for Local Pickup the pickup location's address under the customer's name."""
    address = billing(c)
    del address["email"]
    if pickup is not None:
        _, street, postcode, city = site(pickup)
        address.update(address_1=street, postcode=postcode, city=city)
    return address


def line_item(line: Line) -> dict[str, Any]:
    subtotal = cents(line.price * line.quantity)
    tax = cents(subtotal * VAT)
    variation = is_variation(line.item)
    meta: list[dict[str, Any]] = []
    if variation and line.meta_ids:
        meta = [{"id": line.meta_ids[0], "key": "pa_size", "value": "m", "display_key": "Size", "display_value": "M"}]
    return {
        "id": line.item_id,
        "name": f"{line.item.name} - M" if variation else line.item.name,
        "product_id": line.item.product_id,
        "variation_id": line.item.variant_id if variation else 0,
        "quantity": line.quantity,
        "tax_class": "",
        "subtotal": money(subtotal),
        "subtotal_tax": money(tax),
        "total": money(subtotal),
        "total_tax": money(tax),
        "taxes": [{"id": 1, "total": trimmed(tax), "subtotal": trimmed(tax)}],
        "meta_data": meta,
        "sku": line.item.sku,
        "price": unit_price(subtotal, line.quantity),
        "image": {"id": "", "src": ""},
        "parent_name": line.item.name if variation else None,
    }


def shipping_line(order: WooOrder) -> dict[str, Any]:
    items = ", ".join(f"{line_item(x)['name']} &times; {x.quantity}" for x in order.lines)
    meta_ids = order.meta_ids[3:]
    if order.pickup_location is None:
        cost, title, method, instance = FLAT_RATE, "Flat rate", "flat_rate", "1"
        meta = [{"id": meta_ids[0], "key": "Items", "value": items, "display_key": "Items", "display_value": items}]
    else:
        name, street, postcode, city = site(order.pickup_location)
        cost, title, method, instance = Decimal("0"), f"Pickup ({name})", "pickup_location", "0"
        meta = _pickup_meta(meta_ids, name, f"{street}, {postcode} {city}", items)
    tax = cost * VAT
    return {
        "id": order.shipping_line_id,
        "method_title": title,
        "method_id": method,
        "instance_id": instance,
        "total": money(cost),
        "total_tax": money(tax),
        "taxes": [{"id": 1, "total": trimmed(tax), "subtotal": ""}] if cost else [],
        "meta_data": meta,
    }


def _pickup_meta(ids: tuple[int, ...], name: str, address: str, items: str) -> list[dict[str, Any]]:
    """Block checkout Local Pickup's rate meta (`PickupLocation::calculate_shipping`) plus the package's Items."""
    pairs = (
        ("pickup_location", "Pickup location", name),
        ("pickup_address", "Pickup address", address),
        ("pickup_details", "Pickup details", "Ask for your order at the counter."),
        ("Items", "Items", items),
    )
    return [
        {"id": meta_id, "key": key, "value": value, "display_key": label, "display_value": value}
        for meta_id, (key, label, value) in zip(ids, pairs, strict=True)
    ]


def refresh_money(order: WooOrder) -> None:
    """Recompute lines, shipping, taxes and totals from `order.lines`, as WooCommerce's calculate_totals does."""
    doc = order.doc
    doc["line_items"] = [line_item(x) for x in order.lines]
    shipping = shipping_line(order)
    doc["shipping_lines"] = [shipping]
    items_total = sum((Decimal(x["total"]) for x in doc["line_items"]), Decimal("0"))
    cart_tax = sum((Decimal(x["total_tax"]) for x in doc["line_items"]), Decimal("0"))
    ship_total, ship_tax = Decimal(shipping["total"]), Decimal(shipping["total_tax"])
    doc["tax_lines"] = [_tax_line(order.tax_line_id, cart_tax, ship_tax)]
    doc.update(
        discount_total="0.00",
        discount_tax="0.00",
        shipping_total=money(ship_total),
        shipping_tax=money(ship_tax),
        cart_tax=money(cart_tax),
        total=money(items_total + ship_total + cart_tax + ship_tax),
        total_tax=money(cart_tax + ship_tax),
    )
    refresh_flags(doc)


def _tax_line(line_id: int, cart_tax: Decimal, shipping_tax: Decimal) -> dict[str, Any]:
    return {
        "id": line_id,
        "rate_code": "NL-BTW-1",
        "rate_id": 1,
        "label": "BTW",
        "compound": False,
        "tax_total": money(cart_tax),
        "shipping_tax_total": money(shipping_tax),
        "rate_percent": 21,
        "meta_data": [],
    }


def refresh_flags(doc: dict[str, Any]) -> None:
    status = doc["status"]
    doc["is_editable"] = status in {"pending", "on-hold", "auto-draft", "checkout-draft"}
    doc["needs_payment"] = status in {"pending", "failed"} and Decimal(doc["total"]) > 0
    doc["needs_processing"] = True


def order_document(order: WooOrder, customer: Customer, status: str, paid: bool, admin: bool) -> dict[str, Any]:
    """The complete order document, in the samples' field order (totals are filled by `refresh_money`)."""
    n = order.id
    method, title = PAID_METHOD if paid else ("", "") if admin else BANK_METHOD
    key = "wc_order_" + hashlib.sha256(f"order-key-{n}".encode()).hexdigest()[:13]
    doc: dict[str, Any] = {
        "id": n,
        "parent_id": 0,
        "number": str(n),
        "order_key": key,
        "created_via": "admin" if admin else "store-api",
        "version": WC_VERSION,
        "status": status,
        "currency": CURRENCY,
        **date_pair("date_created", order.created),
        **date_pair("date_modified", order.modified),
        "discount_total": "0.00",
        "discount_tax": "0.00",
        "shipping_total": "0.00",
        "shipping_tax": "0.00",
        "cart_tax": "0.00",
        "total": "0.00",
        "total_tax": "0.00",
        "prices_include_tax": False,
        "customer_id": 0,
        "customer_ip_address": "" if admin else f"203.0.113.{n % 250 + 1}",
        "customer_user_agent": "" if admin else USER_AGENT,
        "customer_note": "",
        "billing": billing(customer),
        "shipping": shipping_address(customer, order.pickup_location),
        "payment_method": method,
        "payment_method_title": title,
        "transaction_id": f"pi_{hashlib.sha256(key.encode()).hexdigest()[:24]}" if paid else "",
        **date_pair("date_paid", order.created if paid else None),
        **date_pair("date_completed", None),
        "cart_hash": "" if admin else hashlib.md5(key.encode(), usedforsecurity=False).hexdigest(),
        "meta_data": _order_meta(order.meta_ids, admin),
        "line_items": [],
        "tax_lines": [],
        "shipping_lines": [],
        "fee_lines": [],
        "coupon_lines": [],
        "refunds": [],
        "currency_symbol": "€",
    }
    doc["payment_url"] = f"/checkout/order-pay/{n}/?pay_for_order=true&key={key}"
    return doc


def _order_meta(ids: tuple[int, ...], admin: bool) -> list[dict[str, Any]]:
    if admin:
        return [{"id": ids[0], "key": "is_vat_exempt", "value": "no"}]
    return [
        {"id": ids[0], "key": "is_vat_exempt", "value": "no"},
        {"id": ids[1], "key": "_wc_order_attribution_source_type", "value": "typein"},
        {"id": ids[2], "key": "_wc_order_attribution_device_type", "value": "Desktop"},
    ]


def links(root: str, path: str, *, up: str = "") -> dict[str, list[dict[str, str]]]:
    base = f"{root}/wp-json/wc/v3/{path}"
    out = {"self": [{"href": base}], "collection": [{"href": base.rsplit("/", 1)[0]}]}
    if up:
        out["up"] = [{"href": f"{root}/wp-json/wc/v3/{up}"}]
    return out


def render_order(order: WooOrder, root: str) -> dict[str, Any]:
    doc = {**order.doc, "_links": links(root, f"orders/{order.id}")}
    doc["payment_url"] = root + order.doc["payment_url"]
    return doc


def note_document(order_id: int, note: dict[str, Any], root: str) -> dict[str, Any]:
    return {**note, "_links": links(root, f"orders/{order_id}/notes/{note['id']}", up=f"orders/{order_id}")}


def new_note(note_id: int, text: str, customer_note: bool, by_user: bool, moment: datetime) -> dict[str, Any]:
    return {
        "id": note_id,
        "author": "admin" if by_user else "system",
        **date_pair("date_created", moment),
        "note": text,
        "customer_note": customer_note,
    }


# --- products -------------------------------------------------------------------------------------------------
def _product_dates(item: CatalogueItem) -> dict[str, str | None]:
    moment = CATALOGUE_EPOCH + timedelta(hours=item.product_id - 1000)
    return {**date_pair("date_created", moment), **date_pair("date_modified", moment)}


def _stock(stock: int | None) -> dict[str, Any]:
    managed = stock is not None
    status = "instock" if stock is None or stock > 0 else "outofstock"
    return {
        "manage_stock": managed,
        "stock_quantity": stock,
        "stock_status": status,
        "backorders": "no",
        "backorders_allowed": False,
        "backordered": False,
    }


def _sale(price: Decimal) -> dict[str, Any]:
    return {
        "price": money(price),
        "regular_price": money(price),
        "sale_price": "",
        **date_pair("date_on_sale_from", None),
        **date_pair("date_on_sale_to", None),
    }


def product_document(item: CatalogueItem, stock: int, root: str, kind: str) -> dict[str, Any]:
    """A product: `simple`, the `variable` parent of a variation, or a `variation` found by `?sku=`."""
    variation = kind == "variation"
    ident = item.variant_id if variation else item.product_id
    name = f"{item.name} - M" if variation else item.name
    slug = name.lower().replace(" ", "-")
    shown_stock = None if kind == "variable" else stock
    return {
        "id": ident,
        "name": name,
        "slug": slug,
        "permalink": f"{root}/product/{slug}/",
        **_product_dates(item),
        "type": kind,
        "status": "publish",
        "featured": False,
        "catalog_visibility": "visible",
        "description": f"<p>{item.name}.</p>\n",
        "short_description": "",
        "sku": "" if kind == "variable" else item.sku,
        **_sale(item.price),
        "price_html": f'<span class="woocommerce-Price-amount amount">&euro;{money(item.price)}</span>',
        "on_sale": False,
        "purchasable": True,
        "total_sales": 0,
        "virtual": False,
        "downloadable": False,
        "downloads": [],
        "download_limit": -1,
        "download_expiry": -1,
        "external_url": "",
        "button_text": "",
        "tax_status": "taxable",
        "tax_class": "",
        **_stock(shown_stock),
        "sold_individually": False,
        "weight": "",
        "dimensions": {"length": "", "width": "", "height": ""},
        "shipping_required": True,
        "shipping_taxable": True,
        "shipping_class": "",
        "shipping_class_id": 0,
        "reviews_allowed": True,
        "average_rating": "0.00",
        "rating_count": 0,
        "related_ids": [],
        "upsell_ids": [],
        "cross_sell_ids": [],
        "parent_id": item.product_id if variation else 0,
        "purchase_note": "",
        "categories": [{"id": 15, "name": "Uncategorized", "slug": "uncategorized"}],
        "tags": [],
        "images": [],
        "attributes": _attributes(kind),
        "default_attributes": [],
        "variations": [item.variant_id] if kind == "variable" else [],
        "grouped_products": [],
        "menu_order": 0,
        "meta_data": [],
        "_links": links(root, f"products/{ident}"),
    }


def _attributes(kind: str) -> list[dict[str, Any]]:
    if kind == "variation":
        return [{"id": 1, "name": "Size", "option": "M"}]
    if kind == "variable":
        return [{"id": 1, "name": "Size", "position": 0, "visible": True, "variation": True, "options": ["M"]}]
    return []


def variation_document(item: CatalogueItem, stock: int, root: str) -> dict[str, Any]:
    slug = item.name.lower().replace(" ", "-")
    parent = f"products/{item.product_id}"
    return {
        "id": item.variant_id,
        **_product_dates(item),
        "description": "",
        "permalink": f"{root}/product/{slug}/?attribute_pa_size=m",
        "sku": item.sku,
        **_sale(item.price),
        "on_sale": False,
        "status": "publish",
        "purchasable": True,
        "virtual": False,
        "downloadable": False,
        "downloads": [],
        "download_limit": -1,
        "download_expiry": -1,
        "tax_status": "taxable",
        "tax_class": "",
        **_stock(stock),
        "weight": "",
        "dimensions": {"length": "", "width": "", "height": ""},
        "shipping_class": "",
        "shipping_class_id": 0,
        "image": None,
        "attributes": _attributes("variation"),
        "menu_order": 0,
        "meta_data": [],
        "_links": links(root, f"{parent}/variations/{item.variant_id}", up=parent),
    }


# --- webhooks -------------------------------------------------------------------------------------------------
TOPIC_HOOKS = {  # `WC_Webhook::get_default_topic_hooks`
    "coupon.created": ["woocommerce_process_shop_coupon_meta", "woocommerce_new_coupon"],
    "coupon.updated": ["woocommerce_process_shop_coupon_meta", "woocommerce_update_coupon"],
    "coupon.deleted": ["wp_trash_post"],
    "coupon.restored": ["untrashed_post"],
    "customer.created": ["user_register", "woocommerce_created_customer", "woocommerce_new_customer"],
    "customer.updated": ["profile_update", "woocommerce_update_customer"],
    "customer.deleted": ["delete_user"],
    "order.created": ["woocommerce_new_order"],
    "order.updated": ["woocommerce_update_order", "woocommerce_order_refunded", "woocommerce_delete_order_refund"],
    "order.deleted": ["wp_trash_post", "woocommerce_trash_order"],
    "order.restored": ["untrashed_post", "woocommerce_untrash_order"],
    "product.created": [
        "woocommerce_process_product_meta",
        "woocommerce_new_product",
        "woocommerce_new_product_variation",
    ],
    "product.updated": [
        "woocommerce_process_product_meta",
        "woocommerce_update_product",
        "woocommerce_update_product_variation",
    ],
    "product.deleted": ["wp_trash_post"],
    "product.restored": ["untrashed_post"],
    "product.published": ["woocommerce_product_published"],
}


def valid_topic(topic: str) -> bool:
    """`wc_is_webhook_valid_topic`: a default topic, or a custom `action.woocommerce_*` / `action.wc_*` one."""
    return topic in TOPIC_HOOKS or topic.startswith(("action.woocommerce_", "action.wc_"))


def webhook_document(ident: int, topic: str, extra: dict[str, Any], address: str, root: str) -> dict[str, Any]:
    resource, _, event = topic.partition(".")
    return {
        "id": ident,
        "name": extra.get("name", ""),
        "status": extra.get("status", "active"),
        "topic": topic,
        "resource": resource,
        "event": event,
        "hooks": [event] if resource == "action" else TOPIC_HOOKS.get(topic, []),
        "delivery_url": address,
        **date_pair("date_created", extra.get("created")),
        **date_pair("date_modified", extra.get("modified")),
        "_links": links(root, f"webhooks/{ident}"),
    }
