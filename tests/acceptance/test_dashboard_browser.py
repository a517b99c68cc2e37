"""The dashboard in a real browser: headless Chromium, driven by Playwright, against the four sandboxes + daemon.

A support engineer logs in, sees the stores, prints the location's pick list, packs, assigns and ships a BigCommerce
order from the fulfilment queue of its location, finds the status written back to the platform on the order's
timeline, and prints the order's packing slip.

The browser is the system Chromium (Debian's `chromium` package; `scripts/check` installs it): Playwright never
downloads one here. Without it this test fails, saying so: it is not skipped. Screenshots go to `tmp_path`, or
to `DASHBOARD_SCREENSHOTS` when that names a folder.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from pypdf import PdfReader

from connector.orders.model import Platform
from tests.acceptance.harness import Stack, running_stack, wait_for
from tests.support import ADMIN_TOKEN

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SKU = "DASH-0001"
TRACKING = "3SDASH000123"
WRITTEN = "set_status -> 10 (order): written"  # BigCommerce took status 10, Completed
# No kept-alive connections: an idle one that a sandbox closes is dropped by the pool unclosed (ResourceWarning).
ONE_SHOT = httpx.Limits(max_keepalive_connections=0)


def chromium() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).is_file():
        pytest.fail(
            "Chromium is not installed: the dashboard's browser test drives the system Chromium "
            "(install it with `apt-get install -y chromium`, as scripts/check does)",
            pytrace=False,
        )
    return path


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("DASHBOARD_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def api(stack: Stack, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    return stack.http.request(method, f"{stack.url}/api{path}", headers=headers, **kwargs)


def arrived(stack: Stack, external_id: str) -> dict[str, Any] | None:
    """The order as the connector's API shows it, once it is stored and allocated."""
    answer = api(stack, "GET", f"/orders/{stack.store(Platform.BIGCOMMERCE)}:{external_id}")
    if answer.status_code != 200 or not answer.json()["fulfilments"]:
        return None
    order: dict[str, Any] = answer.json()
    return order


def new_bigcommerce_order(stack: Stack) -> dict[str, Any]:
    """A paid delivery order created on the BigCommerce sandbox, as the connector has it after ingest."""
    stock = {"counts": [{"sku": SKU, "location": "utrecht", "on_hand": 5}], "batch": "dashboard-browser-test"}
    api(stack, "PUT", "/stock", json=stock).raise_for_status()
    created = stack.create_order(
        Platform.BIGCOMMERCE,
        {
            "lines": [{"sku": SKU, "quantity": 2, "price": "14.50"}],
            "kind": "delivery",
            "paid": True,
            "customer": {"name": "Grace Hopper", "email": "grace@example.com"},
        },
    )
    external_id = str(created.get("order", created)["id"])
    return wait_for(lambda: arrived(stack, external_id), timeout=30, what=f"BigCommerce order {external_id}")


def log_in(page: Page, url: str) -> None:
    page.goto(f"{url}/")
    expect(page).to_have_url(f"{url}/login?next=/")
    page.get_by_label("Admin token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Stores", exact=True)).to_be_visible()


def timeline_once_written(page: Page) -> str | None:
    """The order page's timeline after a reload, once it shows that the platform took the shipped status."""
    page.reload()
    text: str = page.locator("table.timeline").inner_text()
    return text if WRITTEN in text else None


def printed(page: Page, button: str, folder: Path) -> str:
    """Click a print button; the download must be a PDF. Returns its text as pypdf reads it."""
    with page.expect_download() as event:
        page.get_by_role("link", name=button).click()
    path = folder / event.value.suggested_filename
    event.value.save_as(path)
    assert path.read_bytes().startswith(b"%PDF-")
    return "\n".join(p.extract_text() for p in PdfReader(path).pages)


def test_support_packs_and_ships_an_order_from_the_queue_and_sees_the_write(
    tmp_path: Path, browser: Browser, shots: Path
) -> None:
    database = f"sqlite:///{tmp_path / 'connector.db'}"
    with running_stack(tmp_path, database) as stack, httpx.Client(timeout=30, limits=ONE_SHOT) as http:
        stack.http.close()
        stack.http = http
        order = new_bigcommerce_order(stack)
        fulfilment = order["fulfilments"][0]
        location = fulfilment["location"]
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        log_in(page, stack.url)
        for platform in Platform:
            expect(page.get_by_role("rowheader", name=stack.store(platform), exact=True)).to_be_visible()
        page.screenshot(path=shots / "1-stores.png", full_page=True)

        page.get_by_role("link", name=location, exact=True).first.click()
        expect(page.get_by_role("heading", name=f"Fulfilment queue: {location}")).to_be_visible()
        row = page.locator(f"#fulfilment-{fulfilment['id']}")
        expect(row).to_contain_text("Grace Hopper")
        expect(row).to_contain_text(SKU)
        picklist = printed(page, "Print pick list", tmp_path)
        assert f"Pick list - {location}" in picklist
        assert SKU in picklist
        assert order["number"] in picklist
        row.get_by_role("button", name="Mark packed").click()
        expect(page.get_by_role("status")).to_contain_text(f"Order {order['number']} at {location}: marked packed.")
        row.get_by_label("Assign to").fill("Ann")
        row.get_by_role("button", name="Assign", exact=True).click()
        expect(page.get_by_role("status")).to_contain_text(f"Order {order['number']} at {location}: assigned to Ann.")
        expect(row.locator(".assigned-user")).to_have_text("Ann")
        row.get_by_label("Tracking number").fill(TRACKING)
        row.get_by_label("Carrier").fill("PostNL")
        page.screenshot(path=shots / "2-queue-packed.png", full_page=True)
        row.get_by_role("button", name="Mark shipped").click()
        expect(page.get_by_role("status")).to_contain_text("marked shipped")
        expect(row).to_have_count(0)  # done: gone from the list, kept in history

        page.get_by_label("Find an order").fill(f"{stack.store(Platform.BIGCOMMERCE)}:{order['external_id']}")
        page.get_by_role("button", name="Find").click()
        expect(page.get_by_role("heading", name=f"Order {order['number']}")).to_be_visible()
        text = wait_for(lambda: timeline_once_written(page), timeout=30, every=0.5, what=WRITTEN)
        assert f"{location}: packed -> shipped (tracking PostNL {TRACKING})" in text
        assert f"{location}: assigned to Ann" in text
        assert "queued set_status -> 10 (order)" in text
        assert text.index("queued set_status -> 10 (order)") < text.index(WRITTEN)
        page.screenshot(path=shots / "3-order-timeline.png", full_page=True)
        slip = printed(page, "Print packing slips", tmp_path)
        assert f"order {order['number']}" in slip
        assert "Grace Hopper" in slip
        assert SKU in slip
        assert stack.view(Platform.BIGCOMMERCE, order["external_id"])["order"]["status_id"] == 10
