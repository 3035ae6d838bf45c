"""Builders for alert tests: hand-made Risk/Abstain, Measurements, and a stub model for the web tests.

Time is frozen in a non-UTC zone (design.md, "Tests").
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from app.alerts import store
from app.alerts.policy import assess
from app.alerts.workflow import Actor, Scope
from app.model import FEATURE_NAMES, Abstain, Measurement, Missing, Risk
from app.model.artifact import Model
from app.model.features import column

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=ZoneInfo("America/Chicago"))


def at(hours_ago: float) -> datetime:
    return NOW - timedelta(hours=hours_ago)


def m(concept: str, value: float, hours_ago: float = 0.5) -> Measurement:
    return Measurement(concept, value, at(hours_ago))


def risk(p: float = 0.8, threshold: float = 0.5, starred=("heart_rate",), version: str = "m-test") -> Risk:
    return Risk(probability=p, threshold=threshold, above_threshold=p >= threshold, starred=frozenset(starred),
                model_version=version)


def abstain(*missing: tuple[str, str, str, datetime | None]) -> Abstain:
    return Abstain(missing=tuple(Missing(*x) for x in missing), model_version="m-test")


class _StubEstimator:
    """P(sepsis) high when the latest systolic BP is low: deterministic, and SBP gets starred."""

    def __init__(self, high: float, low: float, sbp_cut: float):
        self.high, self.low, self.sbp_cut = high, low, sbp_cut
        self.sbp = column("sbp__last")

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        sbp = x[:, self.sbp]
        p = np.where(np.nan_to_num(sbp, nan=120.0) < self.sbp_cut, self.high, self.low)
        return np.stack([1 - p, p], axis=1)


def stub_model(high: float = 0.85, low: float = 0.05, sbp_cut: float = 100.0, threshold: float = 0.5,
               version: str = "stub-1") -> Model:
    """A Model the real `score` can use (abstain rule, stars), without the trained artifact."""
    from app.model.measurement import MODEL_CONCEPTS

    means = {c: 120.0 if c == "sbp" else 1.0 for c in MODEL_CONCEPTS}
    card = {"model": {"version": version}, "threshold": {"value": threshold}, "population_means": means}
    return Model(estimator=_StubEstimator(high, low, sbp_cut), columns=np.arange(len(FEATURE_NAMES)), card=card)


# -- a stored alert (the store, bundle and nursing tests) -----------------------------------------------

ISS = "https://ehr.example.org/fhir"
SCOPE = Scope(iss=ISS, patient_id="demo-1", encounter_id="demo-1-icu")
DR_A = Actor("Practitioner/a", "Dr A", "provider")
DR_B = Actor("Practitioner/b", "Dr B", "provider")
SEPTIC = [m("sbp", 82, 1), m("heart_rate", 118, 1)]


def verdict(measurements=SEPTIC, p=0.8, now=NOW):
    return assess(risk(p), measurements, now, threshold=0.5)


def sync(engine, measurements=SEPTIC, now=NOW, p=0.8, unit=lambda: "Location/micu"):
    return store.sync(engine, SCOPE, verdict(measurements, p, now), now, threshold_version=0,
                      measurements=measurements, care_unit=unit)
