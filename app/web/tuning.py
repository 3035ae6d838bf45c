"""Site tuning for the deployment team: the model card's operating points across thresholds, as a table and
plots, and the form that sets this site's alert threshold (versioned and audited by app.alerts.thresholds).

A change applies to alerts raised after it; each alert records the threshold version it was raised with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from flask import Blueprint, g, redirect, render_template, request, url_for

from app.alerts import thresholds

from .charts import Chart, line_chart
from .guards import any_session, is_htmx, require_role, services
from .model_card import current_card, default_threshold

bp = Blueprint("tuning", __name__, url_prefix="/tuning")

# Which operating points to show first: a site-adapted model's own held-out site patients, else hospital B.
SETS = {"site": "held-out patients of this site (site-adapted model)", "B": "hospital B (never seen in training)",
        "heldout_A": "held-out patients of hospital A"}


@dataclass
class Tuning:
    """What `_tuning.html` shows."""

    card: dict | None
    chosen_set: str | None
    points: list[dict]
    current: thresholds.SiteThreshold | None
    history: list[dict]
    default: float | None
    charts: list[Chart] = field(default_factory=list)
    value: str = ""
    reason: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    conflict: bool = False
    saved: bool = False

    @property
    def sets(self) -> dict[str, str]:
        available = (self.card or {}).get("operating_points") or {}
        return {k: v for k, v in SETS.items() if available.get(k)}


def _pct(v: float) -> str:
    return f"{v * 100:.0f}%"


def charts_for(points: list[dict], site: float | None, default: float | None) -> list[Chart]:
    """One small chart per measure across the card's thresholds, with the site's and the model's threshold marked."""
    xs = [p["threshold"] for p in points]
    markers = [(default, "model", "model")] if default is not None else []
    if site is not None and (default is None or not math.isclose(site, default)):
        markers.append((site, "this site", ""))
    elif site is not None:
        markers = [(site, "this site = model", "")]

    # Ticks at round thresholds (the card's grid is uneven: 0.02 ... 0.1, then 0.12, 0.15, 0.2, 0.3).
    step = 0.05 if xs and max(xs) - min(xs) > 0.15 else 0.02
    ticks = [(round(k * step, 3), f"{k * step * 100:g}%") for k in range(1, 100)
             if xs and min(xs) - 1e-9 <= k * step <= max(xs) + 1e-9]

    def chart(title, key, **kw):
        return line_chart(title, xs, {title: [p.get(key) for p in points]},
                          x_label="alert threshold (estimated risk of sepsis)", markers=markers, x_ticks=ticks, **kw)

    return [
        chart("Sensitivity", "sensitivity", y_label="septic patients alerted before onset", y_max=1.0,
              y_format=_pct),
        chart("Precision", "precision", y_label="alerted patients who were septic", y_max=1.0, y_format=_pct,
              references=[(0.38, "TREWS 38% confirmed")]),
        chart("Alerts per patient-day", "alerts_per_patient_day", y_label="new alerts per 24 patient-hours",
              y_format="{:.2g}".format),
        chart("Median lead time (h)", "median_lead_time_h", y_label="hours from first alert to sepsis onset",
              y_format="{:.3g}".format),
    ]


def build(chosen: str | None = None, **form) -> Tuning:
    svc = services()
    card = current_card()
    default = default_threshold()
    iss = g.session.iss
    current = thresholds.current(svc.engine, default, iss=iss) if default is not None else None
    available = (card or {}).get("operating_points") or {}
    if chosen not in available or not available.get(chosen):
        chosen = next((k for k in SETS if available.get(k)), None)
    points = list(available.get(chosen) or [])
    tuning = Tuning(card=card, chosen_set=chosen, points=points, current=current,
                    history=thresholds.history(svc.engine, iss=iss), default=default, **form)
    if not tuning.value and current is not None:
        tuning.value = f"{current.value:g}"
    tuning.charts = charts_for(points, current.value if current else None, default) if points else []
    return tuning


@bp.get("")
@any_session
@require_role("tune_the_site_threshold")
def page():
    return render_template("tuning/page.html", tuning=build(request.args.get("set")))


def _respond(tuning: Tuning, status: int):
    template = "tuning/_tuning.html" if is_htmx() else "tuning/page.html"
    return render_template(template, tuning=tuning), status


@bp.post("/threshold")
@any_session
@require_role("tune_the_site_threshold")
def set_threshold():
    """422: a value or reason the form must fix. 409: someone changed the threshold since this page was loaded
    (the page shows their value; nothing was overwritten). 200/303: saved, for new alerts only."""
    svc, s = services(), g.session
    raw, reason, chosen = request.form.get("value", "").strip(), request.form.get("reason", ""), request.form.get("set")
    default = default_threshold()
    if default is None:
        return _respond(build(chosen, value=raw, reason=reason,
                              errors={"value": "No model card is installed, so there is no threshold to tune."}), 422)
    try:
        value = float(raw)
        expected = int(request.form.get("expected_version", ""))
        if not math.isfinite(value):
            raise ValueError(raw)
    except ValueError:
        return _respond(build(chosen, value=raw, reason=reason,
                              errors={"value": "Enter the threshold as a number between 0 and 1, e.g. 0.08."}), 422)
    card = current_card() or {}
    try:
        thresholds.set_threshold(svc.engine, iss=s.iss, value=value, default=default, expected_version=expected,
                                 model_version=card.get("model", {}).get("version", "unknown"),
                                 user_ref=s.user_ref, user_name=s.user_name, role=s.role, reason=reason,
                                 now=svc.clock())
    except thresholds.ThresholdError as exc:
        if exc.field == "conflict":
            return _respond(build(chosen, reason=reason, conflict=True, errors={"value": str(exc)}), 409)
        return _respond(build(chosen, value=raw, reason=reason, errors={exc.field: str(exc)}), 422)
    if is_htmx():
        return _respond(build(chosen, saved=True), 200)
    return redirect(url_for("tuning.page", set=chosen or None), code=303)
