"""Configuration validation: every bad config names its key; secrets come from the environment."""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from connector.orders.model import Platform
from connector.runtime.config import load_config, parse_duration, validate_config
from connector.runtime.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
ENV = {"T": "shpat_token_value", "ADMIN": "a" * 24}
BASE: dict[str, Any] = {
    "daemon": {"admin_token": "${ADMIN}"},
    "locations": [{"name": "amsterdam", "priority": 1, "pickup": True, "platform_ids": {"shopify": "gid://x/1"}}],
    "stores": [
        {
            "name": "ams-shopify",
            "platform": "shopify",
            "base_url": "https://example.myshopify.com",
            "credentials": {"access_token": "${T}"},
            "poll_interval": "90s",
        }
    ],
}


def config_with(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    change(data)
    return data


def test_valid_config_substitutes_env_and_parses() -> None:
    config = validate_config(BASE, env=ENV)
    store = config.stores[0]
    assert store.credentials["access_token"] == "shpat_token_value"
    assert store.platform is Platform.SHOPIFY
    assert store.poll_interval == timedelta(seconds=90)
    assert config.daemon.database_url == "sqlite:///state/connector.db"
    assert config.locations[0].platform_ids == {Platform.SHOPIFY: "gid://x/1"}


@pytest.mark.parametrize(
    ("change", "key", "words"),
    [
        (lambda d: d["stores"][0].update(platform="magento"), "stores[0].platform", "unknown platform 'magento'"),
        (lambda d: d["stores"][0].update(base_url="not a url"), "stores[0].base_url", "not an http(s) URL"),
        (lambda d: d["stores"].append(copy.deepcopy(d["stores"][0])), "stores[1].name", "duplicate name"),
        (lambda d: d["stores"][0].update(credentials={}), "stores[0].credentials", "access_token is required"),
        (lambda d: d["stores"][0].update(poll_interval="soon"), "stores[0].poll_interval", "not a duration"),
        (lambda d: d["stores"][0].update(allocation="random"), "stores[0].allocation", "unknown strategy"),
        (lambda d: d["daemon"].update(listen="8080"), "daemon.listen", "host:port"),
        (lambda d: d["daemon"].update(database_url="mysql://x"), "daemon.database_url", "sqlite"),
        (lambda d: d["daemon"].update(colour="blue"), "daemon.colour", "unknown key"),
        (lambda d: d.pop("daemon"), "daemon", "required"),
        (lambda d: d["locations"][0].update(platform_ids={"ebay": "1"}), "locations[0].platform_ids.ebay", "ebay"),
        # issue #15: an empty secret, a malformed URL or a mistyped credential started the daemon
        (lambda d: d["stores"][0].update(webhook_secret=""), "stores[0].webhook_secret", "is empty"),
        (lambda d: d["stores"][0].update(webhook_secret="   "), "stores[0].webhook_secret", "is empty"),
        (lambda d: d["stores"][0].update(base_url="https://exa mple.com"), "stores[0].base_url", "spaces"),
        (lambda d: d["stores"][0].update(base_url="https://shop.example.com "), "stores[0].base_url", "spaces"),
        (lambda d: d["stores"][0].update(base_url="https://sh!op.example"), "stores[0].base_url", "not a host name"),
        (lambda d: d["stores"][0].update(base_url="https://shop.example:80a"), "stores[0].base_url", "port"),
        (lambda d: d["stores"][0].update(base_url="https://shop.example/?a=1"), "stores[0].base_url", "no query"),
        (lambda d: d["daemon"].update(public_url="http://in valid"), "daemon.public_url", "spaces"),
        (
            lambda d: d["stores"][0]["credentials"].update(acess_token="x"),
            "stores[0].credentials.acess_token",
            "unknown credential for shopify (expected access_token)",
        ),
        (
            lambda d: d["stores"][0]["credentials"].update(client_id=""),
            "stores[0].credentials.client_id",
            "unknown credential",
        ),
    ],
)
def test_bad_config_names_the_key(change: Any, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate_config(config_with(change), env=ENV)
    assert info.value.key == key
    assert words in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_secret_names_key_and_variable() -> None:
    with pytest.raises(ConfigError) as info:
        validate_config(BASE, env={"ADMIN": "a" * 24})
    assert info.value.key == "stores[0].credentials.access_token"
    assert "T is not set" in str(info.value)


def test_every_platform_needs_its_own_credentials() -> None:
    def woo(d: dict[str, Any]) -> None:
        d["stores"][0].update(platform="woocommerce", credentials={"consumer_key": "ck"})

    with pytest.raises(ConfigError, match="consumer_secret is required for woocommerce"):
        validate_config(config_with(woo), env=ENV)


@pytest.mark.parametrize(
    ("text", "seconds"), [("60s", 60), ("5m", 300), ("1h", 3600), ("250ms", 0.25), ("2d", 172800), (30, 30)]
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds


def test_load_config_reports_unreadable_and_invalid_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read configuration"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[daemon\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_shipped_example_and_demo_configs_are_valid() -> None:
    env = {
        k: "value-for-tests"
        for k in ("SHOPIFY_TOKEN", "SHOPIFY_WEBHOOK_SECRET", "WOO_KEY", "WOO_SECRET", "WOO_WEBHOOK_SECRET")
    }
    env["CONNECTOR_ADMIN_TOKEN"] = "x" * 20
    example = load_config(ROOT / "config" / "connector.example.toml", env=env)
    assert [s.name for s in example.stores] == ["ams-shopify", "ams-woo"]
    demo = load_config(ROOT / "connector" / "app" / "demo.toml", env=env)
    assert [loc.name for loc in demo.locations] == ["amsterdam", "utrecht", "rotterdam"]


def test_optional_credentials_are_named_per_platform_and_not_empty() -> None:
    def bigcommerce(client_id: str) -> Any:
        def change(d: dict[str, Any]) -> None:
            d["stores"][0].update(platform="bigcommerce", credentials={"access_token": "t", "client_id": client_id})

        return change

    config = validate_config(config_with(bigcommerce("abc")), env=ENV)
    assert config.stores[0].credentials["client_id"] == "abc"
    with pytest.raises(ConfigError) as info:
        validate_config(config_with(bigcommerce("")), env=ENV)
    assert info.value.key == "stores[0].credentials.client_id"
    assert "is empty" in str(info.value)


def test_urls_that_are_fine_stay_fine() -> None:
    for url in ("http://127.0.0.1:8123/nl", "https://[::1]:8443", "https://shop.example.com/", "http://localhost:80"):
        config = validate_config(config_with(lambda d, url=url: d["stores"][0].update(base_url=url)), env=ENV)
        assert config.stores[0].base_url == url.rstrip("/")
