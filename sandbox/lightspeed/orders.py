"""Lightspeed eCom (C-Series) native JSON for the sandbox: orders and their products, shipments, invoices and
customer, variants and the shop.

`LightspeedState` (in `lightspeed.py`) keeps the records defined here (`Order`, `OrderLine`, `Shipment`,
`Customer`, `Method`) and renders them with these pure builders.
Field names, nesting and types follow the realistic third-party payloads: the Pipedream order webhook test events
(`PipedreamHQ/pipedream` `components/lightspeed_ecom_c_series/sources/order-updated/test-event.mjs`) and the
NickTacke `lightspeed-client` schemas (`src/resources/sales/order.ts`, `catalog/variant.ts`, `store/shop.ts`):

* money is JSON numbers, in excl./incl. VAT pairs (`priceExcl`, `priceIncl`, `shipmentPriceIncl` ...), with
  `taxRates` `[{name, rate, amount}]`; the currency is the shop's (`/shop.json`), never on the order;
* dates are ISO-8601 with the shop's offset (Europe/Amsterdam: `+01:00` in winter, `+02:00` in summer);
* addresses are flattened (`addressShippingStreet`, `addressShippingCountry{id,code,code3,title}` ...);
* related resources are `{"resource": {"id", "url", "link"}}`; webhook bodies add `embedded` (products,
  shipments, invoices, customer), API answers carry only the link (one more call: `orders/{id}/products.json`);
* bodies are encoded as PHP's `json_encode` does (compact, `\\/` for `/`, `\\u00e9` for non-ASCII), so a
  receiver that re-encodes instead of hashing the raw body gets a different signature, as on the real platform.

Conventions chosen where no source says (UNVERIFIED): catalogue prices include 21 % VAT and `rate` is a fraction
(0.21); an order product's `basePrice*` is the unit price and `price*` the line total; the order's
`priceIncl` = products + shipment + payment - discount (and the same for `priceExcl`); delivery costs 4.95
incl. below 50.00 of products, pickup is free.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sandbox.core import CatalogueItem

SHOP_TZ = ZoneInfo("Europe/Amsterdam")
VAT = Decimal("0.21")
CENT = Decimal("0.01")
FREE_SHIPPING_FROM = Decimal("50.00")
DELIVERY_PRICE = Decimal("4.95")

# code -> (id, locale, title); ids as the samples show them (en = 3 in Pipedream, nl = 1 in NickTacke).
LANGUAGES = {
    "nl": (1, "nl_NL", "Nederlands"),
    "de": (2, "de_DE", "Deutsch"),
    "en": (3, "en_GB", "English"),
    "fr": (4, "fr_FR", "Français"),
}
ORDER_STATUSES = frozenset(
    {
        "on_hold",
        "processing_awaiting_payment",
        "processing_awaiting_shipment",
        "processing_awaiting_pickup",
        "processing_ready_for_pickup",
        "completed",
        "completed_shipped",
        "completed_picked_up",
        "cancelled",
    }
)
PAYMENT_STATUSES = frozenset({"not_paid", "partially_paid", "paid", "cancelled"})
ORDER_SHIPMENT_STATUSES = frozenset({"not_shipped", "partially_shipped", "shipped", "cancelled"})
NETHERLANDS = {"id": 150, "code": "nl", "code3": "nld", "title": "Netherlands"}
REGIONS = {"Amsterdam": (2721, "Noord-Holland", "NH"), "Utrecht": (2725, "Utrecht", "UT")}
DEFAULT_REGION = (2728, "Zuid-Holland", "ZH")
NOTIFY_KEYS = ("doNotifyShipped", "doNotifyReadyForPickup", "doNotifyTrackingCode")


def money(value: Decimal) -> int | float:
    """A JSON number as PHP would print it: whole amounts as integers, others as floats."""
    return int(value) if value == value.to_integral_value() else float(value)


def excl(incl: Decimal) -> Decimal:
    return (incl / (1 + VAT)).quantize(CENT)


def stamp(moment: datetime) -> str:
    return moment.astimezone(SHOP_TZ).replace(microsecond=0).isoformat()


def php_json(data: Any) -> bytes:
    """Encode like PHP's `json_encode` with default flags; `/` only ever occurs inside strings."""
    return json.dumps(data, ensure_ascii=True, separators=(",", ":")).replace("/", "\\/").encode()


def parse_time(value: str) -> datetime:
    """A filter date: ISO-8601 (with or without offset) or `YYYY-MM-DD HH:MM:SS`; naive means shop time."""
    text = value.strip()
    # An unencoded "+01:00" offset arrives as " 01:00" from a query string.
    text = text.replace(" ", "+") if "T" in text else text.replace(" ", "T", 1)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"Invalid date: {value!r}.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=SHOP_TZ)


@dataclass(frozen=True)
class Links:
    """Builds `{"resource": ...}` references and language objects for one API language."""

    root: str
    lang: str

    def ref(self, url: str, rid: int | bool = False, embedded: Any = None) -> dict[str, Any]:
        path, _, query = url.partition("?")
        link = f"{self.root}/{self.lang}/{path}.json" + (f"?{query}" if query else "")
        resource: dict[str, Any] = {"id": rid, "url": url, "link": link}
        if embedded is not None:
            resource["embedded"] = embedded
        return {"resource": resource}

    def language(self) -> dict[str, Any]:
        lid, locale, title = LANGUAGES[self.lang]
        return {"id": lid, "code": self.lang, "locale": locale, "title": title}


@dataclass
class Customer:
    id: int
    firstname: str
    lastname: str
    email: str
    phone: str
    street: str
    number: str
    zipcode: str
    city: str
    created_at: datetime


@dataclass(frozen=True)
class Method:
    """A shipping method value as the order shows it (`shipmentId`, `shipmentTitle`, `shipmentData`)."""

    shipment_id: str
    title: str
    data: dict[str, Any]
    is_pickup: bool


@dataclass
class OrderLine:
    id: int
    item: CatalogueItem
    quantity: int
    unit_incl: Decimal

    @property
    def unit_excl(self) -> Decimal:
        return excl(self.unit_incl)


@dataclass
class Shipment:
    id: int
    number: str
    created_at: datetime
    updated_at: datetime
    status: str = "not_shipped"
    tracking_code: str = ""
    notify: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(NOTIFY_KEYS, False))


@dataclass(frozen=True)
class Totals:
    products_incl: Decimal
    products_excl: Decimal
    shipment_incl: Decimal
    shipment_excl: Decimal

    @property
    def incl(self) -> Decimal:
        return self.products_incl + self.shipment_incl

    @property
    def excl(self) -> Decimal:
        return self.products_excl + self.shipment_excl


@dataclass
class Order:
    id: int
    number: str
    customer: Customer
    lines: list[OrderLine]
    method: Method
    payment: tuple[str, str]  # (paymentId, paymentTitle)
    status: str
    payment_status: str
    shipment_status: str
    created_at: datetime
    updated_at: datetime
    shipment: Shipment
    invoice: tuple[int, str]  # (id, number)
    memo: str = ""
    deleted: bool = False
    live: bool = False  # placed while the sandbox runs; seeded history never took stock

    def totals(self) -> Totals:
        products_incl = sum((line.unit_incl * line.quantity for line in self.lines), Decimal(0))
        products_excl = sum((line.unit_excl * line.quantity for line in self.lines), Decimal(0))
        shipping = Decimal(0) if self.method.is_pickup or products_incl >= FREE_SHIPPING_FROM else DELIVERY_PRICE
        return Totals(products_incl, products_excl, shipping, excl(shipping))

    def touch(self, moment: datetime) -> None:
        self.updated_at = max(moment, self.updated_at)


def tax_rates(incl: Decimal, excl_: Decimal) -> list[dict[str, Any]]:
    return [{"name": "21%", "rate": float(VAT), "amount": money(incl - excl_)}]


def order_json(order: Order, links: Links, embed: bool = False) -> dict[str, Any]:
    """The order as `GET /orders/{id}.json` shows it, or with `embedded` resources as a webhook sends it."""
    oid, totals = order.id, order.totals()
    data: dict[str, Any] = {
        "id": oid,
        "createdAt": stamp(order.created_at),
        "updatedAt": stamp(order.updated_at),
        "number": order.number,
        "status": order.status,
        "customStatusId": None,
        "channel": "main",
        "remoteIp": "",
        "userAgent": "",
        "referralId": False,
        **_order_prices(order, totals),
        **_person(order.customer),
        "newsletterSubscribed": False,
        **_company(),
        **_address("addressBilling", order.customer, region=True),
        "addressShippingCompany": False,
        **_address("addressShipping", order.customer, region=True),
        **_payment_fields(order),
        **_shipment_fields(order, totals),
        **_discount_fields(totals),
        "isNewCustomer": False,
        "comment": "",
        "memo": order.memo,
        "allowNotifications": True,
        "doNotifyNew": True,
        "doNotifyReminder": False,
        "doNotifyCancelled": False,
        "language": links.language(),
    }
    data.update(_order_resources(order, links, embed, totals))
    return data


def _order_prices(order: Order, totals: Totals) -> dict[str, Any]:
    cost = sum((_unit_cost(line.item) * line.quantity for line in order.lines), Decimal(0))
    return {
        "priceCost": money(cost),
        "priceExcl": money(totals.excl),
        "priceIncl": money(totals.incl),
        "weight": 0,
        "volume": 0,
        "colli": 0,
    }


def _unit_cost(item: CatalogueItem) -> Decimal:
    return (excl(item.price) * Decimal("0.45")).quantize(CENT)


def _person(customer: Customer) -> dict[str, Any]:
    return {
        "gender": "",
        "birthDate": False,  # NickTacke live sample: false when not set
        "nationalId": "",
        "email": customer.email,
        "firstname": customer.firstname,
        "middlename": "",
        "lastname": customer.lastname,
        "phone": customer.phone,
        "mobile": "",
    }


def _company() -> dict[str, Any]:
    return {"isCompany": False, "companyName": "", "companyCoCNumber": "", "companyVatNumber": ""}


def _address(prefix: str, customer: Customer, region: bool = False) -> dict[str, Any]:
    rid, name, code = REGIONS.get(customer.city, DEFAULT_REGION)
    fields: dict[str, Any] = {
        f"{prefix}Name": f"{customer.firstname} {customer.lastname}",
        f"{prefix}Street": customer.street,
        f"{prefix}Street2": "",
        f"{prefix}Number": customer.number,
        f"{prefix}Extension": "",
        f"{prefix}Zipcode": customer.zipcode,
        f"{prefix}City": customer.city,
        f"{prefix}Region": name,
        f"{prefix}Country": dict(NETHERLANDS),
    }
    if region:
        fields[f"{prefix}RegionData"] = {"id": rid, "name": name, "code": code}
    return fields


def _payment_fields(order: Order) -> dict[str, Any]:
    return {
        "paymentId": order.payment[0],
        "paymentStatus": order.payment_status,
        "paymentIsPost": False,
        "paymentIsInvoiceExternal": False,
        "paymentTaxRate": float(VAT),
        "paymentTaxRates": tax_rates(Decimal(0), Decimal(0)),
        "paymentBasePriceExcl": 0,
        "paymentBasePriceIncl": 0,
        "paymentPriceExcl": 0,
        "paymentPriceIncl": 0,
        "paymentTitle": order.payment[1],
        "paymentData": {"user_id": None},
    }


def _shipment_fields(order: Order, totals: Totals) -> dict[str, Any]:
    incl, excl_ = money(totals.shipment_incl), money(totals.shipment_excl)
    return {
        "shipmentId": order.method.shipment_id,
        "shipmentStatus": order.shipment_status,
        "shipmentIsCashOnDelivery": False,
        "shipmentIsPickup": order.method.is_pickup,
        "shipmentTaxRate": float(VAT),
        "shipmentTaxRates": tax_rates(totals.shipment_incl, totals.shipment_excl),
        "shipmentBasePriceExcl": excl_,
        "shipmentBasePriceIncl": incl,
        "shipmentPriceExcl": excl_,
        "shipmentPriceIncl": incl,
        "shipmentDiscountExcl": 0,
        "shipmentDiscountIncl": 0,
        "shipmentTitle": order.method.title,
        "shipmentData": dict(order.method.data),
        "shippingDate": None,
        "deliveryDate": None,
    }


def _discount_fields(totals: Totals) -> dict[str, Any]:
    return {
        "isDiscounted": False,
        "discountType": "amount",
        "discountAmount": 0,
        "discountPercentage": 0,
        "discountCouponCode": "",
        "taxRates": tax_rates(totals.incl, totals.excl),
    }


def _order_resources(order: Order, links: Links, embed: bool, totals: Totals) -> dict[str, Any]:
    oid, cid = order.id, order.customer.id
    inner = _embedded(order, links, totals) if embed else {}
    return {
        "customer": links.ref(f"customers/{cid}", cid, inner.get("customer")),
        "invoices": links.ref(f"invoices?order={oid}", False, inner.get("invoices")),
        "shipments": links.ref(f"shipments?order={oid}", False, inner.get("shipments")),
        "products": links.ref(f"orders/{oid}/products", False, inner.get("products")),
        "metafields": links.ref(f"orders/{oid}/metafields", False, inner.get("metafields")),
        "quote": links.ref(f"quotes/{oid}", oid),
        "events": links.ref(f"orders/events?order={oid}"),
        "giftCardsPayment": [],
    }


def _embedded(order: Order, links: Links, totals: Totals) -> dict[str, Any]:
    """What a webhook body embeds in the order's resource references (the API answer only links them)."""
    return {
        "customer": customer_json(order.customer, links),
        "invoices": [invoice_json(order, links, totals)],
        "shipments": [shipment_json(order, links)],
        "products": products_json(order, links),
        "metafields": [],
    }


def products_json(order: Order, links: Links) -> list[dict[str, Any]]:
    return [product_json(line, links) for line in order.lines]


def product_json(line: OrderLine, links: Links) -> dict[str, Any]:
    """One `orderProduct`: base prices per unit, prices for the whole line."""
    item, qty = line.item, line.quantity
    line_incl, line_excl = line.unit_incl * qty, line.unit_excl * qty
    return {
        "id": line.id,
        "supplierTitle": "",
        "brandTitle": "Sandbox",
        "productTitle": item.name,
        "variantTitle": "",
        "taxRate": float(VAT),
        "taxRates": tax_rates(line_incl, line_excl),
        "quantityOrdered": qty,
        "quantityInvoiced": qty,
        "quantityShipped": 0,
        "quantityRefunded": 0,
        "quantityReturned": 0,
        "articleCode": item.sku,
        "ean": ean13(item.variant_id),
        "sku": item.sku,
        "weight": 0,
        "volume": 0,
        "colli": 0,
        "sizeX": 0,
        "sizeY": 0,
        "sizeZ": 0,
        "priceCost": money(_unit_cost(item)),
        "customExcl": 0,
        "customIncl": 0,
        "basePriceExcl": money(line.unit_excl),
        "basePriceIncl": money(line.unit_incl),
        "priceExcl": money(line_excl),
        "priceIncl": money(line_incl),
        "discountExcl": 0,
        "discountIncl": 0,
        "customFields": False,
        "product": links.ref(f"products/{item.product_id}", item.product_id),
        "variant": links.ref(f"variants/{item.variant_id}", item.variant_id),
    }


def shipment_json(order: Order, links: Links) -> dict[str, Any]:
    ship, oid, cid = order.shipment, order.id, order.customer.id
    return {
        "id": ship.id,
        "createdAt": stamp(ship.created_at),
        "updatedAt": stamp(ship.updated_at),
        "number": ship.number,
        "status": ship.status,
        "trackingCode": ship.tracking_code,
        **ship.notify,
        "customer": links.ref(f"customers/{cid}", cid),
        "order": links.ref(f"orders/{oid}", oid),
        "products": links.ref(f"shipments/{ship.id}/products"),
        "metafields": links.ref(f"shipments/{ship.id}/metafields"),
        "events": links.ref(f"orders/events?shipment={ship.id}"),
    }


def invoice_json(order: Order, links: Links, totals: Totals) -> dict[str, Any]:
    iid, number = order.invoice
    return {
        "id": iid,
        "createdAt": stamp(order.created_at),
        "updatedAt": stamp(order.updated_at),
        "number": number,
        "status": "paid" if order.payment_status == "paid" else "not_paid",
        "isVatShifted": False,
        "priceExcl": money(totals.excl),
        "priceIncl": money(totals.incl),
        "doNotifyNew": False,
        "doNotifyPaid": False,
        "invoice": False,
        "isCreditNote": False,
        "creditNote": False,
        "order": links.ref(f"orders/{order.id}", order.id),
        "customer": links.ref(f"customers/{order.customer.id}", order.customer.id),
        "items": links.ref(f"invoices/{iid}/items"),
        "metafields": links.ref(f"invoices/{iid}/metafields"),
        "events": links.ref(f"orders/events?invoice={iid}"),
    }


def customer_json(customer: Customer, links: Links) -> dict[str, Any]:
    cid, created = customer.id, stamp(customer.created_at)
    sub = {name: links.ref(f"{name}?customer={cid}") for name in ("invoices", "orders", "reviews", "shipments")}
    return {
        "id": cid,
        "createdAt": created,
        "updatedAt": created,
        "isConfirmed": True,
        "type": "registered",
        "lastOnlineAt": created,
        "remoteIp": "",
        "userAgent": "",
        "referralId": False,
        **_person(customer),
        **_company(),
        **_address("addressBilling", customer),
        "addressShippingCompany": False,
        **_address("addressShipping", customer),
        "memo": None,
        "doNotifyRegistered": False,
        "doNotifyConfirmed": False,
        "doNotifyPassword": False,
        "groups": links.ref(f"groups/customers?customer={cid}"),
        "language": links.language(),
        **sub,
        "tickets": links.ref(f"tickets?customer={cid}"),
        "metafields": links.ref(f"customers/{cid}/metafields"),
        "login": links.ref(f"customers/{cid}/login"),
    }


def variant_json(item: CatalogueItem, level: int, sold: int, tracking: str, links: Links) -> dict[str, Any]:
    """A variant as NickTacke's live-confirmed schema shows it: one `stockLevel`, no locations."""
    vid, price = item.variant_id, item.price
    return {
        "id": vid,
        "createdAt": "2024-01-02T10:00:00+01:00",
        "updatedAt": "2024-01-02T10:00:00+01:00",
        "isDefault": True,
        "sortOrder": 1,
        "articleCode": item.sku,
        "ean": ean13(vid),
        "sku": item.sku,
        "hs": None,
        "unitPrice": 0,
        "unitUnit": "",
        "priceExcl": money(excl(price)),
        "priceIncl": money(price),
        "priceCost": money(_unit_cost(item)),
        "oldPriceExcl": 0,
        "oldPriceIncl": 0,
        "stockTracking": tracking,
        "stockLevel": level,
        "stockAlert": 0,
        "stockMinimum": 0,
        "stockSold": sold,
        "stockBuyMininum": 1,  # sic: the live API spells it so (NickTacke variant.ts), next to the right one
        "stockBuyMinimum": 1,
        "stockBuyMaximum": 10000,
        "weight": 0,
        "volume": 0,
        "colli": 0,
        "title": item.name,
        "taxType": None,
        "image": False,
        "matrix": False,
        "additionalcost": False,
        "options": [],
        "tax": links.ref("taxes/1", 1),
        "product": links.ref(f"products/{item.product_id}", item.product_id),
        "movements": links.ref(f"variants/movements?variant={vid}"),
        "metafields": links.ref(f"variants/{vid}/metafields"),
    }


def ean13(number: int) -> str:
    """A valid EAN-13 (GS1 check digit) in the Dutch 87 prefix range, derived from a variant id."""
    body = f"87{number:010d}"[-12:]
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def shop_json(links: Links) -> dict[str, Any]:
    """`GET /shop.json`: NickTacke's live-confirmed shop fields; the currency lives here, not on orders."""
    return {
        "id": 310001,
        "createdAt": "2020-03-02T09:00:00+01:00",
        "status": "live",
        "isB2b": False,
        "isRetail": True,
        "subDomain": "sandbox-shop",
        "mainDomain": "sandbox-shop.webshopapp.com",
        "email": "shop@example.com",
        "phone": "+31 20 000 0000",
        "fax": "",
        "street": "Damrak 1",
        "street2": "",
        "zipcode": "1012 LG",
        "city": "Amsterdam",
        "region": "Noord-Holland",
        "country": dict(NETHERLANDS),
        "vatNumber": "NL000000000B01",
        "cocNumber": "00000000",
        "industry": "retail",
        "currency": {"shortcode": "EUR", "symbol": "€", "title": "Euro", "isDefault": True, "currencyRate": "1"},
        "language": links.language(),
        "company": links.ref("shop/company"),
        "limits": links.ref("shop/limits"),
    }
