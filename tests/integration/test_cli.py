"""The CLI as a user runs it: help, status, db upgrade and orders on both backends, config errors exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import inspect

from connector.storage.db import head_revision, make_engine
from tests.support import SHOPIFY_STORE, cli, write_config


def test_help_lists_the_commands() -> None:
    result = cli("--help")
    assert result.returncode == 0
    for command in ("run", "demo", "sandbox", "db", "status", "orders"):
        assert command in result.stdout
    assert cli("orders", "--help").returncode == 0
    assert "upgrade" in cli("db", "--help").stdout


def test_status_json_lists_configured_stores_with_empty_state(tmp_path: Path, database_url: str) -> None:
    config = write_config(tmp_path / "c.toml", database_url, stores=[SHOPIFY_STORE])
    result = cli("status", "--json", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    stores = json.loads(result.stdout)["stores"]
    assert [(s["store"], s["platform"]) for s in stores] == [("ams-shopify", "shopify")]
    assert stores[0]["last_success"] is None
    assert stores[0]["inbox"] == {"pending": 0, "dead": 0}
    assert stores[0]["outbox"] == {"pending": 0, "failed": 0}
    assert "shpat_test_token" not in result.stdout + result.stderr


def test_db_upgrade_creates_the_schema(tmp_path: Path, database_url: str) -> None:
    config = write_config(tmp_path / "c.toml", database_url)
    result = cli("db", "upgrade", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert head_revision() in result.stdout
    engine = make_engine(database_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"stores", "orders", "inbox", "outbox", "timeline", "stock_movements", "leases"} <= tables


def test_config_from_environment_variable(tmp_path: Path, sqlite_url: str) -> None:
    config = write_config(tmp_path / "c.toml", sqlite_url, stores=[SHOPIFY_STORE])
    result = cli("status", "--json", cwd=tmp_path, env={"CONNECTOR_CONFIG": str(config)})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["stores"][0]["store"] == "ams-shopify"


@pytest.mark.parametrize(
    ("store_change", "key"),
    [
        ({"platform": "magento"}, "stores[0].platform"),
        ({"base_url": "example.com"}, "stores[0].base_url"),
        ({"credentials": {"access_token": "${UNSET_SECRET_FOR_TEST}"}}, "stores[0].credentials.access_token"),
    ],
)
def test_bad_config_exits_2_with_one_line_naming_the_key(
    tmp_path: Path, sqlite_url: str, store_change: dict[str, object], key: str
) -> None:
    config = write_config(tmp_path / "c.toml", sqlite_url, stores=[{**SHOPIFY_STORE, **store_change}])
    result = cli("status", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert key in result.stderr
    assert "Traceback" not in result.stderr


def test_duplicate_store_name_exits_2(tmp_path: Path, sqlite_url: str) -> None:
    config = write_config(tmp_path / "c.toml", sqlite_url, stores=[SHOPIFY_STORE, SHOPIFY_STORE])
    result = cli("run", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 2
    assert "stores[1].name: duplicate name 'ams-shopify'" in result.stderr


def test_orders_list_and_show_on_an_empty_database(tmp_path: Path, database_url: str) -> None:
    config = write_config(tmp_path / "c.toml", database_url, stores=[SHOPIFY_STORE])
    listed = cli("orders", "list", "--json", "--config", str(config), cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []
    shown = cli("orders", "show", "404", "--json", "--config", str(config), cwd=tmp_path)
    assert shown.returncode == 1
    assert "no order '404'" in shown.stderr
