"""The export writers on hand-made orders: escaping, empty orders, options, and streaming chunk by chunk."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import xmlschema

from connector.orders.export import CSV_COLUMNS, ExportFormat, write, write_csv, write_xml, xsd
from connector.orders.model import (
    Address,
    Customer,
    Fulfilment,
    FulfilmentLine,
    FulfilmentStatus,
    Line,
    Money,
    Order,
    OrderKind,
    PaymentStatus,
    Platform,
    Tracking,
    order_json,
)


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


def make(n: int, *, lines: int = 2, name: str = "Ann", note: str = "") -> dict[str, Any]:
    items = tuple(
        Line(f"SKU-{i}", f"Mug, blue; {i}", i + 1, eur("9.95"), eur(f"{9.95 * (i + 1):.2f}")) for i in range(lines)
    )
    order = Order(
        id=n,
        store="ams",
        platform=Platform.SHOPIFY,
        external_id=str(1000 + n),
        number=f"#{1000 + n}",
        kind=OrderKind.DELIVERY,
        payment_status=PaymentStatus.PAID,
        platform_status="paid",
        currency="EUR",
        subtotal=eur("29.85"),
        shipping_total=eur("4.95"),
        tax_total=eur("0"),
        discount_total=eur("0.10"),
        total=eur("34.70"),
        created_at=datetime(2026, 5, 1, tzinfo=UTC),
        updated_at=datetime(2026, 5, 2, tzinfo=UTC),
        customer=Customer(name, "ann@example.com", ""),
        shipping_address=Address(name=name, line1="Damrak 1", city="Amsterdam", postcode="1012 LG", country="NL"),
        note=note,
        lines=items,
        fulfilments=(
            Fulfilment(
                "amsterdam",
                FulfilmentStatus.SHIPPED,
                (FulfilmentLine("SKU-0", 1),),
                Tracking("3S123", "PostNL", "https://t.example/3S123"),
                id=n * 10,
            ),
        ),
    )
    return order_json(order)


def test_xml_escapes_markup_and_validates() -> None:
    orders = [make(1, name='Jo <"&"> Smith', note="ring twice & leave at <door>"), make(2, lines=0)]
    text = "".join(write_xml(orders, generated_at=datetime(2026, 5, 3, tzinfo=UTC)))
    schema = xmlschema.XMLSchema(xsd())
    schema.validate(text)
    data = schema.to_dict(text)
    first = data["order"][0]
    assert first["customer"]["name"] == 'Jo <"&"> Smith'
    assert first["note"] == "ring twice & leave at <door>"
    assert first["totals"]["discount_total"] == Decimal("0.10")
    assert first["fulfilments"]["fulfilment"][0]["tracking"]["$"] == "3S123"
    assert data["@generated_at"] == "2026-05-03T00:00:00Z"


def test_xml_that_breaks_the_schema_is_caught_by_it() -> None:
    order = make(1)
    order["kind"] = "teleport"
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        xmlschema.XMLSchema(xsd()).validate("".join(write_xml([order])))


def test_csv_quotes_delimiters_and_keeps_an_order_without_lines() -> None:
    text = "".join(write_csv([make(1), make(2, lines=0)], delimiter=";"))
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert tuple(rows[0]) == CSV_COLUMNS
    body = [dict(zip(CSV_COLUMNS, row, strict=True)) for row in rows[1:]]
    assert [(r["order_id"], r["sku"]) for r in body] == [("1", "SKU-0"), ("1", "SKU-1"), ("2", "")]
    assert body[0]["line_name"] == "Mug, blue; 0"
    assert body[0]["locations"] == "amsterdam"
    assert body[1]["locations"] == ""  # SKU-1 is in no fulfilment yet
    assert body[2]["order_total"] == "34.70"


def test_csv_refuses_another_delimiter() -> None:
    with pytest.raises(ValueError, match="delimiter"):
        list(write_csv([], delimiter="\t"))


def test_writers_stream_one_chunk_per_order() -> None:
    seen: list[int] = []

    def source() -> Any:
        for n in range(1, 4):
            seen.append(n)
            yield make(n)

    chunks = write(ExportFormat.JSON, source())
    assert json.loads(next(chunks))["id"] == 1
    assert seen == [1]  # nothing read ahead of what was written
    assert [json.loads(c)["id"] for c in chunks] == [2, 3]
