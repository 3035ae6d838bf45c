"""The template filters every page uses: times in the site's zone, durations, percentages, numbers."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Flask

from app.bedside import clock_text
from app.bedside.timewords import duration_text

from .guards import services


def clock_filter(t: datetime | str | None) -> str:
    if t is None:
        return ""
    if isinstance(t, str):
        t = datetime.fromisoformat(t)
    return clock_text(t, services().clock())


def duration_filter(delta: timedelta) -> str:
    return duration_text(delta)


def pct_filter(p: float | None) -> str:
    return "" if p is None else f"{p * 100:.0f}%"


def num_filter(value: float) -> str:
    return f"{value:.4g}" if abs(value) < 1000 else f"{value:.0f}"


def local_input_filter(t: datetime) -> str:
    """The value an <input type=datetime-local> shows, in the site's zone."""
    return t.astimezone(services().clock().tzinfo).strftime("%Y-%m-%dT%H:%M")


FILTERS = {"clock": clock_filter, "duration": duration_filter, "pct": pct_filter, "num": num_filter,
           "local_input": local_input_filter}


def init_app(app: Flask) -> None:
    for name, function in FILTERS.items():
        app.add_template_filter(function, name)
