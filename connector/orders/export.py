"""Orders out for the books and the POS: CSV (one row per order line), XML (against `export.xsd`), JSON lines.

Each writer takes an iterable of order JSON objects (design section 7, as `order_json` makes them) and yields text
chunks, one order at a time, so an export of any size streams in constant memory when its input does (see
`storage.orders.iter_orders`). Money is written as the exact decimal strings of the order JSON beside its currency;
nothing here rounds or converts.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from enum import StrEnum
from importlib import resources
from typing import Any
from xml.sax.saxutils import XMLGenerator
from xml.sax.xmlreader import AttributesImpl

XML_NAMESPACE = "urn:order-sync-connector:export:1"


class ExportFormat(StrEnum):
    CSV = "csv"
    XML = "xml"
    JSON = "json"

    @property
    def media_type(self) -> str:
        return {"csv": "text/csv; charset=utf-8", "xml": "application/xml", "json": "application/x-ndjson"}[self.value]

    @property
    def suffix(self) -> str:
        return {"csv": ".csv", "xml": ".xml", "json": ".jsonl"}[self.value]


# One CSV row per order line: the order's columns repeat on each of its lines, so a spreadsheet can filter and
# sum by either. An order without lines (rare: a fully edited-out order) still gets one row with empty line columns.
CSV_COLUMNS = (
    "order_id",
    "store",
    "platform",
    "external_id",
    "number",
    "created_at",
    "updated_at",
    "kind",
    "status",
    "fulfilment_status",
    "payment_status",
    "platform_status",
    "currency",
    "order_subtotal",
    "order_shipping_total",
    "order_tax_total",
    "order_discount_total",
    "order_total",
    "customer_name",
    "customer_email",
    "customer_phone",
    "ship_to_name",
    "ship_to_company",
    "ship_to_line1",
    "ship_to_line2",
    "ship_to_city",
    "ship_to_postcode",
    "ship_to_region",
    "ship_to_country",
    "line_number",
    "sku",
    "line_name",
    "quantity",
    "unit_price",
    "line_total",
    "locations",
)

ADDRESS_FIELDS = ("name", "company", "line1", "line2", "city", "postcode", "region", "country", "phone")


def xsd() -> str:
    """The published XML Schema of the XML export (`connector orders export --xsd`)."""
    return resources.files("connector.orders").joinpath("export.xsd").read_text(encoding="utf-8")


def write(fmt: ExportFormat, orders: Iterable[dict[str, Any]], **options: Any) -> Iterator[str]:
    """The export of `orders` in `fmt`, as text chunks. Options: CSV `delimiter` (`,` or `;`) and `bom`."""
    if fmt is ExportFormat.CSV:
        return write_csv(orders, **options)
    if fmt is ExportFormat.XML:
        return write_xml(orders, **options)
    return write_jsonl(orders)


def write_jsonl(orders: Iterable[dict[str, Any]]) -> Iterator[str]:
    for order in orders:
        yield json.dumps(order, ensure_ascii=False, separators=(",", ":")) + "\n"


def write_csv(orders: Iterable[dict[str, Any]], *, delimiter: str = ",", bom: bool = False) -> Iterator[str]:
    if delimiter not in (",", ";"):
        raise ValueError(f"delimiter must be ',' or ';', not {delimiter!r}")
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    yield ("\ufeff" if bom else "") + _drain(buffer)
    for order in orders:
        head = _csv_order_columns(order)
        lines = order["lines"] or [None]
        for number, line in enumerate(lines, start=1):
            if line is None:
                writer.writerow([*head, "", "", "", "", "", "", ""])
                continue
            locations = sorted(
                {
                    f["location"]
                    for f in order["fulfilments"]
                    if f["status"] != "cancelled" and any(fl["sku"] == line["sku"] for fl in f["lines"])
                }
            )
            writer.writerow(
                [
                    *head,
                    number,
                    line["sku"],
                    line["name"],
                    line["quantity"],
                    line["unit_price"],
                    line["total"],
                    " ".join(locations),
                ]
            )
        yield _drain(buffer)


def _csv_order_columns(order: dict[str, Any]) -> list[Any]:
    address = order["shipping_address"] or {}
    customer = order["customer"]
    return [
        order["id"],
        order["store"],
        order["platform"],
        order["external_id"],
        order["number"],
        order["created_at"],
        order["updated_at"],
        order["kind"],
        order["status"],
        order["fulfilment_status"],
        order["payment_status"],
        order["platform_status"],
        order["currency"],
        order["subtotal"],
        order["shipping_total"],
        order["tax_total"],
        order["discount_total"],
        order["total"],
        customer["name"],
        customer["email"],
        customer["phone"],
        *(address.get(key, "") for key in ADDRESS_FIELDS[:-1]),
    ]


def write_xml(orders: Iterable[dict[str, Any]], *, generated_at: datetime | None = None) -> Iterator[str]:
    buffer = io.StringIO()
    xml = XMLGenerator(buffer, encoding="utf-8", short_empty_elements=True)
    xml.startDocument()
    attrs = {"xmlns": XML_NAMESPACE, "version": "1"}
    if generated_at is not None:
        attrs["generated_at"] = generated_at.isoformat().replace("+00:00", "Z")
    _start(xml, "orders", attrs)
    yield _drain(buffer)
    for order in orders:
        _xml_order(xml, order)
        yield _drain(buffer)
    xml.endElement("orders")
    xml.endDocument()
    yield _drain(buffer) + "\n"


def _xml_order(xml: XMLGenerator, order: dict[str, Any]) -> None:
    currency = order["currency"]
    _start(
        xml,
        "order",
        {
            "id": str(order["id"]),
            "store": order["store"],
            "platform": order["platform"],
            "external_id": order["external_id"],
        },
    )
    for key in ("number", "kind", "status", "fulfilment_status", "payment_status", "platform_status"):
        _text(xml, key, order[key])
    _text(xml, "created_at", order["created_at"])
    _text(xml, "updated_at", order["updated_at"])
    _start(xml, "totals", {"currency": currency})
    for key in ("subtotal", "shipping_total", "tax_total", "discount_total", "total"):
        _text(xml, key, order[key])
    xml.endElement("totals")
    customer = order["customer"]
    _start(xml, "customer", {})
    for key in ("name", "email", "phone"):
        _text(xml, key, customer[key] or "")
    xml.endElement("customer")
    if order["shipping_address"]:
        _start(xml, "shipping_address", {})
        for key in ADDRESS_FIELDS:
            _text(xml, key, order["shipping_address"].get(key, ""))
        xml.endElement("shipping_address")
    if order["note"]:
        _text(xml, "note", order["note"])
    _start(xml, "lines", {})
    for line in order["lines"]:
        _start(xml, "line", {"sku": line["sku"]})
        _text(xml, "name", line["name"])
        _text(xml, "quantity", str(line["quantity"]))
        _text(xml, "unit_price", line["unit_price"])
        _text(xml, "total", line["total"])
        xml.endElement("line")
    xml.endElement("lines")
    _start(xml, "fulfilments", {})
    for part in order["fulfilments"]:
        _start(xml, "fulfilment", {"id": str(part["id"]), "location": part["location"], "status": part["status"]})
        for fl in part["lines"]:
            _start(xml, "line", {"sku": fl["sku"], "quantity": str(fl["quantity"])})
            xml.endElement("line")
        tracking = part["tracking"]
        if tracking:
            attrs = {k: tracking[k] for k in ("carrier", "url") if tracking.get(k)}
            _start(xml, "tracking", attrs)
            xml.characters(tracking["number"])
            xml.endElement("tracking")
        xml.endElement("fulfilment")
    xml.endElement("fulfilments")
    xml.endElement("order")


def _start(xml: XMLGenerator, name: str, attrs: dict[str, str]) -> None:
    xml.startElement(name, AttributesImpl(attrs))


def _text(xml: XMLGenerator, name: str, value: str) -> None:
    _start(xml, name, {})
    xml.characters(value)
    xml.endElement(name)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
