"""The demo's effective configuration: the template's daemon address unless `--port` moves it."""

from __future__ import annotations

import socket

from connector.app.demo import demo_config
from connector.runtime.config import validate_config

SANDBOX = {
    "platform": "bigcommerce",
    "base_url": "http://127.0.0.1:9/stores/abc",
    "credentials": {"access_token": "tok-123456"},
    "webhook_secret": "whsec-123456",
    "locations": {"amsterdam": 1, "utrecht": 2},
}
TOKEN = "demo-admin-token-0123456789"


def test_without_a_port_the_demo_listens_where_the_template_says() -> None:
    data = demo_config([SANDBOX], TOKEN)
    assert (data["daemon"]["listen"], data["daemon"]["public_url"]) == ("127.0.0.1:8080", "http://127.0.0.1:8080")
    assert [s["name"] for s in data["stores"]] == ["demo-bigcommerce"]
    assert data["locations"][0]["platform_ids"] == {"bigcommerce": "1"}
    assert data["locations"][2]["platform_ids"] == {}  # rotterdam: the sandbox has no such location


def test_a_port_moves_the_daemon_and_the_address_webhooks_are_sent_to() -> None:
    data = demo_config([SANDBOX], TOKEN, 18123)
    assert (data["daemon"]["listen"], data["daemon"]["public_url"]) == ("127.0.0.1:18123", "http://127.0.0.1:18123")
    assert validate_config(data, env={}).daemon.port == 18123


def test_port_zero_picks_a_port_nothing_listens_on() -> None:
    port = validate_config(demo_config([SANDBOX], TOKEN, 0), env={}).daemon.port
    assert port not in (0, 8080)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # free: binding it works
