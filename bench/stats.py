"""The one percentile every benchmark reports: nearest rank, so p95 of 60 timings is one of the 60, never an
interpolation between them."""

from __future__ import annotations


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]
