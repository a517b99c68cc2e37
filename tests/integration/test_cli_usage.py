"""What a new user hits first: bad filter values exit 2 naming the valid ones; `orders show` reads as text."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.cli.orders_cmds import back_order_lines
from tests.support import SHOPIFY_STORE, cli, write_config


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
    result = cli(*args, "--config", str(config))
    assert result.returncode == 2, result.stdout + result.stderr
    option = args[2]
    assert option in (result.stdout + result.stderr)
    for value in named:
        assert value in (result.stdout + result.stderr)
    assert "Traceback" not in (result.stdout + result.stderr)


def test_valid_filters_still_list(config: Path) -> None:
    result = cli("orders", "list", "--status", "open", "--store", "ams-shopify", "--config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 orders" in (result.stdout + result.stderr)


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
