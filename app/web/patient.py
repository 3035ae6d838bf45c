"""The bedside page for the launched patient, its nursing-assessment and screening fragments, and the screening form.

The page reads FHIR once (`app.bedside.take_snapshot`); the screening fragment and form read only the database.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request

from app.alerts import store
from app.bedside import clock_text, headline_panel, screening_panel
from app.nursing import form as screenings

from . import risk_trend, snapshot
from .forms import back_to_page, submission_id
from .guards import is_htmx, launched, require_role, services
from .scope import audit, context

bp = Blueprint("patient", __name__)

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


@bp.get("/patients/<patient_id>")
@launched
def page(patient_id: str):
    view = snapshot.take()
    alert = view.alert.alert
    audit("view_patient", target=f"alert/{alert.id}" if alert else None,
          detail={"round_trips": view.round_trips, "level": view.assessment.level,
                  "alert": alert.id if alert else None, "alert_state": alert.state if alert else None})
    notice = NOTICES.get(request.args.get("notice", ""))
    trend = risk_trend.build(services().engine, context().scope, services().clinical_now())
    return render_template("patient/page.html", view=view, notice=notice, trend=trend)


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
    view = snapshot.take(with_bundle=False)
    audit("view_assessment", detail={"round_trips": view.round_trips, "level": view.assessment.level})
    return render_template("patient/_assessment.html", assessment=view.assessment)


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
            return snapshot.page_with(422, screening=panel)
        return render_template("patient/_screening.html", screening=panel), 422
    alert = store.newest(svc.engine, ctx.scope)
    saved, replayed = screenings.save(svc.engine, ctx.scope, data, ctx.actor, sid, now, alert.id if alert else None)
    audit("submit_screening", outcome="replayed" if replayed else "ok", target=f"nurse_screening/{saved.id}")
    if not is_htmx():
        return back_to_page(patient_id, "screening")
    panel = screening_panel(svc.engine, ctx, now, notice=f"Saved at {clock_text(saved.submitted_at, now)}.")
    return render_template("patient/_screening.html", screening=panel), 200, {"HX-Trigger": "screening-saved"}
