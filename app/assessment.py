"""The ONE scoring path: measurements -> model score or abstention -> site threshold -> alert policy -> alert store.

The bedside page (a clinician opens the chart) and the background screening (nobody asked) both call `assess_and_sync`,
so a patient gets the same verdict and the same alert rules whichever way they were scored: one alert per
encounter, a decided alert never fires again, a pause resumes only if the criteria still hold (`app.alerts.store`).
Each call is recorded in the risk history (`app.screening.history`) with its source, so the page can draw the risk
over time. No Flask, no FHIR: callers hand in the measurements they read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from app.alerts import store, thresholds
from app.alerts.policy import Assessment, Policy, assess
from app.alerts.workflow import Scope
from app.model import CONCEPTS, Measurement, Model, ModelError, load_model, score
from app.screening import history

log = logging.getLogger(__name__)

MODEL_UNAVAILABLE = ("The risk model has not been installed or did not pass its checks. Tell the deployment team.")


@dataclass(frozen=True)
class Assessed:
    """What one scoring produced: the verdict, the scope's newest alert afterwards, the threshold it was held to."""

    verdict: Assessment
    alert: store.AlertRecord | None
    site: thresholds.SiteThreshold | None

    @property
    def probability(self) -> float | None:
        return self.verdict.risk.probability if self.verdict.risk else None


def resolve_model(model: Model | None, loader: Callable[[], Model] | None = None) -> tuple[Model | None, str | None]:
    """The model to score with (`model`, else the shipped artifact) and, when there is none, the sentence that says
    so: the model is never guessed."""
    if model is not None:
        return model, None
    try:
        return (loader or load_model)(), None
    except ModelError as exc:
        log.warning("risk model unavailable: %s", type(exc).__name__)
        return None, MODEL_UNAVAILABLE


def evaluate(engine: sa.Engine, measurements: tuple[Measurement, ...], now: datetime, *, iss: str,
             model: Model | None = None, unavailable_reason: str | None = None, policy: Policy | None = None,
             icu_admitted_at: datetime | None = None) -> tuple[Assessment, thresholds.SiteThreshold | None]:
    """The verdict alone (score or abstain, held to the FHIR server `iss`'s current threshold, the alert policy),
    touching no alert: for a reader that must say what the model would need (the CDS information card)."""
    model, unavailable = (None, unavailable_reason) if model is None and unavailable_reason else resolve_model(model)
    site = thresholds.current(engine, default=model.threshold, iss=iss) if model else None
    outcome = score(list(measurements), now, site.value, model=model, icu_admitted_at=icu_admitted_at) if model \
        else None
    return assess(outcome, measurements, now, threshold=site.value if site else None, policy=policy,
                  unavailable_reason=unavailable), site


def assess_and_sync(engine: sa.Engine, scope: Scope, measurements: Iterable[Measurement], now: datetime, *,
                    source: str, model: Model | None = None, unavailable_reason: str | None = None,
                    policy: Policy | None = None, care_unit: Callable[[], str],
                    icu_admitted_at: datetime | None = None, **recorded) -> Assessed:
    """Score (or abstain), hold the risk to the site's current threshold, apply the alert policy, raise, resume
    or lapse the scope's alert, and record the scoring in the risk history (`source`: screening | chart; the other
    `recorded` fields go with it). Threshold, alert and history are all the scope's FHIR server's (`scope.iss`). `care_unit` is called only when an alert is raised.
    Without a `model` the shipped one is loaded, unless `unavailable_reason` already says why there is none.
    `icu_admitted_at`: when the patient came to the ICU (app.fhir.encounters.icu_admission), for hours in ICU."""
    measurements = tuple(measurements)
    verdict, site = evaluate(engine, measurements, now, iss=scope.iss, model=model,
                             unavailable_reason=unavailable_reason, policy=policy, icu_admitted_at=icu_admitted_at)
    alert = store.sync(engine, scope, verdict, now, threshold_version=site.version if site else 0,
                       measurements=[m for m in measurements if CONCEPTS[m.concept].kind != "demographic"],
                       care_unit=care_unit)
    assessed = Assessed(verdict, alert, site)
    history.record_score(engine, iss=scope.iss, scope_key=scope.key, patient_id=scope.patient_id,
                         encounter_id=scope.encounter_id, at=now, source=source, assessed=assessed, **recorded)
    return assessed
