"""Chart geometry for the dashboard, drawn server-side as inline SVG: pure functions from numbers to shapes.

    activity_chart(hours, stores)   orders stored per hour, stacked by store, with the median sync delay as a line
    lag_chart(stores)               seconds since each store's last successful poll, one bar per store

The template (`_chart.html`) turns a `Chart` into `<svg>` elements; nothing here writes markup, so everything
the chart shows goes through Jinja's escaping. Colours are SVG attributes, not inline styles (the dashboard's
Content-Security-Policy allows no inline style).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from connector.web.readmodel import Hour

PALETTE = ("#2563eb", "#16a34a", "#d97706", "#9333ea", "#0891b2", "#db2777")
LINE_COLOUR = "#dc2626"
WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 56, 14, 30
MINUTE_STEPS = (60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400, 604800)  # seconds: a time axis shows at least 1 min


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    fill: str
    title: str


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    anchor: str = "middle"


@dataclass(frozen=True)
class Rule:
    x1: float
    y1: float
    x2: float
    y2: float


@dataclass(frozen=True)
class Swatch:
    colour: str
    text: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    title: str
    description: str
    rects: tuple[Rect, ...] = ()
    labels: tuple[Label, ...] = ()
    rules: tuple[Rule, ...] = ()
    line: tuple[tuple[float, float], ...] = ()  # points of a line drawn over the bars, each with a dot
    line_colour: str = LINE_COLOUR
    legend: tuple[Swatch, ...] = ()


def duration(seconds: float) -> str:
    """A short human duration: 42 s, 7 min, 3 h, 2 d."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            amount = seconds / size
            text = f"{amount:.0f}" if amount >= 10 else f"{amount:.1f}".removesuffix(".0")
            return f"{text} {unit}"
    return f"{seconds:.0f} s"


def _ceiling(value: float, steps: tuple[int, ...] = (2, 4, 6, 10)) -> float:
    """A round axis maximum at or above `value`: the first of `steps` (then of `steps` times 10, 100, …)."""
    scale = 1.0
    while True:
        for step in steps:
            if step * scale >= value:
                return step * scale
        scale *= 10


def colours(stores: Sequence[str]) -> dict[str, str]:
    return {store: PALETTE[n % len(PALETTE)] for n, store in enumerate(stores)}


def activity_chart(hours: Sequence[Hour], stores: Sequence[str]) -> Chart:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(hours), 1)
    top = _ceiling(max((sum(h.orders.values()) for h in hours), default=0))  # even: a whole middle tick
    delay_top = _ceiling(max((h.delay_s or 0 for h in hours), default=0), MINUTE_STEPS)
    palette = colours(stores)
    rects = [r for n, h in enumerate(hours) for r in _stack(h, LEFT + n * slot, slot, plot_h, top, palette)]
    points = tuple(
        (LEFT + (n + 0.5) * slot, TOP + plot_h * (1 - h.delay_s / delay_top))
        for n, h in enumerate(hours)
        if h.delay_s is not None
    )
    labels = _axes(hours, slot, plot_h, top, delay_top)
    rules = tuple(Rule(LEFT, TOP + plot_h * f, LEFT + plot_w, TOP + plot_h * f) for f in (0, 0.5, 1))
    legend = (*(Swatch(palette[s], s) for s in stores), Swatch(LINE_COLOUR, "median sync delay"))
    return Chart(
        WIDTH,
        HEIGHT,
        "Orders synced per hour, last 24 hours",
        _describe(hours),
        tuple(rects),
        labels,
        rules,
        points,
        LINE_COLOUR,
        legend,
    )


def _stack(hour: Hour, x: float, slot: float, plot_h: float, top: float, palette: dict[str, str]) -> list[Rect]:
    rects, base = [], TOP + plot_h
    for store, count in sorted(hour.orders.items()):
        height = plot_h * count / top
        base -= height
        title = f"{hour.start:%H}:00 UTC, {store}: {count} order{'s' if count != 1 else ''}"
        rects.append(Rect(x + slot * 0.15, base, slot * 0.7, height, palette.get(store, PALETTE[-1]), title))
    return rects


def _axes(hours: Sequence[Hour], slot: float, plot_h: float, top: float, delay_top: float) -> tuple[Label, ...]:
    every_third = [(n, h) for n, h in enumerate(hours) if n % 3 == 0]
    labels = [Label(LEFT + (n + 0.5) * slot, HEIGHT - 10, f"{h.start:%H}:00") for n, h in every_third]
    for fraction in (0, 0.5, 1):
        y = TOP + plot_h * (1 - fraction) + 4
        labels.append(Label(LEFT - 6, y, f"{top * fraction:g}", "end"))
        labels.append(Label(WIDTH - RIGHT + 6, y, duration(delay_top * fraction), "start"))
    return tuple(labels)


def _describe(hours: Sequence[Hour]) -> str:
    total = sum(sum(h.orders.values()) for h in hours)
    if not total:
        return "No orders were synced in the last 24 hours."
    busiest = max(hours, key=lambda h: sum(h.orders.values()))
    return (
        f"{total} orders synced in the last 24 hours; the busiest hour was {busiest.start:%H}:00 UTC "
        f"with {sum(busiest.orders.values())}."
    )


def lag_chart(stores: Sequence[dict[str, Any]]) -> Chart:
    """One bar per store: seconds since its last successful poll (red when the store is unhealthy)."""
    row, left, width = 26, 150, WIDTH - 150 - 70
    ages = [s.get("last_success_age_s") for s in stores]
    top = _ceiling(max((a for a in ages if a is not None), default=0), MINUTE_STEPS)
    rects, labels = [], []
    for n, (store, age) in enumerate(zip(stores, ages, strict=True)):
        y = 8 + n * row
        labels.append(Label(left - 8, y + 14, str(store["store"]), "end"))
        text = "never polled" if age is None else duration(age)
        if age is not None:
            colour = LINE_COLOUR if store.get("health") == "unhealthy" else PALETTE[1]
            rects.append(Rect(left, y + 2, max(width * age / top, 2), row - 8, colour, f"{store['store']}: {text}"))
        labels.append(Label(left + (width * (age or 0) / top) + 8, y + 14, text, "start"))
    height = 16 + row * len(stores)
    summary = "; ".join(f"{s['store']}: {label.text}" for s, label in zip(stores, labels[1::2], strict=True))
    return Chart(
        WIDTH,
        height,
        "Poll lag now: time since the last successful poll",
        summary or "No stores.",
        tuple(rects),
        tuple(labels),
    )
