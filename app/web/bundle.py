"""The treatment bundle: its fragment (FHIR is read only once an alert is confirmed) and the order actions.

An order answers with its cell fragment; the EHR call is a conditional create, so a retry never doubles an order.
Only providers may order (403 on the server; nurses see the order and a disabled button with the reason).
"""

from __future__ import annotations

import logging
from datetime import datetime

from flask import Blueprint, abort, g, render_template, request

from app.alerts import store
from app.bedside import OrderCell, OrderInvalid, bundle_only, clock_text, place_order
from app.bundle import AlreadyOrdered, FluidDefaults, NotConfirmed, OrderNotPlaced, orders

from .errors import Page, render
from .forms import back_to_page, submission_id
from .guards import is_htmx, launched, require_role, services
from .scope import alert_target, audit, audit_refusal, context
from .snapshot import fetch_settings

log = logging.getLogger(__name__)

bp = Blueprint("bundle", __name__)
ELEMENTS = ("lactate", "blood_cultures", "antibiotics", "fluids", "vasopressors", "repeat_lactate")


@bp.get("/patients/<patient_id>/bundle")
@launched
def panel(patient_id: str):
    svc = services()
    transport = svc.transport_for(g.session)
    bundle = bundle_only(transport, svc.engine, context(), svc.clock(), fetch_settings())
    audit("view_bundle", target=f"alert/{bundle.alert.id}" if bundle.alert else None,
          detail={"round_trips": transport.round_trips})
    return render_template("bundle/_bundle.html", bundle=bundle)


def _cell(alert_id: int, element: str, *, notice: str | None = None, error: str | None = None,
          choice: str | None = None) -> OrderCell:
    svc, ctx, now = services(), context(), services().clock()
    # The alert id comes from the URL: it must be this patient's alert on this EHR before its orders are shown
    # (AlertNotFound, a 404, otherwise), or enumerating ids would show other patients' orders.
    alert = store.for_patient(svc.engine, alert_id, ctx.scope)
    record = orders.for_alert(svc.engine, alert.id, alert.iss).get(element)
    return OrderCell.build(ctx, alert_id, element, record, orderable=record is None or record.retryable(now), now=now,
                           notice=notice, error=error, choice=choice, review=_typed_review())


def _typed_review() -> FluidDefaults | None:
    """A fluid review step as it was sent (a 422 shows what was typed, with the weight's recorded time)."""
    if "volume_ml" not in request.form and "weight_kg" not in request.form:
        return None
    try:
        recorded = datetime.fromisoformat(request.form.get("weight_time", ""))
    except ValueError:
        recorded = None
    return FluidDefaults(request.form.get("weight_kg", "")[:16], request.form.get("volume_ml", "")[:16],
                         recorded if recorded and recorded.tzinfo else None)


@bp.post("/patients/<patient_id>/alerts/<int:alert_id>/orders/<element>")
@launched
@require_role("place_orders")
def order(patient_id: str, alert_id: int, element: str):
    svc, ctx, now = services(), context(), services().clock()
    if element not in ELEMENTS:
        abort(404)
    sid = submission_id()
    if sid is None:
        audit("place_order", outcome="invalid", target=f"alert/{alert_id}", detail={"element": element})
        return render_template("bundle/_order.html", order=_cell(
            alert_id, element, error="This form has expired. Reload the page and order again.")), 422
    try:
        placed, replayed = place_order(svc.transport_for(g.session), svc.engine, ctx, alert_id, element,
                                       request.form.get("choice"), sid, now, review=request.form)
    except OrderInvalid as exc:
        audit("place_order", outcome="invalid", target=f"alert/{alert_id}", detail={"element": element})
        return render_template("bundle/_order.html", order=_cell(alert_id, element, error=str(exc),
                                                                  choice=request.form.get("choice"))), 422
    audit("place_order", outcome="replayed" if replayed else "ok", target=f"bundle_order/{placed.id}",
          detail={"element": element, "alert": alert_id, "fhir": placed.reference})
    if not is_htmx():
        return back_to_page(patient_id, "ordered")
    notice = f"Sent to the EHR at {clock_text(placed.placed_at or now, now)}." if placed.fhir_id else None
    return (render_template("bundle/_order.html", order=_cell(alert_id, element, notice=notice)), 200,
            {"HX-Trigger": "order-placed"})


@bp.app_errorhandler(AlreadyOrdered)
def conflict_response(exc: AlreadyOrdered):
    """409: the element's order as it stands (someone else placed it first)."""
    o = exc.order
    audit("place_order", outcome="conflict", target=f"bundle_order/{o.id}", detail={"element": o.element})
    if not is_htmx():
        return back_to_page(context().patient_id, "ordered")
    who = o.requested_by_name or "someone"
    cell = _cell(o.alert_id, o.element,
                 error=f"Not sent again: {who} already ordered this at {clock_text(o.requested_at, services().clock())}.")
    return render_template("bundle/_order.html", order=cell), 409


@bp.app_errorhandler(NotConfirmed)
def not_confirmed(_exc: NotConfirmed):
    audit_refusal("place_order", "not_confirmed", target=alert_target())
    return render(Page(409, "Not saved: the alert is not confirmed",
                       "Bundle orders can be placed only after a provider confirms the alert. Nothing was ordered."))


@bp.app_errorhandler(OrderNotPlaced)
def not_placed(exc: OrderNotPlaced):
    """The EHR refused or did not answer: the order is recorded as failed, and the page says "not saved"."""
    o = exc.order
    log.warning("order not placed: order=%s code=%s", o.id, exc.code)
    audit("place_order", outcome="failed", target=f"bundle_order/{o.id}", detail={"element": o.element,
                                                                                   "error": exc.code})
    return render(Page(exc.status, "Not saved: the order was not placed",
                       "The EHR did not accept the order or did not answer, so nothing was ordered. Try again: the "
                       "same order cannot be placed twice."))
