"""Store health for `status`: the daemon's heartbeat, silent webhooks while polls find new orders, failed
write-backs and dead letters (degraded), poll errors (unhealthy). Every check gets its `now` handed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from connector.runtime.config import validate_config
from connector.storage import tables as t
from connector.storage.inbox import delivery_values, keep_deliveries
from connector.storage.leases import renew_lease
from connector.storage.types import InboxStatus
from connector.sync.status import overview, store_status

CONFIG = validate_config(
    {
        "daemon": {"admin_token": "x" * 20},
        "stores": [
            {
                "name": "s",
                "platform": "bigcommerce",
                "base_url": "https://x.example",
                "credentials": {"access_token": "t"},
            }
        ],
    },
    env={},
)
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
TTL = CONFIG.daemon.lease_ttl


def daemon_beats(session: Session, at: datetime = NOW) -> None:
    """What the daemon's lease job does every third of a TTL: its own lease and each store's."""
    renew_lease(session, "daemon:host:1", "host:1", TTL, now=at)
    renew_lease(session, "store:s", "host:1", TTL, now=at)


def order_found_by(session: Session, store_id: int, actor: str, n: int) -> None:
    row = t.Order(
        store_id=store_id, external_id=str(n), number=str(n), kind="delivery", status="open", payment_status="paid",
        platform_status="11", currency="EUR", subtotal=Decimal(1), shipping_total=Decimal(0), tax_total=Decimal(0),
        discount_total=Decimal(0), total=Decimal(1), platform_created_at=NOW - timedelta(minutes=5),
        platform_updated_at=NOW - timedelta(minutes=5), payload_hash="h",
    )  # fmt: skip
    session.add(row)
    session.flush()
    session.add(t.TimelineEntry(order_id=row.id, kind="inbound", summary="created", details={}, actor=actor, at=NOW))


def test_a_store_with_nothing_yet_is_healthy_while_the_daemon_runs(session: Session) -> None:
    daemon_beats(session)
    [status] = store_status(session, CONFIG, now=NOW)
    assert (status["health"], status["healthy"], status["problems"]) == ("healthy", True, [])
    assert status["webhooks"]["silent"] is False


def test_polls_finding_new_orders_while_webhooks_are_silent_is_unhealthy(session: Session) -> None:
    store = t.Store(name="s", platform="bigcommerce")
    session.add(store)
    session.flush()
    daemon_beats(session)
    order_found_by(session, store.id, "poll", 1)
    [status] = store_status(session, CONFIG, now=NOW)
    assert (status["health"], status["healthy"]) == ("degraded", False)
    assert any("webhooks silent" in p for p in status["problems"])
    delivery = delivery_values(store_id=store.id, delivery_id="d1", source="webhook", topic="store/order/created",
                               headers={}, body=b"{}")  # fmt: skip
    keep_deliveries(session, [delivery])
    [status] = store_status(session, CONFIG, now=NOW + timedelta(seconds=1))
    assert status["healthy"], status["problems"]
    assert status["webhooks"]["last_hour"] == 1


def test_poll_errors_and_failed_writes_are_problems(session: Session) -> None:
    store = t.Store(name="s", platform="bigcommerce")
    session.add(store)
    session.flush()
    daemon_beats(session)
    session.add(t.Cursor(store_id=store.id, stream="orders", last_error="HTTP 401: bad token", orders_seen=0))
    session.flush()
    [status] = store_status(session, CONFIG, now=NOW)
    assert status["problems"] == ["last poll failed: HTTP 401: bad token"]
    assert status["health"] == "unhealthy"


def test_dead_letters_make_a_store_degraded_not_healthy(session: Session) -> None:
    store = t.Store(name="s", platform="bigcommerce")
    session.add(store)
    session.flush()
    daemon_beats(session)
    dead = delivery_values(store_id=store.id, delivery_id="d1", source="poll", topic="order", headers={}, body=b"{}",
                           status=InboxStatus.DEAD, error="unmappable")  # fmt: skip
    keep_deliveries(session, [dead])
    view = overview(session, CONFIG, now=NOW)
    assert view["health"] == "degraded"
    [status] = view["stores"]
    assert status["health"] == "degraded"
    assert status["problems"] == ["1 dead letters (`connector inbox list --dead`)"]


def test_status_stops_saying_healthy_within_one_lease_ttl_after_the_daemon_stops(session: Session) -> None:
    daemon_beats(session)
    last_beat = NOW + TTL / 3
    daemon_beats(session, at=last_beat)  # the daemon's last renewal; then it stops
    running = overview(session, CONFIG, now=last_beat + TTL - timedelta(seconds=1))
    assert (running["health"], running["daemon"]["running"], running["daemon"]["holder"]) == ("healthy", True, "host:1")
    stopped = overview(session, CONFIG, now=last_beat + TTL + timedelta(seconds=1))
    assert stopped["health"] == "unhealthy"
    assert stopped["daemon"]["running"] is False
    assert stopped["daemon"]["heartbeat_age_s"] == int(TTL.total_seconds()) + 1
    assert stopped["stores"][0]["problems"] == [
        f"daemon not running: last heartbeat {int(TTL.total_seconds()) + 1} s ago"
    ]


def test_a_daemon_never_started_is_reported_as_such(session: Session) -> None:
    view = overview(session, CONFIG, now=NOW)
    assert view["daemon"] == {"running": False, "holder": None, "last_heartbeat": None, "heartbeat_age_s": None}
    assert view["stores"][0]["problems"] == [
        "daemon not running: no heartbeat (stopped, or never started: `connector run`)"
    ]
