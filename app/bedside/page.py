"""One page load, straight through: FHIR record -> mapping -> model score -> alert policy -> alert workflow
(raise, resume, lapse) -> for a confirmed alert, the treatment bundle (three more FHIR searches) -> every panel.

`take_snapshot` reads each thing once and hands it down: one record, one Encounter, one alert (the workflow's
answer), one latest nurse screening; the panels build from those and read nothing again. The fragments that change
after an action (`app.bedside.panels`) read only the database, so a decision never costs a FHIR round trip. No
Flask here: the web layer hands in a transport and a context, and renders what comes back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from app import roles
from app.alerts import store
from app.alerts.policy import Policy
from app.assessment import assess_and_sync
from app.assessment import resolve_model as resolve_scoring_model
from app.bundle import evaluate
from app.fhir import PatientRecord, Transport, fetch_patient_record, map_record
from app.fhir.encounters import icu_admission, read_encounter, unit_of
from app.model import Model, load_model
from app.nursing import form as screenings
from app.screening.history import CHART

from .banner import Banner, banner
from .bundle_facts import bundle_facts
from .data_lists import DataLists, data_lists
from .nursing_assessment import NursingAssessment, nursing_assessment
from .page_context import PageContext
from .panels import (
    AlertPanel,
    BundlePanel,
    HeadlinePanel,
    ScreeningPanel,
    alert_panel,
    bundle_panel,
    headline_panel,
    screening_panel,
)

log = logging.getLogger(__name__)

NURSING, PROVIDER, BUNDLE = "nursing", "provider", "bundle"  # the page's sections (not roles)


def section_order(role: str, alert: store.AlertRecord | None) -> tuple[str, ...]:
    """Each role's task first, every section for everyone: the nurse's screening; the provider's decision, or
    once confirmed the bundle and its clocks; the rest in the page's usual order."""
    if role == roles.PROVIDER:
        confirmed = alert is not None and alert.time_zero is not None
        return (BUNDLE, PROVIDER, NURSING) if confirmed else (PROVIDER, BUNDLE, NURSING)
    return (NURSING, PROVIDER, BUNDLE)


@dataclass(frozen=True)
class Snapshot:
    record: PatientRecord
    banner: Banner
    headline: HeadlinePanel
    sections: tuple[str, ...]
    screening_first: bool  # in the nursing section: the nurse's form before the assessment
    assessment: NursingAssessment
    data: DataLists
    alert: AlertPanel
    bundle: BundlePanel
    screening: ScreeningPanel
    round_trips: int


@dataclass(frozen=True)
class FetchSettings:
    lookback_hours: int
    page_size: int
    max_pages: int


def resolve_model(model: Model | None) -> tuple[Model | None, str | None]:
    return resolve_scoring_model(model, loader=lambda: load_model())


def fetch_and_map(transport: Transport, ctx: PageContext, now: datetime, settings: FetchSettings):
    """The patient's record within the site's lookback, and what the mapping made of it: (record, mapping)."""
    record = fetch_patient_record(transport, ctx.patient_id, now=now,
                                  lookback=timedelta(hours=settings.lookback_hours), page_size=settings.page_size,
                                  max_pages=settings.max_pages)
    return record, map_record(record, now, base=transport.base)


def take_snapshot(transport: Transport, engine: sa.Engine, ctx: PageContext, now: datetime, settings: FetchSettings,
                  *, model: Model | None = None, policy: Policy | None = None, with_bundle: bool = True) -> Snapshot:
    """Fetch the patient's data once, score it, apply the alert policy and workflow, and build every panel."""
    record, mapping = fetch_and_map(transport, ctx, now, settings)
    model, unavailable = resolve_model(model)
    # One Encounter read, shared: the ICU admission time (the model's hours-in-ICU input) and the care unit.
    encounter = read_encounter(transport, ctx.encounter_id)
    admitted = icu_admission(encounter, now) if encounter is not None else None
    assessed = assess_and_sync(
        engine, ctx.scope, mapping.measurements, now, source=CHART, model=model, unavailable_reason=unavailable,
        policy=policy, care_unit=lambda: unit_of(encounter, transport), icu_admitted_at=admitted, read="full",
        fhir_requests=transport.round_trips)
    verdict, alert, site = assessed.verdict, assessed.alert, assessed.site  # the scope's newest alert, read once
    status, notes = None, ()
    if with_bundle and alert is not None and alert.time_zero is not None:
        facts, notes = bundle_facts(transport, record, mapping, alert.time_zero, max_pages=settings.max_pages)
        status = evaluate(alert.time_zero, now, facts)
    latest_screening = screenings.latest(engine, ctx.scope)  # read once, for both panels that show it
    assessment = nursing_assessment(ctx.patient_id, verdict, mapping, now,
                                    threshold_version=site.version if site else None,
                                    lookback_hours=settings.lookback_hours)
    snapshot = Snapshot(
        record=record, banner=banner(record.patient, now),
        headline=headline_panel(ctx, now, alert, assessment), sections=section_order(ctx.role, alert),
        screening_first=ctx.role == roles.NURSE, assessment=assessment,
        data=data_lists(record, mapping, now),
        alert=alert_panel(engine, ctx, now, alert=alert, level=verdict.level, screening=latest_screening),
        bundle=bundle_panel(engine, ctx, now, alert, status, notes),
        screening=screening_panel(engine, ctx, now, latest=latest_screening),
        round_trips=transport.round_trips)
    log.info("bedside snapshot: level=%s alert=%s round_trips=%d", verdict.level, alert.id if alert else None,
             transport.round_trips)
    return snapshot


def bundle_only(transport: Transport, engine: sa.Engine, ctx: PageContext, now: datetime,
                settings: FetchSettings) -> BundlePanel:
    """The bundle section alone (its fragment URL): FHIR is read only when the alert is confirmed."""
    alert = store.newest(engine, ctx.scope)
    if alert is None or alert.time_zero is None:
        return bundle_panel(engine, ctx, now, alert, None)
    record, mapping = fetch_and_map(transport, ctx, now, settings)
    facts, notes = bundle_facts(transport, record, mapping, alert.time_zero, max_pages=settings.max_pages)
    return bundle_panel(engine, ctx, now, alert, evaluate(alert.time_zero, now, facts), notes)
