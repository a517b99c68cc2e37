"""The CLI as a user runs it: help, status, db upgrade and orders on both backends, config errors exit 2."""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import inspect

from connector.cli.orders_cmds import _assigned
from connector.orders.model import Line, Money, Order, OrderKind, PaymentStatus, Platform
from connector.runtime.config import load_config
from connector.stock import ledger
from connector.stock.order_effects import Stocker
from connector.storage.db import head_revision, make_engine, upgrade
from connector.storage.runtime import Runtime
from connector.sync.ingest import ingest_order
from tests.support import SHOPIFY_STORE, cli, write_config

BC_STORE = {
    "name": "bc",
    "platform": "bigcommerce",
    "base_url": "https://api.bigcommerce.com/stores/abc",
    "credentials": {"access_token": "tok-123456"},
    "webhook_secret": "whsec-123456",
}


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
    assert result.returncode == 1, result.stderr  # no daemon has ever run: the store is not syncing
    assert json.loads(result.stdout)["daemon"]["running"] is False
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
    assert result.returncode == 1, result.stderr  # read, and unhealthy: no daemon runs
    assert json.loads(result.stdout)["stores"][0]["store"] == "ams-shopify"


@pytest.mark.parametrize(
    ("store_change", "key"),
    [
        ({"platform": "magento"}, "stores[0].platform"),
        ({"base_url": "example.com"}, "stores[0].base_url"),
        ({"credentials": {"access_token": "${UNSET_SECRET_FOR_TEST}"}}, "stores[0].credentials.access_token"),
        ({"webhook_secret": ""}, "stores[0].webhook_secret"),
        ({"base_url": "https://shop example.com"}, "stores[0].base_url"),
        ({"credentials": {"access_token": "t", "token": "t"}}, "stores[0].credentials.token"),
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


def _config_with_an_order(tmp_path: Path, database_url: str) -> Path:
    """A configuration whose database holds BigCommerce order 100, allocated to amsterdam (as ingest leaves it)."""
    path = write_config(
        tmp_path / "c.toml", database_url, stores=[BC_STORE], locations=[{"name": "amsterdam", "priority": 1}]
    )
    config = load_config(path)
    runtime = Runtime.open(config)
    try:
        upgrade(runtime.engine)
        runtime.sync_stores()
        eur = lambda x: Money(Decimal(x), "EUR")  # noqa: E731
        when = datetime(2026, 5, 1, tzinfo=UTC)
        order = Order(
            store="bc",
            platform=Platform.BIGCOMMERCE,
            external_id="100",
            number="100",
            kind=OrderKind.DELIVERY,
            payment_status=PaymentStatus.PAID,
            platform_status="11",
            currency="EUR",
            subtotal=eur("20"),
            shipping_total=eur("0"),
            tax_total=eur("0"),
            discount_total=eur("0"),
            total=eur("20"),
            created_at=when,
            updated_at=when,
            lines=(Line("A", "Alpha", 2, eur("10"), eur("20")),),
        )
        with runtime.sessions.begin() as session:
            ledger.import_counts(session, [ledger.Count("A", "amsterdam", 5)])
            outcome = ingest_order(session, runtime.store_ids["bc"], order, source="test")
            Stocker(config).on_outcome(session, outcome)
    finally:
        runtime.close()
    return path


def test_orders_assign_shows_in_show_and_on_the_timeline(tmp_path: Path, database_url: str) -> None:
    config = str(_config_with_an_order(tmp_path, database_url))
    actor = f"cli:{getpass.getuser()}"
    assigned = cli("orders", "assign", "100", "--location", "amsterdam", "--user", "Ann", "-c", config, cwd=tmp_path)
    assert assigned.returncode == 0, assigned.stderr
    assert assigned.stdout.strip() == "100 at amsterdam: assigned to Ann"
    shown = json.loads(cli("orders", "show", "100", "--json", "-c", config, cwd=tmp_path).stdout)
    assert [(f["location"], f["assigned_user"]) for f in shown["fulfilments"]] == [("amsterdam", "Ann")]
    assert (shown["timeline"][-1]["summary"], shown["timeline"][-1]["actor"]) == ("amsterdam: assigned to Ann", actor)
    text = cli("orders", "show", "100", "-c", config, cwd=tmp_path, env={"COLUMNS": "200"}).stdout
    assert "at amsterdam: new [2xA] assigned to Ann" in text
    cleared = cli("orders", "assign", "100", "--location", "amsterdam", "--unassign", "--json", "-c", config)
    assert cleared.returncode == 0, cleared.stderr
    assert json.loads(cleared.stdout)["fulfilments"][0]["assigned_user"] is None
    refused = cli("orders", "assign", "100", "--location", "utrecht", "--user", "Ann", "-c", config, cwd=tmp_path)
    assert refused.returncode == 1
    assert "no fulfilment at 'utrecht'" in refused.stderr


def test_orders_list_shows_who_has_each_part(tmp_path: Path, database_url: str) -> None:
    config = str(_config_with_an_order(tmp_path, database_url))
    before = json.loads(cli("orders", "list", "--json", "-c", config, cwd=tmp_path).stdout)
    assert before[0]["fulfilments"][0]["assigned_user"] is None
    assert cli("orders", "assign", "100", "--location", "amsterdam", "--user", "Ann", "-c", config).returncode == 0
    listed = json.loads(cli("orders", "list", "--json", "-c", config, cwd=tmp_path).stdout)
    assert [(f["location"], f["assigned_user"]) for f in listed[0]["fulfilments"]] == [("amsterdam", "Ann")]
    assert listed[0]["fulfilment_status"] == "new"  # existing fields keep their names and meaning
    text = cli("orders", "list", "-c", config, cwd=tmp_path, env={"COLUMNS": "200"}).stdout.splitlines()
    header = next(line for line in text if line.startswith("┃"))
    row = next(line for line in text if line.startswith("│"))
    names, values = header.split("┃")[1:-1], row.split("│")[1:-1]
    cells = {name.strip(): value.strip() for name, value in zip(names, values, strict=True)}
    assert (cells["number"], cells["fulfilment"], cells["assigned"], cells["payment"]) == ("100", "new", "Ann", "paid")


def test_the_list_names_each_location_when_an_order_is_split() -> None:
    def part(location: str, status: str, user: str | None) -> dict[str, object]:
        return {"location": location, "status": status, "assigned_user": user}

    split = {"fulfilments": [part("amsterdam", "new", "Ann"), part("utrecht", "packed", None)]}
    assert _assigned(split) == "amsterdam: Ann, utrecht: -"
    cancelled_elsewhere = {"fulfilments": [part("amsterdam", "new", "Ann"), part("utrecht", "cancelled", "Bo")]}
    assert _assigned(cancelled_elsewhere) == "Ann"
    assert _assigned({"fulfilments": [part("amsterdam", "new", None), part("utrecht", "new", None)]}) == ""


@pytest.mark.parametrize(
    "choice", [(), ("--user", "Ann", "--unassign"), ("--user", " ")], ids=["neither", "both", "blank"]
)
def test_orders_assign_needs_exactly_one_of_user_or_unassign(tmp_path: Path, choice: tuple[str, ...]) -> None:
    config = write_config(tmp_path / "c.toml", f"sqlite:///{tmp_path / 'c.db'}", stores=[BC_STORE])
    result = cli("orders", "assign", "100", "--location", "amsterdam", *choice, "-c", str(config), cwd=tmp_path)
    assert result.returncode == 2
    assert "--unassign" in result.stderr
    assert "--unassign" in cli("orders", "assign", "--help").stdout


def test_a_cli_action_names_the_user_on_the_write_backs_it_queues(tmp_path: Path, sqlite_url: str) -> None:
    config = str(_config_with_an_order(tmp_path, sqlite_url))
    packed = json.loads(cli("orders", "pack", "100", "--json", "-c", config, cwd=tmp_path).stdout)
    outbound = [(e["summary"], e["actor"]) for e in packed["timeline"] if e["kind"] == "outbound"]
    assert outbound == [("queued set_status -> 9 (order)", f"cli:{getpass.getuser()}")]
