"""The bedside page for the launched patient, its nursing-assessment and screening fragments, and the screening form.

The page reads FHIR once (`app.bedside.take_snapshot`); the screening fragment and form read only the database.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timedelta

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for

from app.alerts import store
from app.audit import record
from app.bedside import FetchSettings, PageContext, clock_text, headline_panel, screening_panel, take_snapshot
from app.bedside.timewords import duration_text
from app.nursing import form as screenings
from app.ops import metrics

from . import risk_trend
from .fhir_access import transport_for
from .guards import is_htmx, launched, require_role, services

bp = Blueprint("patient", __name__)

SUBMISSION_ID = re.compile(r"[0-9a-f]{32}")
NOTICES = {
    "confirmed": ("saved", "Alert confirmed. The treatment bundle's clocks have started."),
    "dismissed": ("saved", "Alert dismissed. It will not fire again during this encounter."),
    "paused": ("saved", "Alert paused."),
    "withdrawn": ("saved", "Confirmation withdrawn. The alert is active again; orders already proposed stay in the "
                           "EHR as drafts."),
    "conflict": ("conflict", "Not applied: someone else decided on this alert first. Its current state is shown."),
    "screening": ("saved", "Nurse screening saved."),
    "ordered": ("saved", "Order proposed to the EHR."),
}


def context() -> PageContext:
    return PageContext.of(g.session)


def fetch_settings() -> FetchSettings:
    st = services().settings
    return FetchSettings(lookback_hours=st.observation_lookback_hours, page_size=st.page_size, max_pages=st.max_pages)


def bedside_model():
    """The model the page scores with: the shipped artifact, unless a test or deployment set another."""
    return current_app.extensions.get("bedside.model")


def bedside_policy():
    return services().policy


def submission_id() -> str | None:
    value = (request.form.get("submission_id") or "").strip()
    return value if SUBMISSION_ID.fullmatch(value) else None


def audit(action: str, *, outcome: str = "ok", target: str | None = None, detail: dict | None = None) -> None:
    """One audit row for the current user and patient: ids, counts and codes only."""
    svc, s = services(), g.session
    record(svc.engine, at=svc.clock(), iss=s.iss, user_ref=s.user_ref, role=s.role, patient_id=s.patient_id, action=action,
           outcome=outcome, target=target, detail=detail)


def back_to_page(patient_id: str, notice: str):
    """Without htmx, an action answers 303 to the page (design.md, htmx conventions)."""
    return redirect(url_for("patient.page", patient_id=patient_id, notice=notice), code=303)


@bp.app_template_filter("clock")
def clock_filter(t: datetime | str | None) -> str:
    if t is None:
        return ""
    if isinstance(t, str):
        t = datetime.fromisoformat(t)
    return clock_text(t, services().clock())


@bp.app_template_filter("duration")
def duration_filter(delta: timedelta) -> str:
    return duration_text(delta)


@bp.app_template_filter("pct")
def pct_filter(p: float | None) -> str:
    return "" if p is None else f"{p * 100:.0f}%"


@bp.app_template_filter("num")
def num_filter(value: float) -> str:
    return f"{value:.4g}" if abs(value) < 1000 else f"{value:.0f}"


@bp.app_template_filter("local_input")
def local_input_filter(t: datetime) -> str:
    """The value an <input type=datetime-local> shows, in the site's zone."""
    return t.astimezone(services().clock().tzinfo).strftime("%Y-%m-%dT%H:%M")


def page_with(status: int, **panels):
    """Without htmx, a form with errors comes back inside the whole page (status 422), its input kept."""
    snapshot = dataclasses.replace(_snapshot(g.session.patient_id), **panels)
    return render_template("patient/page.html", view=snapshot, notice=None), status


def _snapshot(patient_id: str, with_bundle: bool = True):
    svc, s = services(), g.session
    transport = transport_for(s)
    snapshot = take_snapshot(transport, svc.engine, context(), svc.clinical_now(), fetch_settings(),
                             model=bedside_model(), policy=bedside_policy(), with_bundle=with_bundle)
    metrics.assessment(snapshot.assessment.level)
    return snapshot


@bp.get("/patients/<patient_id>")
@launched
def page(patient_id: str):
    snapshot = _snapshot(patient_id)
    alert = snapshot.alert.alert
    audit("view_patient", target=f"alert/{alert.id}" if alert else None,
          detail={"round_trips": snapshot.round_trips, "level": snapshot.assessment.level,
                  "alert": alert.id if alert else None, "alert_state": alert.state if alert else None})
    notice = NOTICES.get(request.args.get("notice", ""))
    trend = risk_trend.build(services().engine, context().scope, services().clinical_now())
    return render_template("patient/page.html", view=snapshot, notice=notice, trend=trend)


@bp.get("/patients/<patient_id>/headline")
@launched
def headline(patient_id: str):
    """The headline alone (database only): what the page shows after a decision."""
    svc, ctx = services(), context()
    panel = headline_panel(ctx, svc.clock(), store.newest(svc.engine, ctx.scope))
    return render_template("patient/_headline.html", headline=panel)


@bp.get("/patients/<patient_id>/assessment")
@launched
def assessment(patient_id: str):
    snapshot = _snapshot(patient_id, with_bundle=False)
    audit("view_assessment", detail={"round_trips": snapshot.round_trips, "level": snapshot.assessment.level})
    return render_template("patient/_assessment.html", assessment=snapshot.assessment)


@bp.get("/patients/<patient_id>/screening")
@launched
def screening(patient_id: str):
    audit("view_screening")
    return render_template("patient/_screening.html", screening=screening_panel(services().engine, context(),
                                                                                services().clock()))


@bp.post("/patients/<patient_id>/screening")
@launched
@require_role("submit_the_nurse_screening")
def submit_screening(patient_id: str):
    svc, ctx, now = services(), context(), services().clock()
    form = {k: request.form.get(k, "") for k in ("infection_source", "infection_other", "new_confusion",
                                                 "provider_notified_at")}
    sid = submission_id()
    data, errors = screenings.validate(form, now)
    if sid is None:
        errors = {**errors, "form": "This form has expired. Reload the page and submit it again."}
    if errors:
        audit("submit_screening", outcome="invalid", detail={"fields": sorted(errors)})
        panel = screening_panel(svc.engine, ctx, now, errors=errors, form=form,
                                notice="Not saved: please correct the fields marked below.")
        if not is_htmx():
            return page_with(422, screening=panel)
        return render_template("patient/_screening.html", screening=panel), 422
    alert = store.newest(svc.engine, ctx.scope)
    saved, replayed = screenings.save(svc.engine, ctx.scope, data, ctx.actor, sid, now, alert.id if alert else None)
    audit("submit_screening", outcome="replayed" if replayed else "ok", target=f"nurse_screening/{saved.id}")
    if not is_htmx():
        return back_to_page(patient_id, "screening")
    panel = screening_panel(svc.engine, ctx, now, notice=f"Saved at {clock_text(saved.submitted_at, now)}.")
    return render_template("patient/_screening.html", screening=panel), 200, {"HX-Trigger": "screening-saved"}
