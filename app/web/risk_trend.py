"""The risk over time on the bedside page: the recorded scores of this encounter (the screening's and each chart
open's, app.screening.history), drawn as a server-rendered line with the site threshold, for the last 24 hours."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from app.screening import history

from .charts import Chart, line_chart

HOURS = 24


@dataclass(frozen=True)
class RiskTrend:
    chart: Chart | None  # None with fewer than two scores to draw
    scores: int
    abstentions: int
    from_screening: int
    hours: int = HOURS


def build(engine, scope, now: datetime) -> RiskTrend:
    """The trend of the scope's scores (an app.alerts.workflow.Scope: its FHIR server and encounter)."""
    points = history.trend(engine, scope.iss, scope.key, since=now - timedelta(hours=HOURS))
    scored = [p for p in points if p.probability is not None]
    abstained = len(points) - len(scored)
    screened = sum(p.source == history.SCREENING for p in points)
    if len(scored) < 2:
        return RiskTrend(None, len(scored), abstained, screened)
    xs = [(p.at - now).total_seconds() / 3600 for p in points]
    ys = [p.probability * 100 if p.probability is not None else None for p in points]
    threshold = next((p.threshold for p in reversed(points) if p.threshold is not None), None)
    span = -xs[0]
    step = 1 if span <= 6 else 3 if span <= 12 else 6
    ticks = [(-float(h), f"-{h} h") for h in range(step, HOURS + 1, step) if xs[0] <= -h < xs[-1] - step / 2]
    ticks.append((xs[-1], "now"))
    chart = line_chart("Risk of sepsis over time", xs, {"risk (%)": ys}, x_label="hours before now", y_label="risk of sepsis, %",
                       y_format=lambda v: f"{v:.0f}", x_ticks=ticks,
                       references=[(threshold * 100, f"site threshold {threshold * 100:.3g}%")] if threshold else ())
    return RiskTrend(chart, len(scored), abstained, screened)
