"""Line charts as geometry for server-rendered inline SVG (templates/charts/_line.html draws them).

No JavaScript and no style attributes (the CSP forbids both): the template writes SVG elements whose look comes
from classes in app.css. Missing values (None) break a line rather than being drawn as zero.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 320, 200
LEFT, RIGHT, TOP, BOTTOM = 46, 12, 26, 34


@dataclass(frozen=True)
class Line:
    name: str
    segments: tuple[str, ...]  # SVG polyline "points" strings, one per unbroken run
    dots: tuple[tuple[float, float, str], ...]  # (x, y, tooltip)
    css: str = ""


@dataclass(frozen=True)
class Tick:
    at: float  # pixel position along its axis
    label: str


@dataclass(frozen=True)
class Rule:
    """A labelled vertical (marker) or horizontal (reference) line."""

    at: float
    label: str
    css: str


@dataclass(frozen=True)
class Chart:
    title: str
    x_label: str
    y_label: str
    lines: tuple[Line, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    markers: tuple[Rule, ...] = ()
    references: tuple[Rule, ...] = ()
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM


def nice_max(value: float) -> float:
    """The smallest of 1, 2, 2.5 or 5 times a power of ten that is >= value (an axis that reads well)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power + 1e-12:
            return step * power
    return 10 * power  # pragma: no cover - the loop always returns


def line_chart(title: str, xs: Sequence[float], series: dict[str, Sequence[float | None]], *, x_label: str,
               y_label: str, y_max: float | None = None, y_format: Callable[[float], str] = "{:g}".format,
               x_ticks: Sequence[tuple[float, str]] | None = None, markers: Sequence[tuple[float, str, str]] = (),
               references: Sequence[tuple[float, str]] = (), css: Sequence[str] = ("", "second")) -> Chart:
    """Scale xs and each series' ys into the plot area. x runs from min(xs) to max(xs); y from 0 to `y_max`
    (default: a round number above the largest value and every reference line)."""
    chart = Chart(title, x_label, y_label, (), (), ())
    x0, x1 = (min(xs), max(xs)) if xs else (0.0, 1.0)
    if x1 == x0:
        x0, x1 = x0 - 0.5, x1 + 0.5
    values = [y for ys in series.values() for y in ys if y is not None] + [r[0] for r in references]
    top = y_max if y_max is not None else nice_max(max(values, default=0.0))

    def px(x: float) -> float:
        return round(chart.left + (x - x0) / (x1 - x0) * (chart.right - chart.left), 1)

    def py(y: float) -> float:
        return round(chart.bottom - min(max(y, 0.0), top) / top * (chart.bottom - chart.top), 1)

    lines = []
    for i, (name, ys) in enumerate(series.items()):
        segments, run, dots = [], [], []
        for x, y in zip(xs, ys, strict=True):
            if y is None:
                if run:
                    segments.append(" ".join(run))
                run = []
                continue
            run.append(f"{px(x)},{py(y)}")
            dots.append((px(x), py(y), f"{name}: {y_format(y)}"))
        if run:
            segments.append(" ".join(run))
        lines.append(Line(name, tuple(segments), tuple(dots), css[i % len(css)]))
    y_ticks = tuple(Tick(py(top * k / 4), y_format(top * k / 4)) for k in range(5))
    ticks = x_ticks if x_ticks is not None else [(x, f"{x:g}") for x in xs]
    return Chart(title, x_label, y_label, tuple(lines), tuple(Tick(px(x), label) for x, label in ticks), y_ticks,
                 markers=tuple(Rule(px(x), label, css_) for x, label, css_ in markers if x0 <= x <= x1),
                 references=tuple(Rule(py(y), label, "reference") for y, label in references))
