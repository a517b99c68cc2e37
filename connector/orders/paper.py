"""Paper for the shop floor: a location's pick list and a packing slip per fulfilment, as PDF (fpdf2).

Pure: the caller hands over plain values (`PickOrder`, `Slip`) and gets PDF bytes back; nothing here reads the
database. Two page sizes: A4 for an office printer, and the 4x6-inch label of a thermal label printer. The slip
carries the order number as text and as a Code 39 barcode (what a handheld scanner at the packing bench reads),
the customer with the delivery address or the pickup location, every line with its quantity, and the customer's
own note. Internal notes never appear on paper a customer may see.

The PDF core fonts cover Latin-1 (Western European names and addresses). Other characters are written as their
closest Latin-1 form (`ő` → `o`, `ł` → `l`) or `?`, so a slip always prints.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from fpdf import FPDF
from fpdf.enums import XPos, YPos

# Letters Unicode does not decompose into a Latin-1 base (so NFKD alone would print them as "?").
UNDECOMPOSED = str.maketrans({"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Œ": "OE", "œ": "oe", "Ŧ": "T", "ŧ": "t"})
CODE39 = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-. $/+%")


class PageSize(StrEnum):
    A4 = "a4"
    LABEL = "label"  # 4 x 6 inch

    @property
    def page_format(self) -> str | tuple[float, float]:
        return "A4" if self is PageSize.A4 else (101.6, 152.4)

    @property
    def scale(self) -> float:
        """Font and spacing relative to A4."""
        return 1.0 if self is PageSize.A4 else 0.8


@dataclass(frozen=True)
class PaperLine:
    sku: str
    name: str
    quantity: int


@dataclass(frozen=True)
class PickOrder:
    """One open fulfilment at the location, as the pick list shows it."""

    number: str
    store: str
    kind: str
    customer: str
    status: str
    lines: tuple[PaperLine, ...]


@dataclass(frozen=True)
class Slip:
    """One fulfilment's packing slip."""

    shop: str
    number: str
    location: str
    kind: str
    ordered_at: datetime
    customer: str
    email: str
    phone: str
    address: tuple[str, ...]  # delivery address lines; empty for a pickup
    lines: tuple[PaperLine, ...]
    note: str  # the customer's own note (shown to them anyway)
    part: str = ""  # "1 of 2" when the order ships from several locations


def latin1(text: str) -> str:
    """`text` in what the PDF core fonts can draw (see the module docstring)."""
    try:
        text.encode("latin-1")
        return text
    except UnicodeEncodeError:
        pass
    out = []
    for char in text.translate(UNDECOMPOSED):
        if ord(char) < 256:
            out.append(char)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", char) if ord(c) < 256 and not unicodedata.combining(c))
        out.append(base or "?")
    return "".join(out)


def barcode_text(number: str) -> str:
    """The order number as Code 39 can carry it: upper case, characters Code 39 lacks (`#`) left out."""
    return "".join(c for c in number.upper() if c in CODE39).strip()


class _Document(FPDF):
    def __init__(self, size: PageSize, title: str) -> None:
        super().__init__(format=size.page_format)
        self.size = size
        self.set_title(latin1(title))
        self.set_creator("order sync connector")
        margin = 12 if size is PageSize.A4 else 6
        self.set_margins(margin, margin, margin)
        self.set_auto_page_break(True, margin)

    def font(self, points: float, style: str = "") -> None:
        self.set_font("Helvetica", style, points * self.size.scale)

    def line_of(self, text: str, points: float = 10, style: str = "", height: float = 5.5) -> None:
        self.font(points, style)
        self.multi_cell(0, height * self.size.scale, latin1(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def row(self, cells: Sequence[tuple[str, float, str]], points: float = 10, style: str = "") -> None:
        """One table row: (text, width as a share of the page, alignment) per cell."""
        self.font(points, style)
        width = self.epw
        for text, share, align in cells:
            self.cell(width * share, 6 * self.size.scale, latin1(text), align=align)
        self.ln(6 * self.size.scale)

    def rule(self) -> None:
        y = self.get_y() + 1
        self.line(self.l_margin, y, self.w - self.r_margin, y)
        self.set_y(y + 2)


def picklist_pdf(location: str, orders: Sequence[PickOrder], *, generated_at: datetime, size: PageSize) -> bytes:
    """Every open fulfilment at `location`: first grouped by SKU (walk the shelves once), then by order."""
    doc = _Document(size, f"Pick list {location}")
    doc.add_page()
    doc.line_of(f"Pick list - {location}", 16, "B", 8)
    units = sum(line.quantity for order in orders for line in order.lines)
    doc.line_of(f"{len(orders)} orders, {units} units - {generated_at:%Y-%m-%d %H:%M} UTC", 9)
    doc.rule()
    by_sku: dict[str, list[tuple[PickOrder, PaperLine]]] = defaultdict(list)
    for order in orders:
        for line in order.lines:
            by_sku[line.sku].append((order, line))
    doc.line_of("By SKU", 12, "B", 7)
    wide = size is PageSize.A4
    head = [("SKU", 0.25, "L"), ("Product", 0.45 if wide else 0.5, "L"), ("Qty", 0.1, "R")]
    if wide:
        head.append(("Orders", 0.2, "L"))
    doc.row([(f"  {t}" if a == "L" and i == 3 else t, w, a) for i, (t, w, a) in enumerate(head)], 9, "B")
    for sku in sorted(by_sku):
        entries = by_sku[sku]
        cells = [
            (sku, 0.25, "L"),
            (entries[0][1].name, 0.45 if wide else 0.5, "L"),
            (str(sum(line.quantity for _, line in entries)), 0.1, "R"),
        ]
        if wide:
            cells.append(("  " + ", ".join(sorted({o.number for o, _ in entries})), 0.2, "L"))
        doc.row(cells, 9)
    doc.rule()
    doc.line_of("By order", 12, "B", 7)
    for order in orders:
        doc.line_of(f"{order.number}  ({order.store}, {order.kind}, {order.status})  {order.customer}", 10, "B")
        for line in order.lines:
            doc.row([(f"[  ]  {line.quantity} x", 0.18, "L"), (line.sku, 0.27, "L"), (line.name, 0.55, "L")], 9)
        doc.ln(1)
    if not orders:
        doc.line_of("Nothing to pick.", 10)
    return bytes(doc.output())


def slips_pdf(slips: Sequence[Slip], *, size: PageSize) -> bytes:
    """One page per slip (per fulfilment)."""
    doc = _Document(size, "Packing slip " + ", ".join(sorted({s.number for s in slips})))
    for slip in slips:
        _slip_page(doc, slip)
    if not slips:
        doc.add_page()
        doc.line_of("No fulfilment to pack.", 10)
    return bytes(doc.output())


def _slip_page(doc: _Document, slip: Slip) -> None:
    doc.add_page()
    doc.line_of(slip.shop, 16, "B", 8)
    doc.line_of(f"Packing slip - order {slip.number}" + (f" (part {slip.part})" if slip.part else ""), 12, "B", 7)
    code = barcode_text(slip.number)
    if code:
        height = 14 * doc.size.scale
        doc.code39(f"*{code}*", x=doc.l_margin, y=doc.get_y() + 1, w=0.8 * doc.size.scale, h=height)
        doc.set_y(doc.get_y() + height + 3)
    doc.line_of(f"Ordered {slip.ordered_at:%Y-%m-%d %H:%M} UTC - from {slip.location}", 9)
    doc.rule()
    if slip.kind == "pickup":
        doc.line_of(f"PICKUP at {slip.location}", 11, "B")
        doc.line_of(slip.customer, 10)
    else:
        doc.line_of("Deliver to", 9, "B")
        for text in slip.address or (slip.customer,):
            doc.line_of(text, 10)
    contact = "  ".join(x for x in (slip.email, slip.phone) if x)
    if contact:
        doc.line_of(contact, 9)
    doc.rule()
    doc.row([("Qty", 0.12, "R"), ("  SKU", 0.3, "L"), ("Product", 0.58, "L")], 9, "B")
    for line in slip.lines:
        doc.row([(str(line.quantity), 0.12, "R"), (f"  {line.sku}", 0.3, "L"), (line.name, 0.58, "L")], 10)
    doc.row([(str(sum(line.quantity for line in slip.lines)), 0.12, "R"), ("  units", 0.88, "L")], 9, "B")
    if slip.note:
        doc.rule()
        doc.line_of("Your note", 9, "B")
        doc.line_of(slip.note, 9)
