"""Order exports (CLI and API) over 1,000 orders backfilled from the four sandboxes.

The XML is validated against the XSD the CLI prints (`xmlschema`); the CSV is read back with the `csv` module and
its per-order totals compared with the order JSON; JSON lines parse one order each. Filters are checked, and a bad
filter is an error naming the valid values, never an empty export.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import xmlschema
from fastapi.testclient import TestClient

from connector.orders.model import Platform
from connector.runtime.config import load_config
from connector.storage.runtime import Runtime
from connector.web.app import create_app
from sandbox import SANDBOXES
from sandbox.runner import serve
from tests.support import ADMIN_TOKEN, cli, write_config

LOCATIONS = ("amsterdam", "utrecht")
# 1,000 orders in all. BigCommerce and Lightspeed need a call per order for its lines and their clients keep the
# platforms' sustained rates (5/s, 1/s), so most orders come from the two platforms that page lines inline.
SEEDED = {Platform.SHOPIFY: 450, Platform.WOOCOMMERCE: 450, Platform.BIGCOMMERCE: 90, Platform.LIGHTSPEED: 10}
TOTAL = sum(SEEDED.values())


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Four sandboxes with 1,000 historical orders between them, backfilled into one SQLite database with some stock."""
    tmp = tmp_path_factory.mktemp("export")
    with ExitStack() as stack:
        boxes = {p: stack.enter_context(serve(SANDBOXES[p](locations=LOCATIONS, seed=7))) for p in Platform}
        stores, ids = [], defaultdict(dict)
        for platform, box in boxes.items():
            box.rate_limit = "off"
            box.seed_orders(7, SEEDED[platform])
            d = box.describe()
            stores.append(
                {
                    "name": f"sbx-{platform.value}",
                    "platform": platform.value,
                    "base_url": d["base_url"],
                    "credentials": d["credentials"],
                    "webhook_secret": d["webhook_secret"],
                }
            )
            for name in LOCATIONS:
                ids[name][platform.value] = str(d["locations"][name])
        locations = [
            {"name": n, "priority": i + 1, "pickup": True, "platform_ids": ids[n]} for i, n in enumerate(LOCATIONS)
        ]
        path = write_config(tmp / "c.toml", f"sqlite:///{tmp / 'c.db'}", stores=stores, locations=locations)
        skus = sorted({sku for box in boxes.values() for sku in box.catalogue})
        counts = tmp / "stock.csv"
        counts.write_text("sku,location,on_hand\n" + "".join(f"{s},amsterdam,40\n{s},utrecht,3\n" for s in skus))
        assert cli("stock", "import", str(counts), "--config", str(path), cwd=tmp).returncode == 0
        for platform in Platform:
            store = f"sbx-{platform.value}"
            done = cli("resync", "--store", store, "--since", "60d", "--config", str(path), cwd=tmp, timeout=300)
            assert done.returncode == 0, done.stderr
            assert f"{SEEDED[platform]} stored" in done.stdout
        yield path


def export(config: Path, *args: str) -> str:
    result = cli("orders", "export", *args, "--config", str(config), cwd=config.parent)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def orders_json(config: Path) -> dict[int, dict[str, Any]]:
    rows = [json.loads(line) for line in export(config, "--format", "json").splitlines()]
    return {row["id"]: row for row in rows}


def test_json_lines_hold_every_order_once_oldest_first(orders_json: dict[int, dict[str, Any]]) -> None:
    assert len(orders_json) == TOTAL
    assert list(orders_json) == sorted(orders_json)
    assert {o["platform"] for o in orders_json.values()} == {p.value for p in Platform}
    assert any(len(o["fulfilments"]) > 1 for o in orders_json.values()), "stock should split some orders"


def test_xml_export_of_1000_sandbox_orders_validates_against_the_published_xsd(
    config: Path, orders_json: dict[int, dict[str, Any]], tmp_path: Path
) -> None:
    schema = xmlschema.XMLSchema(export(config, "--xsd"))
    out = tmp_path / "orders.xml"
    export(config, "--format", "xml", "--out", str(out))
    schema.validate(str(out))  # raises with the path of the first invalid node
    document = schema.to_dict(str(out))
    exported = document["order"]
    assert len(exported) == TOTAL
    for order in exported:
        expected = orders_json[order["@id"]]
        assert order["totals"]["total"] == Decimal(expected["total"])
        assert order["totals"]["@currency"] == expected["currency"]
        assert [line["@sku"] for line in order["lines"]["line"]] == [line["sku"] for line in expected["lines"]]
    assert not list(tmp_path.glob("*.partial")), "the export is renamed into place when it is complete"


def test_csv_has_a_row_per_line_and_totals_equal_the_order_json(
    config: Path, orders_json: dict[int, dict[str, Any]]
) -> None:
    rows = list(csv.DictReader(io.StringIO(export(config, "--format", "csv"))))
    by_order: dict[int, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_order[int(row["order_id"])].append(row)
    assert by_order.keys() == orders_json.keys()
    for order_id, lines in by_order.items():
        expected = orders_json[order_id]
        assert len(lines) == len(expected["lines"])
        assert {row["order_total"] for row in lines} == {expected["total"]}
        assert {row["currency"] for row in lines} == {expected["currency"]}
        assert sum(Decimal(row["line_total"]) for row in lines) == sum(
            Decimal(line["total"]) for line in expected["lines"]
        )
        assert [int(row["quantity"]) for row in lines] == [line["quantity"] for line in expected["lines"]]
        shipped_from = {f["location"] for f in expected["fulfilments"] if f["status"] != "cancelled"}
        assert {loc for row in lines for loc in row["locations"].split()} <= shipped_from


def test_csv_options_semicolon_and_bom(config: Path) -> None:
    text = export(config, "--format", "csv", "--delimiter", ";", "--bom", "--store", "sbx-woocommerce")
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff")), delimiter=";"))
    assert {row["store"] for row in rows} == {"sbx-woocommerce"}
    assert len({row["order_id"] for row in rows}) == SEEDED[Platform.WOOCOMMERCE]


def test_filters_store_status_and_since(config: Path, orders_json: dict[int, dict[str, Any]]) -> None:
    one_store = export(config, "--format", "json", "--store", "sbx-lightspeed").splitlines()
    assert len(one_store) == SEEDED[Platform.LIGHTSPEED]
    open_ones = [json.loads(x) for x in export(config, "--format", "json", "--status", "open").splitlines()]
    assert {o["status"] for o in open_ones} == {"open"}
    assert len(open_ones) == sum(o["status"] == "open" for o in orders_json.values())
    newest = max(o["updated_at"] for o in orders_json.values())
    since_newest = export(config, "--format", "json", "--since", newest).splitlines()
    assert {json.loads(x)["updated_at"] for x in since_newest} == {newest}
    assert export(config, "--format", "json", "--since", "2099-01-01") == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--status", "bogus"), "expected one of: open, completed, cancelled"),
        (("--store", "nosuchstore"), "expected one of: sbx-"),
        (("--since", "yesterday-ish"), "--since"),
        (("--format", "pdf"), "'pdf' is not one of"),
    ],
)
def test_bad_filters_exit_2_naming_the_valid_values(config: Path, args: tuple[str, ...], message: str) -> None:
    result = cli("orders", "export", *args, "--config", str(config), cwd=config.parent)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_api_streams_the_same_export_and_needs_the_token(config: Path, orders_json: dict[int, dict[str, Any]]) -> None:
    runtime = Runtime.open(load_config(config))
    try:
        with TestClient(create_app(runtime)) as client:
            auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
            assert client.get("/api/orders/export").status_code == 401
            answer = client.get("/api/orders/export", params={"format": "xml"}, headers=auth)
            assert answer.status_code == 200
            assert answer.headers["content-type"].startswith("application/xml")
            assert 'filename="orders.xml"' in answer.headers["content-disposition"]
            xsd = cli("orders", "export", "--xsd", cwd=config.parent).stdout
            xmlschema.XMLSchema(xsd).validate(answer.text)
            lines = client.get("/api/orders/export", params={"format": "json", "store": "sbx-shopify"}, headers=auth)
            assert lines.headers["content-type"].startswith("application/x-ndjson")
            assert len(lines.text.splitlines()) == SEEDED[Platform.SHOPIFY]
            bad = client.get("/api/orders/export", params={"status": "bogus"}, headers=auth)
            assert bad.status_code == 422
            assert "expected one of: open, completed, cancelled" in bad.text
    finally:
        runtime.close()
