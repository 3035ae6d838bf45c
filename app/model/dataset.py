"""A PhysioNet set as per-row arrays: every patient-hour's features, hour and label, built by the ONE pipeline."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.model.features import build_feature_matrix
from app.model.measurement import CONCEPTS, MODEL_CONCEPTS
from app.model.physionet import Stay, read_stays


@dataclass(frozen=True)
class StaySummary:
    """What the model card says about the cohort; never a model input."""

    patient: str
    rows: int
    septic: bool
    age: float | None
    sex_male: float | None
    unit: str | None
    implausible: tuple[tuple[str, int], ...] = ()  # values dropped by the plausibility rule, per concept


@dataclass(frozen=True)
class Cohort:
    """One row per patient-hour, in patient then hour order."""

    patients: np.ndarray  # patient id of each row
    hours: np.ndarray  # ICULOS of each row
    labels: np.ndarray  # SepsisLabel of each row
    x: np.ndarray  # features of each row (FEATURE_NAMES), as scored at the end of that hour
    stays: tuple[StaySummary, ...]
    # per stay (row) and model concept (column, MODEL_CONCEPTS order): sum and count of its measurements
    sums: np.ndarray
    counts: np.ndarray

    def subset(self, patients: Iterable[str]) -> Cohort:
        """The rows and stays of the given patients."""
        keep = set(patients)
        rows = np.isin(self.patients, list(keep))
        chosen = np.array([s.patient in keep for s in self.stays], dtype=bool)
        stays = tuple(s for s, k in zip(self.stays, chosen, strict=True) if k)
        return Cohort(
            self.patients[rows], self.hours[rows], self.labels[rows], self.x[rows], stays,
            self.sums[chosen], self.counts[chosen],
        )

    @staticmethod
    def concat(*cohorts: Cohort) -> Cohort:
        """Several cohorts as one (patient ids must differ, as they do between PhysioNet sets)."""
        return Cohort(
            np.concatenate([c.patients for c in cohorts]), np.concatenate([c.hours for c in cohorts]),
            np.concatenate([c.labels for c in cohorts]), np.concatenate([c.x for c in cohorts]),
            tuple(s for c in cohorts for s in c.stays), np.concatenate([c.sums for c in cohorts]),
            np.concatenate([c.counts for c in cohorts]),
        )

    def coverage(self) -> dict[str, float]:
        """Measurements of each model concept per 100 patient-hours (age and sex: per 100 stays)."""
        n, hours = self.counts.sum(axis=0), max(len(self.labels), 1)
        out = {}
        for i, c in enumerate(MODEL_CONCEPTS):
            per = len(self.stays) if CONCEPTS[c].kind == "demographic" else hours
            out[c] = round(100.0 * float(n[i]) / max(per, 1), 2)
        return out

    def population_means(self) -> dict[str, float]:
        """Mean of all plausible measurements of each model concept (age and sex: one per stay)."""
        total, n = self.sums.sum(axis=0), self.counts.sum(axis=0)
        return {c: round(float(total[i] / n[i]), 6) for i, c in enumerate(MODEL_CONCEPTS) if n[i] > 0}


def stay_rows(stay: Stay) -> np.ndarray:
    """The feature matrix of one stay: each row scored at the end of its ICU hour (the training path)."""
    return build_feature_matrix(stay.measurements, stay.times, icu_admitted_at=stay.icu_admitted_at)


def load_cohort(path: str | Path) -> Cohort:
    """Read a PhysioNet folder or .tar.gz and build every patient-hour's features."""
    patients, hours, labels, blocks, stays = [], [], [], [], []
    sums, counts = [], []
    where = {c: i for i, c in enumerate(MODEL_CONCEPTS)}
    for stay in read_stays(path):
        blocks.append(stay_rows(stay))
        patients.append(np.full(len(stay.hours), stay.patient))
        hours.append(stay.hours)
        labels.append(stay.labels)
        first = {m.concept: m.value for m in reversed(stay.measurements)}
        stays.append(
            StaySummary(stay.patient, len(stay.hours), stay.septic, first.get("age"), first.get("sex_male"), stay.unit,
                        stay.implausible)
        )
        s, n = np.zeros(len(MODEL_CONCEPTS)), np.zeros(len(MODEL_CONCEPTS), dtype=np.int64)
        for m in stay.measurements:
            if m.concept in where:
                s[where[m.concept]] += m.value
                n[where[m.concept]] += 1
        sums.append(s)
        counts.append(n)
    if not stays:
        raise FileNotFoundError(f"no PhysioNet .psv files in {path}")
    return Cohort(
        np.concatenate(patients), np.concatenate(hours), np.concatenate(labels), np.concatenate(blocks),
        tuple(stays), np.array(sums), np.array(counts),
    )
