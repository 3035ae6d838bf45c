"""The provider evaluation: the alert fragment and the confirm / dismiss / pause actions (database only, no FHIR).

A decision answers with the alert fragment and `HX-Trigger: alert-changed`, so the bundle section refreshes
itself; without htmx, 303 to the page. Role and patient binding are checked on the server (403); a decision on
an alert already decided is 409 with who decided what and when; a resubmitted form gets the stored outcome.
"""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from app.alerts import store
from app.alerts.errors import AlreadyDecided
from app.alerts.workflow import DecisionInvalid, applies_to, parse_decision
from app.bedside import alert_panel, clock_text

from .forms import back_to_page, submission_id
from .guards import is_htmx, launched, require_role, services
from .scope import audit, context
from .snapshot import page_with

bp = Blueprint("alerts", __name__)
KINDS = ("confirm", "dismiss", "pause")
DONE_WORDS = {"confirm": "confirmed", "dismiss": "dismissed", "pause": "paused", "withdraw": "withdrawn"}


@bp.get("/patients/<patient_id>/alert")
@launched
def panel(patient_id: str):
    panel = alert_panel(services().engine, context(), services().clock())
    audit("view_alert", target=f"alert/{panel.alert.id}" if panel.alert else None)
    return render_template("alerts/_alert.html", alert=panel)


@bp.post("/patients/<patient_id>/alerts/<int:alert_id>/<kind>")
@launched
@require_role("decide_on_alerts")
def decide(patient_id: str, alert_id: int, kind: str):
    if kind not in KINDS:
        abort(404)
    return _decide(patient_id, alert_id, kind)


@bp.post("/patients/<patient_id>/alerts/<int:alert_id>/withdraw")
@launched
@require_role("withdraw_confirmation")
def withdraw(patient_id: str, alert_id: int):
    """Take back a mistaken confirmation, with a reason: the alert is active again and the history keeps both."""
    return _decide(patient_id, alert_id, "withdraw")


def _decide(patient_id: str, alert_id: int, kind: str):
    svc, ctx, now = services(), context(), services().clock()
    alert = store.for_patient(svc.engine, alert_id, ctx.scope)
    if kind == "withdraw" and alert.state != applies_to(kind):
        raise AlreadyDecided(alert, alert.state)  # nothing to withdraw: 409 with where the alert stands
    form = {k: request.form.get(k, "") for k in ("reason", "note", "duration", "until")}
    sid = submission_id()
    try:
        if sid is None:
            raise DecisionInvalid({"form": "This form has expired. Reload the page and decide again."})
        decision = parse_decision(kind, request.form, now)
    except DecisionInvalid as exc:
        audit(f"{kind}_alert", outcome="invalid", target=f"alert/{alert_id}", detail={"fields": sorted(exc.errors)})
        panel = alert_panel(svc.engine, ctx, now, alert=alert, errors={f"{kind}.{k}": v for k, v in exc.errors.items()},
                            form={f"{kind}.{k}": v for k, v in form.items()},
                            notice="Not saved: please correct the fields marked below.", notice_kind="failed")
        if not is_htmx():
            return page_with(422, alert=panel)
        return render_template("alerts/_alert.html", alert=panel), 422
    outcome = store.decide(svc.engine, alert_id, decision, ctx.actor, sid, now)  # committed before we answer
    audit(f"{kind}_alert", outcome="replayed" if outcome.replayed else "ok", target=f"alert/{alert_id}",
          detail={"state": outcome.alert.state})
    if not is_htmx():
        return back_to_page(patient_id, DONE_WORDS[kind])
    words = f"{DONE_WORDS[kind].capitalize()} at {clock_text(outcome.alert.last_action_at, now)}."
    if kind == "withdraw":
        words = (f"Confirmation withdrawn at {clock_text(outcome.alert.last_action_at, now)}. The alert is active "
                 "again; orders already proposed stay in the EHR as drafts: cancel them there if not wanted.")
    if outcome.replayed:
        words = f"Already recorded: {words}"
    panel = alert_panel(svc.engine, ctx, now, alert=outcome.alert, notice=words)
    return render_template("alerts/_alert.html", alert=panel), 200, {"HX-Trigger": "alert-changed"}


@bp.app_errorhandler(AlreadyDecided)
def conflict_response(exc: AlreadyDecided):
    """409: the alert as it now stands, saying who decided what and when."""
    svc, ctx, now = services(), context(), services().clock()
    a = exc.alert
    attempted = request.view_args.get("kind") or ("withdraw" if request.endpoint == "alerts.withdraw" else "decide")
    audit(f"{attempted}_alert", outcome="conflict", target=f"alert/{a.id}",
          detail={"state": a.state})
    if not is_htmx():
        return back_to_page(ctx.patient_id, "conflict")
    who = a.last_action_by_name or a.last_action_by or "someone"
    when = clock_text(a.last_action_at, now) if a.last_action_at else "earlier"
    verb = store.STATE_WORDS.get(a.state, a.state)
    if a.state == "lapsed":
        notice = (f"Not applied: this alert closed at {clock_text(a.state_at, now)}, when its pause ended and the "
                  "criteria no longer held.")
    elif attempted == "withdraw":
        notice = (f"Not applied: this alert is no longer confirmed ({verb} since {when}, by {who}), so there is no "
                  "confirmation to withdraw.")
    else:
        notice = f"Not applied: this alert was already {verb} by {who} at {when}."
    panel = alert_panel(svc.engine, ctx, now, alert=a, notice=notice, notice_kind="conflict")
    return render_template("alerts/_alert.html", alert=panel), 409, {"HX-Trigger": "alert-changed"}
