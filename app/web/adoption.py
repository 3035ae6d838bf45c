"""Adoption metrics for the deployment team: alerts fired, evaluated, confirmed, paused and dismissed, overall, by
care unit and by week, beside the TREWS figures; feedback counts; plots and a CSV export (app.adoption)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import Blueprint, Response, render_template, request

from app import adoption, feedback
from app.alerts.workflow import DISMISS_REASONS
from app.bedside.timewords import zone_text
from app.cds import store as cds_store

from .charts import Chart, line_chart
from .guards import any_session, require_role, services

bp = Blueprint("adoption", __name__, url_prefix="/adoption")

PERIODS = {"7": 7, "30": 30, "90": 90, "365": 365}  # days; anything else = all time


@dataclass(frozen=True)
class Adoption:
    period: str
    since: datetime | None
    now: datetime
    overall: adoption.Summary
    units: list[tuple[str, adoption.Summary]]
    weeks: list[tuple[date, adoption.Summary, int]]  # with feedback received that week
    feedback: dict
    charts: list[Chart]
    trews: dict
    reasons: dict[str, str]
    cards: cds_store.CardCounts  # CDS Hooks cards shown in the EHR, accepted, overridden (and why)


def _period() -> tuple[str, datetime | None, datetime]:
    now = services().clock()
    period = request.args.get("days", "all")
    if period not in PERIODS:
        return "all", None, now
    return period, now - timedelta(days=PERIODS[period]), now


def build() -> Adoption:
    svc = services()
    period, since, now = _period()
    rows = adoption.load(svc.engine, since=since)
    zone = now.tzinfo  # the site's: the weeks a ward manager reads
    sent = Counter(adoption.week_of(t, zone) for t in feedback.created_times(svc.engine, since=since))
    weeks = [(week, summary, sent[week]) for week, summary in adoption.by_week(rows, now, zone)]
    return Adoption(period=period, since=since, now=now, overall=adoption.summarize(rows, now),
                    units=adoption.by_unit(rows, now), weeks=weeks, feedback=feedback.counts(svc.engine, since=since),
                    charts=charts_for(weeks, zone_text(now)), trews=adoption.TREWS, reasons=DISMISS_REASONS,
                    cards=cds_store.card_counts(svc.engine, since=since))


def charts_for(weeks: list[tuple[date, adoption.Summary, int]], zone: str = "UTC") -> list[Chart]:
    if not weeks:
        return []
    xs = list(range(len(weeks)))
    step = max(1, len(weeks) // 6)
    ticks = [(i, f"{weeks[i][0]:%d %b}") for i in xs[::step]]
    return [
        line_chart("Alerts fired per week", xs, {"alerts fired": [s.fired for _, s, _ in weeks],
                                                 "feedback received": [f for _, _, f in weeks]},
                   x_label=f"week starting (Monday, {zone})", y_label="count", x_ticks=ticks,
                   y_format=lambda v: f"{v:.3g}"),
        line_chart("Evaluated and confirmed, by week", xs,
                   {"% evaluated (of fired)": [s.evaluated.fraction for _, s, _ in weeks],
                    "% confirmed (of evaluated)": [s.confirmed.fraction for _, s, _ in weeks]},
                   x_label=f"week starting (Monday, {zone})", y_label="share of alerts", x_ticks=ticks, y_max=1.0,
                   y_format=lambda v: f"{v * 100:.0f}%",
                   references=[(adoption.TREWS["evaluated"], "TREWS 89% evaluated"),
                               (adoption.TREWS["confirmed"], "TREWS 38% confirmed")]),
    ]


@bp.get("")
@any_session
@require_role("read_adoption_metrics")
def page():
    return render_template("adoption/page.html", adoption=build(), periods=PERIODS)


@bp.get("/export.csv")
@any_session
@require_role("read_adoption_metrics")
def export():
    """The same figures as the page: one row for all alerts, one per care unit, one per week."""
    a = build()
    rows = [adoption.csv_row("all", a.period if a.period == "all" else f"last {a.period} days", a.overall,
                            a.feedback["total"])]
    rows += [adoption.csv_row("unit", unit, s) for unit, s in a.units]
    rows += [adoption.csv_row("week", week.isoformat(), s, n) for week, s, n in a.weeks]
    name = f"sentinel-adoption-{a.now:%Y%m%d}-{a.period}.csv"
    return Response(adoption.csv_text(adoption.CSV_COLUMNS, rows), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
