"""What a new user hits first: bad filter values exit 2 naming the valid ones; `orders show` reads as text."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from connector.cli import app
from connector.cli.orders_cmds import back_order_lines
from tests.support import SHOPIFY_STORE, write_config

runner = CliRunner()


@pytest.fixture
def config(tmp_path: Path, sqlite_url: str) -> Path:
    return write_config(tmp_path / "c.toml", sqlite_url, stores=[SHOPIFY_STORE])


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("orders", "list", "--status", "bogus"), ["open", "completed", "cancelled"]),
        (("orders", "list", "--store", "nosuchstore"), ["ams-shopify"]),
        (("outbox", "list", "--store", "nosuchstore"), ["ams-shopify"]),
        (("inbox", "list", "--store", "nosuchstore"), ["ams-shopify"]),
    ],
)
def test_a_bad_filter_exits_2_naming_the_valid_values(config: Path, args: tuple[str, ...], named: list[str]) -> None:
    result = runner.invoke(app, [*args, "--config", str(config)])
    assert result.exit_code == 2, result.output
    option = args[2]
    assert option in result.output
    for value in named:
        assert value in result.output
    assert "Traceback" not in result.output


def test_valid_filters_still_list(config: Path) -> None:
    result = runner.invoke(
        app, ["orders", "list", "--status", "open", "--store", "ams-shopify", "--config", str(config)]
    )
    assert result.exit_code == 0, result.output
    assert "0 orders" in result.output


@pytest.mark.parametrize(
    ("back_orders", "lines"),
    [
        (None, []),
        ({}, []),
        (
            {"SKU-1": 2, "SKU-2": 1},
            ["back-ordered: 2 x SKU-1, waiting for stock", "back-ordered: 1 x SKU-2, waiting for stock"],
        ),
        ([{"sku": "SKU-1", "quantity": 3, "location": "utrecht"}], ["back-ordered: 3 x SKU-1, at utrecht"]),
    ],
)
def test_back_orders_read_as_text(back_orders: object, lines: list[str]) -> None:
    assert back_order_lines(back_orders) == lines
