"""`connector print …`: PDFs for the shop floor, a location's pick list and an order's packing slips."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from connector.cli.common import ConfigOption, console, fail, open_config
from connector.orders.paper import PageSize
from connector.orders.service import NotFound, Service
from connector.storage.db import upgrade
from connector.storage.runtime import Runtime

app = typer.Typer(help="Paper for the shop floor: pick lists and packing slips (PDF).", no_args_is_help=True)
SizeOption = Annotated[PageSize, typer.Option("--size", help="a4, or label (4x6 inch, for a label printer).")]
OutOption = Annotated[
    Path | None, typer.Option("--out", help="The PDF file (default: named after the list or order, here).")
]


def _write(pdf: bytes, out: Path) -> None:
    partial = out.with_name(out.name + ".partial")
    partial.write_bytes(pdf)
    partial.replace(out)
    console.print(f"wrote {out} ({len(pdf):,} bytes)", highlight=False)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "", name) or "order"


@app.command()
def picklist(
    location: Annotated[str, typer.Option("--location", help="The location whose open fulfilments to pick.")],
    config: ConfigOption = None,
    size: SizeOption = PageSize.A4,
    out: OutOption = None,
) -> None:
    """Every fulfilment at a location still to pick, by SKU (one walk of the shelves) and by order."""
    runtime = Runtime.open(open_config(config))
    try:
        upgrade(runtime.engine)
        try:
            pdf = Service(runtime).picklist(location, size=size)
        except ValueError as exc:
            fail(str(exc), code=2)
    finally:
        runtime.close()
    _write(pdf, out or Path(f"picklist-{_safe(location)}.pdf"))


@app.command()
def slip(
    order: Annotated[str, typer.Argument(help="Order id, store:external_id, or display number (#1001).")],
    location: Annotated[str | None, typer.Option(help="Only the part this location ships.")] = None,
    config: ConfigOption = None,
    size: SizeOption = PageSize.A4,
    out: OutOption = None,
) -> None:
    """Packing slips: one page per fulfilment of the order, or only the named location's."""
    runtime = Runtime.open(open_config(config))
    try:
        upgrade(runtime.engine)
        service = Service(runtime)
        try:
            pdf = service.slips(order, location=location, size=size)
            number = service.order(order)["number"]
        except ValueError as exc:
            fail(str(exc), code=2)
        except NotFound as exc:
            fail(str(exc))
    finally:
        runtime.close()
    suffix = f"-{_safe(location)}" if location else ""
    _write(pdf, out or Path(f"slip-{_safe(number)}{suffix}.pdf"))
