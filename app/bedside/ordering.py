"""The ordering command: a provider proposes one bundle order (an antibiotic, cultures, lactate, fluids) to the EHR.

Recorded first, then sent: the row is committed as "sending" before the EHR is called, and the EHR call is a
conditional create, so neither a retry nor a resubmitted form doubles an order.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

import sqlalchemy as sa

from app.alerts import store
from app.bundle import NotConfirmed, OrderNotPlaced, ReviewInvalid, SubmissionTaken, fluid_review
from app.bundle import orders as bundle_orders
from app.fhir import FhirError, Transport
from app.fhir.references import id_of, relative

from .errors import OrderInvalid
from .page_context import PageContext

log = logging.getLogger(__name__)


def place_order(transport: Transport, engine: sa.Engine, ctx: PageContext, alert_id: int, element: str,
                choice: str | None, submission_id: str, now: datetime,
                review: Mapping[str, str] | None = None) -> tuple[bundle_orders.OrderRecord, bool]:
    """Record, then send, one bundle order; (order, replayed). The row is committed as "sending" before the EHR
    is called and the EHR call is a conditional create, so neither a retry nor a resubmitted form doubles it.
    A fluid order carries the volume and weight the provider reviewed (`review`: the form's volume_ml and
    weight_kg); nothing is computed behind their back.
    Raises NotConfirmed, AlreadyOrdered, OrderInvalid, OrderNotPlaced (the EHR refused or did not answer)."""
    alert = store.for_patient(engine, alert_id, ctx.scope)
    if alert.time_zero is None:
        raise NotConfirmed(alert)
    what = bundle_orders.orderable_for(element, choice)
    if what is None:
        raise OrderInvalid("Choose what to order.")
    try:
        fluids = fluid_review(review or {}) if element == "fluids" else None
    except ReviewInvalid as exc:
        raise OrderInvalid(str(exc)) from exc
    volume = fluids.volume_ml if fluids else None
    try:
        begun = bundle_orders.begin(engine, alert.id, element, what, volume, ctx.actor, submission_id, now,
                                    iss=alert.iss)
    except SubmissionTaken as exc:
        raise OrderInvalid("This form has expired. Reload the page and order again.") from exc
    if not begun.send:
        return begun.order, True
    resource = bundle_orders.fhir_resource(
        begun.order, what, patient_id=ctx.patient_id, encounter_id=alert.encounter_id,
        requester=relative(ctx.user_ref, transport.base), requester_name=ctx.user_name, now=now,
        weight_kg=fluids.weight_kg if fluids else None)
    try:
        created = transport.create(what.resource_type, resource,
                                   if_none_exist=bundle_orders.if_none_exist(begun.order, ctx.patient_id))
    except FhirError as exc:
        log.warning("bundle order %s not placed: %s", begun.order.id, exc.code)
        raise OrderNotPlaced(bundle_orders.failed(engine, begun.order, exc.code), exc.code) from exc
    fhir_id = id_of(created)
    if fhir_id is None:
        raise OrderNotPlaced(bundle_orders.failed(engine, begun.order, "no_id"), "no_id")
    log.info("bundle order %s placed as %s", begun.order.id, what.resource_type)
    return bundle_orders.placed(engine, begun.order, fhir_id, now), False
