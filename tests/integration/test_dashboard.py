"""The support dashboard over HTTP: login, sessions, CSRF, each page, and its actions.

The app (`create_app`) is served by uvicorn on a free port in this process and driven with an `httpx.Client`
that keeps cookies as a browser would (Starlette's TestClient warns about its httpx backend, and warnings are
errors here). Orders are put in the database the way ingest does (`ingest_order` + `Stocker`), so these tests
need no platform; the browser test (`tests/acceptance/test_dashboard_browser.py`) runs the real flow end to end.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import select
from structlog.testing import capture_logs

from connector.orders.model import Address, Customer, Line, Money, Order, OrderKind, PaymentStatus, Platform
from connector.runtime.config import validate_config
from connector.stock import ledger
from connector.stock.order_effects import Stocker
from connector.storage import tables as t
from connector.storage.db import upgrade
from connector.storage.runtime import Runtime
from connector.sync.ingest import ingest_order
from connector.web import charts
from connector.web.app import create_app
from connector.web.charts import activity_chart, duration, lag_chart
from connector.web.dashboard import safe_next
from connector.web.readmodel import Hour
from connector.web.security import SESSION_COOKIE, Guard, Signer
from tests.support import ADMIN_TOKEN, free_port

T0 = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)


@dataclass
class Shop:
    runtime: Runtime
    client: httpx.Client
    woken: list[int] = field(default_factory=list)
    made: int = 0

    def order(self, *, kind: OrderKind = OrderKind.DELIVERY, paid: bool = True, **changes: Any) -> int:
        """Store a new order as ingest would (allocated over the locations), returning its id."""
        self.made += 1
        order = _order(str(1000 + self.made), kind, paid).with_changes(**changes)
        with self.runtime.sessions.begin() as session:
            outcome = ingest_order(session, self.runtime.store_ids["bc-shop"], order, source="webhook")
            Stocker(self.runtime.config).on_outcome(session, outcome)
            assert outcome.order_id is not None
            return outcome.order_id

    def fulfilment(self, order_id: int) -> t.Fulfilment:
        with self.runtime.sessions() as session:
            row = session.get(t.Order, order_id)
            assert row is not None
            return row.fulfilments[0]

    def timeline(self, order_id: int) -> list[str]:
        with self.runtime.sessions() as session:
            query = select(t.TimelineEntry.summary).where(t.TimelineEntry.order_id == order_id)
            return list(session.scalars(query.order_by(t.TimelineEntry.id)))


def _eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


def _order(number: str, kind: OrderKind, paid: bool) -> Order:
    return Order(
        store="bc-shop",
        platform=Platform.BIGCOMMERCE,
        external_id=number,
        number=number,
        kind=kind,
        payment_status=PaymentStatus.PAID if paid else PaymentStatus.UNPAID,
        platform_status="Awaiting Fulfillment",
        currency="EUR",
        subtotal=_eur("25.00"),
        shipping_total=_eur("0"),
        tax_total=_eur("0"),
        discount_total=_eur("0"),
        total=_eur("25.00"),
        created_at=T0,
        updated_at=T0,
        lines=(Line("MUG-1", "Stoneware mug", 2, _eur("12.50"), _eur("25.00")),),
        customer=Customer("Ada Lovelace", "ada@example.com"),
        note="Leave at the back door",
        shipping_address=Address(
            name="Ada Lovelace", line1="Keizersgracht 1", city="Amsterdam", postcode="1015 CJ", country="NL"
        ),
        pickup_location="utrecht" if kind is OrderKind.PICKUP else "",
    )


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Shop]:
    config = validate_config(
        {
            "daemon": {"admin_token": ADMIN_TOKEN, "database_url": f"sqlite:///{tmp_path / 'c.db'}"},
            "locations": [
                {"name": "amsterdam", "priority": 1, "pickup": True},
                {"name": "utrecht", "priority": 2, "pickup": True},
            ],
            "stores": [
                {
                    "name": "bc-shop",
                    "platform": "bigcommerce",
                    "base_url": "https://bc.example",
                    "credentials": {"access_token": "bc-token"},
                }
            ],
        },
        env={},
    )
    runtime = Runtime.open(config)
    upgrade(runtime.engine)
    runtime.sync_stores()
    with runtime.sessions.begin() as session:
        counts = [ledger.Count("MUG-1", "amsterdam", 20), ledger.Count("MUG-1", "utrecht", 20)]
        ledger.import_counts(session, counts, batch="start")
    woken: list[int] = []
    app = create_app(runtime, on_action=lambda: woken.append(1))
    try:
        with _serving(app) as url, httpx.Client(base_url=url, timeout=10, follow_redirects=True) as client:
            yield Shop(runtime, client, woken)
    finally:
        runtime.close()


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:
        """The test process keeps its own signal handlers."""


@contextmanager
def _serving(app: Any) -> Iterator[str]:
    port = free_port()
    server = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, name="dashboard-under-test", daemon=True)
    thread.start()
    try:
        while not server.started:
            assert thread.is_alive(), "the server did not start"
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def login(client: httpx.Client, token: str = ADMIN_TOKEN, next_url: str = "/") -> httpx.Response:
    form = client.get(f"/login?next={next_url}")
    return client.post(
        "/login", data={"token": token, "csrf_token": hidden(form.text), "next": next_url}, follow_redirects=False
    )


def hidden(html: str, name: str = "csrf_token") -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no {name} field on the page"
    return match.group(1)


def visit_with(shop: Shop, session_cookie: str) -> httpx.Response:
    """`GET /` carrying this session cookie and nothing else."""
    headers = {"Cookie": f"{SESSION_COOKIE}={session_cookie}"}
    return httpx.get(f"{shop.client.base_url}/", headers=headers, follow_redirects=False, timeout=10)


def post(client: httpx.Client, url: str, page: str, **fields: str) -> httpx.Response:
    """Post a form the way the page would: with the CSRF token the page carries."""
    return client.post(url, data={"csrf_token": hidden(page), **fields}, follow_redirects=False)


# --- login and sessions ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/", "/queue?location=utrecht", "/orders/1", "/dead", "/logout"])
def test_pages_send_a_stranger_to_the_login_page(shop: Shop, path: str) -> None:
    answer = shop.client.get(path, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login")
    if path != "/logout":
        assert shop.client.get(answer.headers["location"]).text.count(f'value="{path}"') == 1


def test_login_sets_a_signed_httponly_strict_session_cookie_and_returns_to_the_page(shop: Shop) -> None:
    answer = login(shop.client, next_url="/dead")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/dead"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Max-Age=28800" in cookie
    assert ADMIN_TOKEN not in cookie
    assert shop.client.get("/dead").status_code == 200


def test_a_wrong_token_is_refused_without_a_session(shop: Shop) -> None:
    with capture_logs() as logs:
        answer = login(shop.client, token="not-the-admin-token")
    assert answer.status_code == 401
    assert "That is not the admin token." in answer.text
    assert SESSION_COOKIE not in shop.client.cookies
    assert "not-the-admin-token" not in answer.text
    assert [e["event"] for e in logs] == ["dashboard_login_failed"]


def test_a_login_post_without_its_csrf_token_is_refused(shop: Shop) -> None:
    answer = shop.client.post("/login", data={"token": ADMIN_TOKEN}, follow_redirects=False)
    assert answer.status_code == 403
    assert SESSION_COOKIE not in shop.client.cookies


def test_a_forged_or_expired_session_cookie_is_not_a_login(shop: Shop) -> None:
    login(shop.client)
    value = shop.client.cookies[SESSION_COOKIE]
    payload, mac = value.split(".")
    assert visit_with(shop, value).status_code == 200
    assert visit_with(shop, f"{payload}.{mac[:-2]}AA").status_code == 303
    assert visit_with(shop, f"{payload[:-2]}AA.{mac}").status_code == 303
    clock = [1_000_000.0]
    guard = Guard(ADMIN_TOKEN, secure=False, clock=lambda: clock[0])
    signed = guard.signer.sign(SESSION_COOKIE, {"sid": "s", "csrf": "c"}, 60)
    assert guard.signer.unsign(SESSION_COOKIE, signed) is not None
    assert guard.signer.unsign("connector_flash", signed) is None  # one kind of cookie cannot stand in for another
    clock[0] += 61
    assert guard.signer.unsign(SESSION_COOKIE, signed) is None
    assert Signer("another-admin-token-000").unsign(SESSION_COOKIE, signed) is None


def test_logout_ends_the_session_even_for_a_kept_copy_of_the_cookie(shop: Shop) -> None:
    login(shop.client)
    kept = shop.client.cookies[SESSION_COOKIE]
    page = shop.client.get("/logout")
    answer = post(shop.client, "/logout", page.text)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login"
    assert "Logged out." in shop.client.get("/login").text
    assert visit_with(shop, kept).status_code == 303


def test_after_login_only_local_paths_are_followed(shop: Shop) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        assert login(shop.client, next_url=target).headers["location"] == "/"
        shop.client.cookies.clear()
    assert safe_next("/queue?location=utrecht") == "/queue?location=utrecht"
    assert safe_next("/x\r\nSet-Cookie: a=b") == "/"


# --- CSRF -----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("csrf", [None, "", "wrong-token"])
def test_a_post_without_the_right_csrf_token_gets_403_and_changes_nothing(shop: Shop, csrf: str | None) -> None:
    order_id = shop.order()
    login(shop.client)
    before = shop.timeline(order_id)
    data = {"action": "pack", "location": "amsterdam"} | ({} if csrf is None else {"csrf_token": csrf})
    with capture_logs() as logs:
        answer = shop.client.post(f"/orders/{order_id}/fulfil", data=data, follow_redirects=False)
    assert answer.status_code == 403
    assert "nothing was changed" in answer.text
    assert shop.fulfilment(order_id).status == "new"
    assert shop.timeline(order_id) == before
    assert shop.woken == []
    assert any(e["event"] == "dashboard_post_refused" and e["reason"] == "csrf" for e in logs)


def test_a_post_without_a_session_changes_nothing(shop: Shop) -> None:
    order_id = shop.order()
    answer = shop.client.post(
        f"/orders/{order_id}/fulfil", data={"action": "pack", "csrf_token": "x"}, follow_redirects=False
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login"
    assert shop.fulfilment(order_id).status == "new"


def test_the_csrf_token_belongs_to_one_session(shop: Shop) -> None:
    order_id = shop.order()
    login(shop.client)
    old_page = shop.client.get("/queue?location=amsterdam").text
    shop.client.cookies.clear()
    login(shop.client)
    answer = post(shop.client, f"/orders/{order_id}/fulfil", old_page, action="pack", location="amsterdam")
    assert answer.status_code == 403
    assert shop.fulfilment(order_id).status == "new"


# --- pages ----------------------------------------------------------------------------------------------------------
def test_the_overview_shows_each_store_the_queues_and_the_charts(shop: Shop) -> None:
    order_id = shop.order()
    login(shop.client)
    page = shop.client.get("/")
    assert page.status_code == 200
    assert "bc-shop" in page.text
    assert "bigcommerce" in page.text
    assert "never" in page.text  # not polled yet
    assert '<span class="badge badge-unhealthy">unhealthy</span>' in page.text  # no daemon holds the store here
    assert "daemon not running" in page.text
    assert page.text.count("<svg viewBox") == 2
    assert "bc-shop: 1 order</title>" in page.text
    assert 'href="/queue?location=amsterdam"' in page.text
    assert f'href="/orders/{order_id}"' in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"


def test_the_queue_lists_open_fulfilments_newest_first_with_the_pos_columns(shop: Shop) -> None:
    older = shop.order(created_at=T0 - timedelta(hours=2), updated_at=T0 - timedelta(hours=2))
    newer = shop.order()
    login(shop.client)
    page = shop.client.get("/queue?location=amsterdam").text
    for column in ("Receipt", "Status", "Type", "Customer", "Items", "Sale note", "Assigned", "Payment"):
        assert f">{column}</th>" in page
    assert page.index(f'id="fulfilment-{shop.fulfilment(newer).id}"') < page.index(
        f'id="fulfilment-{shop.fulfilment(older).id}"'
    )
    assert "2026-05-01 09:30:00" in page
    assert "Ada Lovelace" in page
    assert "Stoneware mug" in page
    assert '<span class="qty">2 \N{MULTIPLICATION SIGN}</span>' in page
    assert "Leave at the back door" in page
    assert "Keizersgracht 1" in page
    assert "Mark packed" in page
    assert "Nothing to fulfil at utrecht." in shop.client.get("/queue?location=utrecht").text
    assert shop.client.get("/queue?location=nowhere").status_code == 404


def test_the_order_page_shows_lines_fulfilments_and_the_timeline(shop: Shop) -> None:
    order_id = shop.order()
    login(shop.client)
    page = shop.client.get(f"/orders/{order_id}")
    assert page.status_code == 200
    assert "Order 1001" in page.text
    assert "MUG-1" in page.text
    assert "amsterdam" in page.text
    assert "created from webhook" in page.text
    for column in ("Time (UTC)", "Kind", "Summary", "Actor"):
        assert f">{column}</th>" in page.text
    assert shop.client.get("/orders/424242").status_code == 404


def test_find_an_order_by_its_number(shop: Shop) -> None:
    order_id = shop.order()
    login(shop.client)
    answer = shop.client.get("/orders?q=%231001", follow_redirects=False)
    assert answer.headers["location"] == f"/orders/{order_id}"
    missing = shop.client.get("/orders?q=nope")
    assert "No order &#39;nope&#39;." in missing.text


def test_everything_shown_is_escaped(shop: Shop) -> None:
    order_id = shop.order(customer=Customer('<script>alert("x")</script>', ""), note="<b>bold</b>")
    login(shop.client)
    for path in ("/queue?location=amsterdam", f"/orders/{order_id}"):
        page = shop.client.get(path).text
        assert "<script>" not in page
        assert "&lt;script&gt;" in page
        assert "<b>bold</b>" not in page


def test_the_stylesheet_is_served_from_the_package(shop: Shop) -> None:
    css = shop.client.get("/static/dashboard.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert shop.client.get("/static/../app.py").status_code == 404
    assert shop.client.get("/static/nothing.css").status_code == 404


# --- actions --------------------------------------------------------------------------------------------------------
def test_pack_and_ship_from_the_queue_write_the_timeline_and_wake_the_outbox(shop: Shop) -> None:
    order_id = shop.order()
    login(shop.client)
    queue = shop.client.get("/queue?location=amsterdam").text
    packed = post(
        shop.client,
        f"/orders/{order_id}/fulfil",
        queue,
        action="pack",
        location="amsterdam",
        back="/queue?location=amsterdam",
    )
    assert packed.status_code == 303
    assert packed.headers["location"] == "/queue?location=amsterdam"
    queue = shop.client.get("/queue?location=amsterdam").text
    assert "Order 1001 at amsterdam: marked packed." in queue
    assert "Mark shipped" in queue
    shipped = post(
        shop.client,
        f"/orders/{order_id}/fulfil",
        queue,
        action="ship",
        location="amsterdam",
        tracking="3SABC123",
        carrier="PostNL",
        back="/queue?location=amsterdam",
    )
    assert shipped.status_code == 303
    queue = shop.client.get("/queue?location=amsterdam").text
    assert "marked shipped" in queue
    assert "Nothing to fulfil at amsterdam." in queue  # shipped: gone from the list, kept in history
    fulfilment = shop.fulfilment(order_id)
    assert (fulfilment.status, fulfilment.tracking_number, fulfilment.tracking_carrier) == (
        "shipped",
        "3SABC123",
        "PostNL",
    )
    page = shop.client.get(f"/orders/{order_id}").text
    assert "amsterdam: packed -&gt; shipped (tracking PostNL 3SABC123)" in page
    assert "queued set_status -&gt; 10 (order)" in page
    assert "<td>dashboard</td>" in page
    assert shop.woken == [1, 1]


def test_a_refused_action_is_shown_as_a_message_and_a_payment_unlocks_it(shop: Shop) -> None:
    order_id = shop.order(paid=False)
    login(shop.client)
    page = shop.client.get(f"/orders/{order_id}").text
    post(
        shop.client, f"/orders/{order_id}/fulfil", page, action="pack", location="amsterdam", back=f"/orders/{order_id}"
    )
    page = shop.client.get(f"/orders/{order_id}").text
    post(
        shop.client,
        f"/orders/{order_id}/fulfil",
        page,
        action="ship",
        location="amsterdam",
        tracking="T1",
        back=f"/orders/{order_id}",
    )
    page = shop.client.get(f"/orders/{order_id}").text
    assert 'class="flash flash-error" role="alert"' in page
    assert "record a payment first" in page
    assert shop.fulfilment(order_id).status == "packed"
    assert 'value="25.00"' in page  # the amount still to pay
    post(shop.client, f"/orders/{order_id}/pay", page, amount="25.00", method="cash", back=f"/orders/{order_id}")
    page = shop.client.get(f"/orders/{order_id}").text
    assert "Payment of 25.00 EUR recorded for order 1001." in page
    assert "Record payment" not in page
    post(
        shop.client,
        f"/orders/{order_id}/fulfil",
        page,
        action="ship",
        location="amsterdam",
        tracking="T1",
        back=f"/orders/{order_id}",
    )
    assert shop.fulfilment(order_id).status == "shipped"


def test_a_pickup_order_is_paid_packed_and_picked_up(shop: Shop) -> None:
    order_id = shop.order(kind=OrderKind.PICKUP, paid=False)
    login(shop.client)
    back = "/queue?location=utrecht"
    page = shop.client.get(back).text
    assert "Mark shipped" not in page
    post(shop.client, f"/orders/{order_id}/fulfil", page, action="pack", location="utrecht", back=back)
    page = shop.client.get(back).text
    assert "must be fully paid before it is packed" in page
    post(shop.client, f"/orders/{order_id}/pay", page, amount="25", method="card", back=back)
    post(shop.client, f"/orders/{order_id}/fulfil", page, action="start", location="utrecht", back=back)
    page = shop.client.get(back).text
    assert ">in progress</span>" in page
    post(shop.client, f"/orders/{order_id}/fulfil", page, action="pack", location="utrecht", back=back)
    page = shop.client.get(back).text
    assert "Mark picked up" in page
    post(shop.client, f"/orders/{order_id}/fulfil", page, action="pickup", location="utrecht", back=back)
    assert shop.fulfilment(order_id).status == "picked_up"
    assert "Order 1001 at utrecht: marked picked up." in shop.client.get(back).text


def test_a_reservation_is_confirmed_from_the_queue(shop: Shop) -> None:
    order_id = shop.order(kind=OrderKind.RESERVATION)
    back = f"/queue?location={shop.fulfilment(order_id).location}"
    login(shop.client)
    page = shop.client.get(back).text
    assert "Confirm reservation" in page
    assert "Mark packed" not in page
    post(shop.client, f"/orders/{order_id}/confirm", page, back=back)
    page = shop.client.get(back).text
    assert "Reservation 1001 confirmed: its stock is allocated, it is now a pickup order." in page
    assert "Mark packed" in page
    with shop.runtime.sessions() as session:
        row = session.get(t.Order, order_id)
        assert row is not None
        assert row.kind == "pickup"


def test_a_fulfilment_is_assigned_and_unassigned_from_the_queue(shop: Shop) -> None:
    order_id = shop.order()
    uid = shop.fulfilment(order_id).id
    back = "/queue?location=amsterdam"
    login(shop.client)
    page = shop.client.get(back).text
    assert f'action="/orders/{order_id}/assign"' in page
    assert f'id="user-{uid}"' in page
    post(shop.client, f"/orders/{order_id}/fulfil", page, action="pack", location="amsterdam", back=back)
    assert shop.fulfilment(order_id).assigned_user is None  # packing from the dashboard invents nobody
    answer = post(shop.client, f"/orders/{order_id}/assign", page, location="amsterdam", user="<Ann>", back=back)
    assert answer.status_code == 303
    assert answer.headers["location"] == back
    page = shop.client.get(back).text
    assert "Order 1001 at amsterdam: assigned to &lt;Ann&gt;." in page
    assert '<span class="assigned-user">&lt;Ann&gt;</span>' in page
    assert "Unassign" in page
    assert shop.fulfilment(order_id).assigned_user == "<Ann>"
    order_page = shop.client.get(f"/orders/{order_id}").text
    assert ">Assigned</th>" in order_page
    assert re.search(r"<td>amsterdam: assigned to &lt;Ann&gt;</td>\s*<td>dashboard</td>", order_page)
    post(shop.client, f"/orders/{order_id}/assign", order_page, location="amsterdam", user="", back=back)
    page = shop.client.get(back).text
    assert "Order 1001 at amsterdam: unassigned." in page
    assert '<span class="assigned-user">—</span>' in page
    assert shop.fulfilment(order_id).assigned_user is None
    post(shop.client, f"/orders/{order_id}/assign", page, location="utrecht", user="Ann", back=back)
    assert "order 1001 has no fulfilment at &#39;utrecht&#39;" in shop.client.get(back).text
    assert shop.woken == [1, 1, 1]  # the refused one wakes nothing


@pytest.mark.parametrize("csrf", [None, "", "wrong-token"])
def test_an_assignment_without_the_right_csrf_token_is_refused(shop: Shop, csrf: str | None) -> None:
    order_id = shop.order()
    login(shop.client)
    before = shop.timeline(order_id)
    data = {"location": "amsterdam", "user": "Mallory"} | ({} if csrf is None else {"csrf_token": csrf})
    answer = shop.client.post(f"/orders/{order_id}/assign", data=data, follow_redirects=False)
    assert answer.status_code == 403
    assert shop.fulfilment(order_id).assigned_user is None
    assert shop.timeline(order_id) == before
    shop.client.cookies.clear()
    stranger = shop.client.post(f"/orders/{order_id}/assign", data=data, follow_redirects=False)
    assert (stranger.status_code, stranger.headers["location"]) == (303, "/login")
    assert shop.fulfilment(order_id).assigned_user is None


def test_dashboard_actions_name_the_dashboard_on_the_write_backs_they_queue(shop: Shop) -> None:
    order_id = shop.order()
    login(shop.client)
    page = shop.client.get("/queue?location=amsterdam").text
    post(shop.client, f"/orders/{order_id}/fulfil", page, action="pack", location="amsterdam", back="/queue")
    order_page = shop.client.get(f"/orders/{order_id}").text
    assert re.search(r"<td>queued set_status -&gt; 9 \(order\)</td>\s*<td>dashboard</td>", order_page)


def test_a_carrier_without_a_tracking_number_is_refused(shop: Shop) -> None:
    order_id = shop.order()
    login(shop.client)
    page = shop.client.get("/queue").text
    post(shop.client, f"/orders/{order_id}/fulfil", page, action="pack", location="amsterdam", back="/queue")
    post(
        shop.client,
        f"/orders/{order_id}/fulfil",
        page,
        action="ship",
        location="amsterdam",
        carrier="DHL",
        back="/queue",
    )
    assert "a carrier was given without a tracking number" in shop.client.get("/queue").text
    assert shop.fulfilment(order_id).status == "packed"


def test_a_dead_letter_is_listed_and_replayed(shop: Shop) -> None:
    with shop.runtime.sessions.begin() as session:
        item = t.InboxItem(
            store_id=shop.runtime.store_ids["bc-shop"],
            delivery_id="d-1",
            source="webhook",
            topic="store/order/created",
            body=b"{}",
            status="dead",
            attempts=3,
            error="cannot map: no lines",
            external_id="77",
        )
        session.add(item)
        session.flush()
        item_id = item.id
    login(shop.client)
    page = shop.client.get("/dead").text
    assert "cannot map: no lines" in page
    assert ">Replay</button>" in page
    answer = post(shop.client, f"/dead/{item_id}/replay", page)
    assert answer.headers["location"] == "/dead"
    assert f"Delivery {item_id} queued again." in shop.client.get("/dead").text
    with shop.runtime.sessions() as session:
        replayed = session.get(t.InboxItem, item_id)
        assert replayed is not None
        assert replayed.status == "pending"
    assert shop.woken == [1]
    post(shop.client, "/dead/999999/replay", page)
    assert "no delivery 999999" in shop.client.get("/dead").text


def test_a_failed_write_back_is_listed_and_retried(shop: Shop) -> None:
    order_id = shop.order()
    with shop.runtime.sessions.begin() as session:
        item = t.OutboxItem(
            store_id=shop.runtime.store_ids["bc-shop"],
            order_id=order_id,
            action="set_status",
            target_state="10",
            idempotency_key="k-1",
            status="failed",
            attempts=8,
            last_error="502 from the platform",
        )
        session.add(item)
        session.flush()
        item_id = item.id
    login(shop.client)
    page = shop.client.get("/dead").text
    assert "set_status → 10" in page
    assert "502 from the platform" in page
    post(shop.client, f"/outbox/{item_id}/retry", page)
    assert f"Write-back {item_id} queued again." in shop.client.get("/dead").text
    with shop.runtime.sessions() as session:
        retried = session.get(t.OutboxItem, item_id)
        assert retried is not None
        assert (retried.status, retried.attempts) == ("pending", 0)
    assert shop.woken == [1]


def test_no_secret_reaches_a_page_or_a_log(shop: Shop) -> None:
    order_id = shop.order()
    pages = []
    with capture_logs() as logs:
        login(shop.client)
        session_cookie = shop.client.cookies[SESSION_COOKIE]
        for path in ("/", "/queue", f"/orders/{order_id}", "/dead", "/logout", "/login"):
            pages.append(shop.client.get(path).text)
        post(shop.client, f"/orders/{order_id}/fulfil", pages[1], action="pack", location="amsterdam")
    for text in [*pages, repr(logs)]:
        assert ADMIN_TOKEN not in text
        assert session_cookie not in text
        assert "bc-token" not in text
    assert shop.fulfilment(order_id).status == "packed"


# --- charts ---------------------------------------------------------------------------------------------------------
def test_the_activity_chart_stacks_stores_per_hour_and_draws_the_delay() -> None:
    start = datetime(2026, 5, 1, tzinfo=UTC)
    hours = [Hour(start + timedelta(hours=n), {}, None) for n in range(24)]
    hours[5] = Hour(hours[5].start, {"a": 3, "b": 1}, 30.0)
    hours[6] = Hour(hours[6].start, {"a": 1}, 120.0)
    chart = activity_chart(hours, ["a", "b"])
    assert [r.title for r in chart.rects] == [
        "05:00 UTC, a: 3 orders",
        "05:00 UTC, b: 1 order",
        "06:00 UTC, a: 1 order",
    ]
    first, second = chart.rects[0], chart.rects[1]
    assert first.height == pytest.approx(3 * second.height)
    assert second.y + second.height == pytest.approx(first.y)  # stacked
    plot_h = charts.HEIGHT - charts.TOP - charts.BOTTOM
    delay_axis = 120  # seconds: the round maximum at or above the longest delay
    assert [y for _, y in chart.line] == pytest.approx([charts.TOP + plot_h * (1 - d / delay_axis) for d in (30, 120)])
    assert {label.text for label in chart.labels} >= {"0", "2", "4", "0 s", "1 min", "2 min"}
    assert "5 orders synced" in chart.description
    assert activity_chart([Hour(start, {}, None)], []).description == "No orders were synced in the last 24 hours."


def test_the_lag_chart_marks_unhealthy_stores() -> None:
    stores = [
        {"store": "a", "health": "healthy", "last_success_age_s": 30},
        {"store": "b", "health": "unhealthy", "last_success_age_s": 600},
        {"store": "c", "health": "healthy", "last_success_age_s": None},
        {"store": "d", "health": "degraded", "last_success_age_s": 60},  # polls fine: not red
    ]
    chart = lag_chart(stores)
    assert [r.fill for r in chart.rects] == ["#16a34a", "#dc2626", "#16a34a"]
    assert chart.description == "a: 30 s; b: 10 min; c: never polled; d: 1 min"
    assert (duration(42), duration(7200), duration(90)) == ("42 s", "2 h", "1.5 min")


def test_the_queue_shows_the_orders_waiting_for_stock_oldest_first(shop: Shop) -> None:
    none_in_stock = (Line("MUG-9", "Enamel mug", 3, _eur("5.00"), _eur("15.00")),)
    newer = shop.order(lines=none_in_stock)
    older = shop.order(lines=none_in_stock, created_at=T0 - timedelta(hours=1), updated_at=T0 - timedelta(hours=1))
    pickup = shop.order(lines=none_in_stock, kind=OrderKind.PICKUP)  # waits at utrecht, its pickup shop
    login(shop.client)
    page = shop.client.get("/queue?location=amsterdam").text
    waiting = page[page.index('<h2 id="back-ordered">') :]
    assert 'Back-ordered <span class="count">2</span>' in waiting
    assert waiting.index(f'href="/orders/{older}"') < waiting.index(f'href="/orders/{newer}"')
    assert f'href="/orders/{pickup}"' not in waiting
    assert '<span class="qty">3 \N{MULTIPLICATION SIGN}</span> Enamel mug' in waiting
    assert "any location" in waiting
    at_utrecht = shop.client.get("/queue?location=utrecht").text
    assert f'href="/orders/{pickup}"' in at_utrecht[at_utrecht.index('<h2 id="back-ordered">') :]
