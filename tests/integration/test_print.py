"""Pick lists and packing slips (PDF) through the CLI and the API, read back with pypdf.

One split order (two locations), one single-location pickup order, and a shipped order that no pick list may show.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from connector.orders.model import Address, Customer, Line, Money, Order, OrderKind, PaymentStatus, Platform
from connector.orders.paper import barcode_text, latin1
from connector.orders.service import Service
from connector.runtime.config import load_config
from connector.stock import ledger
from connector.stock.order_effects import Stocker
from connector.storage.db import upgrade
from connector.storage.runtime import Runtime
from connector.sync.ingest import ingest_order
from connector.web.app import create_app
from tests.support import ADMIN_TOKEN, cli, write_config

STORE = {
    "name": "woo",
    "platform": "woocommerce",
    "base_url": "https://shop.example.com",
    "credentials": {"consumer_key": "ck_123456", "consumer_secret": "cs_123456"},
    "webhook_secret": "whsec-123456",
    "shop_name": "Fietsen & Co",
}
LOCATIONS = [
    {"name": "amsterdam", "priority": 1, "pickup": True},
    {"name": "utrecht", "priority": 2, "pickup": True},
]


def eur(x: str) -> Money:
    return Money(Decimal(x), "EUR")


def order(number: str, lines: dict[str, int], *, kind: OrderKind = OrderKind.DELIVERY, day: int = 1) -> Order:
    items = tuple(Line(sku, f"Product {sku}", q, eur("10"), eur(str(10 * q))) for sku, q in lines.items())
    total = eur(str(sum(10 * q for q in lines.values())))
    return Order(
        store="woo",
        platform=Platform.WOOCOMMERCE,
        external_id=number,
        number=number,
        kind=kind,
        payment_status=PaymentStatus.PAID,
        platform_status="processing",
        currency="EUR",
        subtotal=total,
        shipping_total=eur("0"),
        tax_total=eur("0"),
        discount_total=eur("0"),
        total=total,
        created_at=datetime(2026, 5, day, tzinfo=UTC),
        updated_at=datetime(2026, 5, day, tzinfo=UTC),
        customer=Customer("Zoë Łukasiewicz", "zoe@example.com", "+31 6 1234 5678"),
        shipping_address=Address(name="Zoë Łukasiewicz", line1="Damrak 1", city="Amsterdam", postcode="1012 LG"),
        note="Please ring twice",
        pickup_location="utrecht" if kind is OrderKind.PICKUP else "",
        lines=items,
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = write_config(tmp_path / "c.toml", f"sqlite:///{tmp_path / 'c.db'}", stores=[STORE], locations=LOCATIONS)
    runtime = Runtime.open(load_config(path))
    upgrade(runtime.engine)
    runtime.sync_stores()
    stocker = Stocker(runtime.config)
    counts = [("BIKE-1", "amsterdam", 1), ("BELL-2", "utrecht", 5), ("LAMP-3", "utrecht", 2), ("GONE-4", "utrecht", 1)]
    with runtime.sessions.begin() as session:
        ledger.import_counts(session, [ledger.Count(*c) for c in counts])
        for o in (
            order("1001", {"BIKE-1": 1, "BELL-2": 2}),  # split: the bike only in amsterdam, the bell only in utrecht
            order("1002", {"LAMP-3": 2}, kind=OrderKind.PICKUP, day=2),
            order("1003", {"GONE-4": 1}, day=3),
        ):
            stocker.on_outcome(session, ingest_order(session, runtime.store_ids["woo"], o, source="test"))
    Service(runtime).act("1003", "pack", actor="test")
    Service(runtime).act("1003", "ship", actor="test")
    runtime.close()
    return path


def pdf_text(data: bytes) -> list[str]:
    assert data.startswith(b"%PDF-")
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def test_pick_list_holds_every_open_fulfilment_by_sku_and_by_order(config: Path) -> None:
    done = cli("print", "picklist", "--location", "utrecht", "--config", str(config), cwd=config.parent)
    assert done.returncode == 0, done.stderr
    pages = pdf_text((config.parent / "picklist-utrecht.pdf").read_bytes())
    text = "\n".join(pages)
    assert "Pick list - utrecht" in text
    assert "2 orders, 4 units" in text  # 2 bells of #1001, 2 lamps of #1002; #1003 is shipped
    for expected in ("BELL-2", "LAMP-3", "1001", "1002", "2 x"):
        assert expected in text
    assert "GONE-4" not in text
    assert "1003" not in text
    assert "BIKE-1" not in text  # amsterdam's part of the split order
    assert text.index("By SKU") < text.index("By order")


def test_slip_prints_a_page_per_fulfilment_of_a_split_order(config: Path, tmp_path: Path) -> None:
    out = tmp_path / "slips.pdf"
    done = cli("print", "slip", "1001", "--out", str(out), "--config", str(config), cwd=config.parent)
    assert done.returncode == 0, done.stderr
    pages = pdf_text(out.read_bytes())
    assert len(pages) == 2
    assert {("BIKE-1" in p, "BELL-2" in p) for p in pages} == {(True, False), (False, True)}
    for page in pages:
        assert "Fietsen & Co" in page
        assert "order 1001" in page
        assert "Please ring twice" in page
        assert "Zoe Lukasiewicz" in page or "Zoë Lukasiewicz" in page  # Ł has no Latin-1 form: written as L
        assert "Damrak 1" in page
        assert "1012 LG Amsterdam" in page
    assert "part 1 of 2" in pages[0]
    assert "part 2 of 2" in pages[1]


def test_slip_for_one_location_and_a_pickup_shows_where_to_collect(config: Path) -> None:
    one = cli("print", "slip", "1001", "--location", "amsterdam", "--config", str(config), cwd=config.parent)
    assert one.returncode == 0, one.stderr
    pages = pdf_text((config.parent / "slip-1001-amsterdam.pdf").read_bytes())
    assert len(pages) == 1
    assert "BIKE-1" in pages[0]
    pickup = cli("print", "slip", "1002", "--size", "label", "--config", str(config), cwd=config.parent)
    assert pickup.returncode == 0, pickup.stderr
    reader = PdfReader(config.parent / "slip-1002.pdf")
    text = reader.pages[0].extract_text()
    assert "PICKUP at utrecht" in text
    assert "Damrak 1" not in text  # a pickup is not delivered: no address on its slip
    width, height = float(reader.pages[0].mediabox.width), float(reader.pages[0].mediabox.height)
    assert (round(width), round(height)) == (288, 432)  # 4 x 6 inch in points


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("picklist", "--location", "paris"), 2, "is not one of: amsterdam, utrecht"),
        (("slip", "1001", "--location", "paris"), 2, "is not one of: amsterdam, utrecht"),
        (("slip", "9999"), 1, "no order '9999'"),
        (("slip", "1002", "--location", "amsterdam"), 1, "has no fulfilment at amsterdam (locations: utrecht)"),
    ],
)
def test_bad_requests_name_what_is_wrong(config: Path, args: tuple[str, ...], code: int, message: str) -> None:
    result = cli("print", *args, "--config", str(config), cwd=config.parent)
    assert result.returncode == code
    assert message in result.stderr
    assert not list(config.parent.glob("*.pdf"))


def test_api_serves_the_same_pdfs_behind_the_token(config: Path) -> None:
    runtime = Runtime.open(load_config(config))
    try:
        with TestClient(create_app(runtime)) as client:
            auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
            assert client.get("/api/print/picklist", params={"location": "utrecht"}).status_code == 401
            answer = client.get("/api/print/picklist", params={"location": "utrecht"}, headers=auth)
            assert answer.status_code == 200
            assert answer.headers["content-type"] == "application/pdf"
            assert "BELL-2" in "".join(pdf_text(answer.content))
            slip = client.get("/api/orders/1001/slip", params={"location": "utrecht"}, headers=auth)
            assert slip.status_code == 200
            assert len(pdf_text(slip.content)) == 1
            assert client.get("/api/print/picklist", params={"location": "x"}, headers=auth).status_code == 422
            assert client.get("/api/orders/9999/slip", headers=auth).status_code == 404
    finally:
        runtime.close()


def test_text_outside_latin1_and_barcodes_degrade_not_fail() -> None:
    assert latin1("Zoë Łukasiewicz ✓") == "Zoë Lukasiewicz ?"
    assert barcode_text("#1001") == "1001"
    assert barcode_text("ord-00a1") == "ORD-00A1"
