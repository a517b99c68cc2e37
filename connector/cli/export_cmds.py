"""`connector orders export`: orders as CSV, XML or JSON lines for the books or a POS, streamed to a file or stdout."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from connector.cli.common import ConfigOption, fail, open_config
from connector.cli.timeutil import parse_since
from connector.orders import export as order_export
from connector.orders.export import ExportFormat
from connector.orders.service import Service
from connector.storage.db import upgrade
from connector.storage.runtime import Runtime


def export(
    config: ConfigOption = None,
    fmt: Annotated[ExportFormat, typer.Option("--format", help="csv (a row per order line), xml or json (lines).")] = (
        ExportFormat.CSV
    ),
    since: Annotated[
        str | None, typer.Option(help="Orders changed since: ISO-8601 time (naive is UTC) or an age (24h, 7d).")
    ] = None,
    store: Annotated[str | None, typer.Option(help="Only this store.")] = None,
    status: Annotated[str | None, typer.Option(help="open, completed or cancelled.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write here instead of standard output.")] = None,
    delimiter: Annotated[str, typer.Option(help="CSV field separator: ',' or ';'.")] = ",",
    bom: Annotated[bool, typer.Option("--bom", help="CSV: start with a UTF-8 byte order mark (for Excel).")] = False,
    print_xsd: Annotated[bool, typer.Option("--xsd", help="Print the XML export's schema (XSD) and exit.")] = False,
) -> None:
    """Export orders: CSV, XML (valid against `--xsd`) or JSON lines, oldest first, in constant memory."""
    if print_xsd:
        sys.stdout.write(order_export.xsd())
        return
    try:
        since_at = parse_since(since) if since else None
    except ValueError as exc:
        fail(f"--since: {exc}", code=2)
    options: dict[str, object] = {"delimiter": delimiter, "bom": bom} if fmt is ExportFormat.CSV else {}
    runtime = Runtime.open(open_config(config))
    try:
        upgrade(runtime.engine)
        try:
            chunks = Service(runtime).export(fmt, store=store, status=status, since=since_at, **options)
        except ValueError as exc:
            fail(str(exc), code=2)
        if out is None:
            for chunk in chunks:
                sys.stdout.write(chunk)
            sys.stdout.flush()
            return
        partial = out.with_name(out.name + ".partial")
        with partial.open("w", encoding="utf-8", newline="") as handle:
            for chunk in chunks:
                handle.write(chunk)
        partial.replace(out)  # a reader never sees half an export under the final name
    finally:
        runtime.close()
