"""Bundle orders: what may be ordered for each bundle element, and the record here of each order sent.

The row is committed as "sending" before the EHR is called, and the EHR call is a conditional create on the
order's identifier, so a retry (or a resubmitted form) never makes a second order. The FHIR resource itself
(a draft proposal) is built in `app.fhir.orders` from the plain values here.

Table `bundle_orders` (migration 0003; iss since 0007): id, iss (the alert's FHIR server, where the order
went), alert_id, element (UNIQUE per alert: one order per element), resource_type, identifier (UNIQUE), code_system, code, display, volume_ml, status (sending | placed | failed),
fhir_id, requested_at, requested_by, requested_by_name, role, submission_id (UNIQUE), placed_at,
error (an error code, never a message from the EHR).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from app.alerts.workflow import Actor
from app.db import TS, metadata
from app.fhir import orders as fhir_orders
from app.roles import allowed

from .elements import BLOOD_CULTURE_ORDER_CODE, LACTATE_ORDER_CODE, LOINC, RXNORM
from .errors import AlreadyOrdered, SubmissionTaken
from .record import FAILED, PLACED, SENDING, OrderRecord

IDENTIFIER_SYSTEM = "https://sepsis-sentinel.invalid/fhir/bundle-order"
ORDERERS = allowed("place_orders")

bundle_orders = sa.Table(
    "bundle_orders", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("iss", sa.Text, nullable=False),
    sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id"), nullable=False),
    sa.Column("element", sa.String(32), nullable=False),
    sa.Column("resource_type", sa.String(32), nullable=False),
    sa.Column("identifier", sa.String(64), nullable=False, unique=True),
    sa.Column("code_system", sa.Text, nullable=False),
    sa.Column("code", sa.String(64), nullable=False),
    sa.Column("display", sa.Text, nullable=False),
    sa.Column("volume_ml", sa.Integer),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("fhir_id", sa.String(64)),
    sa.Column("requested_at", TS, nullable=False),
    sa.Column("requested_by", sa.Text, nullable=False),
    sa.Column("requested_by_name", sa.Text),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("submission_id", sa.String(64), nullable=False, unique=True),
    sa.Column("placed_at", TS),
    sa.Column("error", sa.String(64)),
    sa.UniqueConstraint("alert_id", "element", name="uq_bundle_orders_alert_id"),
)


@dataclass(frozen=True)
class Orderable:
    """What a bundle element's order asks for."""

    resource_type: str
    system: str
    code: str
    display: str  # the code system's display (LOINC, RxNorm): goes in the coding only
    instruction: str | None = None
    words: str | None = None  # what a clinician calls the order: shown on the page and as the concept's text

    @property
    def name(self) -> str:
        return self.words or self.display


ANTIBIOTIC_CHOICES: dict[str, Orderable] = {
    "piperacillin": Orderable("MedicationRequest", RXNORM, "8339", "Piperacillin-tazobactam IV"),
    "cefepime": Orderable("MedicationRequest", RXNORM, "20481", "Cefepime IV"),
    "meropenem": Orderable("MedicationRequest", RXNORM, "29561", "Meropenem IV"),
    "ceftriaxone": Orderable("MedicationRequest", RXNORM, "2193", "Ceftriaxone IV"),
    "vancomycin": Orderable("MedicationRequest", RXNORM, "11124", "Vancomycin IV"),
}
ORDERABLES: dict[str, Orderable] = {
    "lactate": Orderable("ServiceRequest", LOINC, *LACTATE_ORDER_CODE, words="Lactate, stat"),
    "repeat_lactate": Orderable("ServiceRequest", LOINC, *LACTATE_ORDER_CODE, instruction="Repeat lactate",
                                words="Repeat lactate"),
    "blood_cultures": Orderable("ServiceRequest", LOINC, *BLOOD_CULTURE_ORDER_CODE,
                                instruction="Two sets, before the first antibiotic dose", words="Blood cultures x2"),
    "fluids": Orderable("MedicationRequest", RXNORM, "9863", "Sodium chloride 0.9% IV bolus"),
    "vasopressors": Orderable("MedicationRequest", RXNORM, "7512", "Norepinephrine IV infusion",
                              instruction="Titrate to a mean arterial pressure of 65 mmHg or more"),
}


def may_order(role: str) -> bool:
    return role in ORDERERS


def orderable_for(element: str, choice: str | None) -> Orderable | None:
    if element == "antibiotics":
        return ANTIBIOTIC_CHOICES.get(choice or "")
    return ORDERABLES.get(element)


def _order(row) -> OrderRecord:
    return OrderRecord(**{k: row[k] for k in OrderRecord.__dataclass_fields__})


def for_alert(engine: sa.Engine, alert_id: int, iss: str) -> dict[str, OrderRecord]:
    """The alert's orders, by element. Callers pass an alert they have checked is the patient's (store.for_patient);
    `iss` keeps an order on one EHR from ever answering for another's."""
    t = bundle_orders
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t).where(t.c.alert_id == alert_id, t.c.iss == iss)).mappings().all()
    return {r["element"]: _order(r) for r in rows}


def get(engine: sa.Engine, order_id: int) -> OrderRecord:
    with engine.connect() as conn:
        return _order(conn.execute(sa.select(bundle_orders).where(bundle_orders.c.id == order_id)).mappings().one())


@dataclass(frozen=True)
class Begun:
    order: OrderRecord
    send: bool  # False: this submission was already handled; answer with the stored order


def begin(engine: sa.Engine, alert_id: int, element: str, what: Orderable, volume_ml: int | None, actor: Actor,
          submission_id: str, now: datetime, *, iss: str) -> Begun:
    """Record the order as "sending" and commit, before the EHR is asked. A resubmission of the same form gets
    the stored order; an element already ordered by anyone raises AlreadyOrdered, unless that order failed or
    was interrupted, in which case this submission takes it over (same identifier, so the EHR cannot double it).
    """
    t = bundle_orders
    values = dict(iss=iss, alert_id=alert_id, element=element, resource_type=what.resource_type,
                  identifier=uuid.uuid4().hex, code_system=what.system, code=what.code, display=what.name,
                  volume_ml=volume_ml, status=SENDING, requested_at=now, requested_by=actor.user_ref,
                  requested_by_name=actor.user_name, role=actor.role, submission_id=submission_id)
    try:
        with engine.begin() as conn:
            new_id = conn.execute(t.insert().values(**values)).inserted_primary_key[0]
        return Begun(get(engine, new_id), send=True)
    except sa.exc.IntegrityError:
        pass
    with engine.connect() as conn:
        # A submission id counts only for this alert's element: a reused id never answers for another order.
        row = conn.execute(sa.select(t).where(t.c.submission_id == submission_id, t.c.alert_id == alert_id,
                                              t.c.element == element)).mappings().first()
        if row is None:
            row = conn.execute(sa.select(t).where(t.c.alert_id == alert_id, t.c.element == element)).mappings().first()
    if row is None:  # the id belongs to another alert's or element's order
        raise SubmissionTaken(f"submission id already used for another order (alert {alert_id}, {element})")
    existing = _order(row)
    if existing.submission_id == submission_id:
        return Begun(existing, send=existing.status == SENDING and existing.retryable(now))
    if existing.alert_id != alert_id or not existing.retryable(now):
        raise AlreadyOrdered(existing)
    try:
        with engine.begin() as conn:  # take over a failed or interrupted order, conditionally
            taken = conn.execute(t.update().where(t.c.id == existing.id, t.c.status == existing.status,
                                                  t.c.submission_id == existing.submission_id).values(
                status=SENDING, requested_at=now, requested_by=actor.user_ref, requested_by_name=actor.user_name,
                role=actor.role, submission_id=submission_id, error=None)).rowcount
    except sa.exc.IntegrityError as exc:
        raise SubmissionTaken("submission id already used for another order") from exc
    if not taken:
        raise AlreadyOrdered(get(engine, existing.id))
    return Begun(get(engine, existing.id), send=True)


def placed(engine: sa.Engine, order: OrderRecord, fhir_id: str, now: datetime) -> OrderRecord:
    with engine.begin() as conn:
        conn.execute(bundle_orders.update().where(bundle_orders.c.id == order.id).values(
            status=PLACED, fhir_id=fhir_id[:64], placed_at=now, error=None))
    return get(engine, order.id)


def failed(engine: sa.Engine, order: OrderRecord, code: str) -> OrderRecord:
    with engine.begin() as conn:
        conn.execute(bundle_orders.update().where(bundle_orders.c.id == order.id, bundle_orders.c.status == SENDING)
                     .values(status=FAILED, error=code[:64]))
    return get(engine, order.id)


def fhir_resource(order: OrderRecord, what: Orderable, *, patient_id: str, encounter_id: str | None,
                  requester: str, requester_name: str | None, now: datetime, weight_kg: float | None = None) -> dict:
    """The ServiceRequest or MedicationRequest for an order (FHIR R4), identified by the order's identifier.
    `weight_kg`: the weight the provider reviewed a fluid volume against, named in the dosage text."""
    return fhir_orders.order_proposal(
        what.resource_type, identifier=(IDENTIFIER_SYSTEM, order.identifier), coding=(what.system, what.code,
                                                                                       what.display),
        text=what.name, instruction=what.instruction, volume_ml=order.volume_ml, patient_id=patient_id,
        encounter_id=encounter_id, requester=requester, requester_name=requester_name, now=now, weight_kg=weight_kg)


def if_none_exist(order: OrderRecord, patient_id: str) -> str:
    """The conditional-create query that finds this very order if the EHR already stored it."""
    return fhir_orders.if_none_exist(patient_id, (IDENTIFIER_SYSTEM, order.identifier))
