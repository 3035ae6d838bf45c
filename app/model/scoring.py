"""Live scoring: Measurements at a time -> Risk (probability, threshold, starred inputs) or Abstain (what is missing).

The abstain rule is applied to the same feature row the model reads, so `sentinel evaluate` (which
uses `abstains` on a whole feature matrix) and `score` (one patient, now) apply it identically.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from app.model.artifact import Model, load_model
from app.model.features import at_population_mean, build_features, column
from app.model.measurement import CONCEPTS, Measurement

# Abstain unless each group has a measurement within MAX_AGE_H hours before `at`. A group is met by any
# of its concepts; the first one names it when it is missing. Candidates, measured on held-out A by
# `bench/abstention.py` (septic hours each removes, and calibration of the scores on the rows the strictest
# rule would have removed); REQUIRED is the one chosen, and the card says why.
MAX_AGE_H = 6.0
ABSTAIN_CANDIDATES: dict[str, tuple[tuple[str, ...], ...]] = {
    "full vital set": (("heart_rate",), ("resp_rate",), ("spo2",), ("sbp", "map")),
    "heart rate and blood pressure": (("heart_rate",), ("sbp", "map")),
    "any vital sign": (("heart_rate", "sbp", "map", "resp_rate", "spo2", "temperature"),),
}
ABSTAIN_CHOICE = "heart rate and blood pressure"
REQUIRED: tuple[tuple[str, ...], ...] = ABSTAIN_CANDIDATES[ABSTAIN_CHOICE]
# A score given without one of these recent measurements lists it (Risk.missing): partial data, said so.
EXPECTED: tuple[tuple[str, ...], ...] = ABSTAIN_CANDIDATES["full vital set"] + (("temperature",),)
ABSTAIN_RULE = (
    f"The model abstains unless a heart rate and a blood pressure (systolic or mean arterial) have each been "
    f"measured within the {MAX_AGE_H:g} hours before the time of scoring: without them the score has no "
    "circulation to read. It scores without a recent respiratory rate, SpO2, temperature or labs, and then "
    "lists what was missing; those scores stayed calibrated on hospital A."
)

# Stars answer "why this risk" by measurement, as TREWS did: every feature of one measurement is replaced by
# the population mean at once, and measurements whose replacement lowers the risk by at least MATERIAL
# (absolute probability) are candidates, largest first, at most MAX_STARS. One blood-pressure reading is one
# measurement (systolic, diastolic and mean together). Age and sex are not measurements: never starred.
# Only the set of concept keys leaves this package, never the sizes.
MAX_STARS = 3
MATERIAL = 0.01
MEASUREMENT_GROUPS: tuple[tuple[str, ...], ...] = (("sbp", "dbp", "map"),)
NOT_MEASUREMENTS = frozenset({"age", "sex_male"})
STAR_RULE = (
    f"For each measurement, the risk is recomputed with all of that measurement's values replaced by its "
    f"population mean (training data, see population_means); a blood pressure (systolic, diastolic and mean) "
    f"counts as one measurement, and age and sex are not starred. Measurements whose replacement lowers the "
    f"risk by at least {MATERIAL:g} (absolute probability) are candidates; the largest {MAX_STARS} are starred."
)


@dataclass(frozen=True)
class Missing:
    """A required input without a recent enough measurement."""

    concept: str
    label: str
    reason: str  # "never measured" | "too old"
    last_seen: datetime | None


@dataclass(frozen=True)
class Risk:
    probability: float
    threshold: float
    above_threshold: bool
    starred: frozenset[str]  # concept keys of the top contributors
    model_version: str
    missing: tuple[Missing, ...] = ()  # expected measurements the score was made without (partial data)


@dataclass(frozen=True)
class Abstain:
    missing: tuple[Missing, ...]
    model_version: str


def _group_label(group: tuple[str, ...]) -> str:
    if len(group) == 1:
        return CONCEPTS[group[0]].label
    return " or ".join([CONCEPTS[group[0]].label] + [CONCEPTS[c].label.lower() for c in group[1:]])


def _group_ages(x: np.ndarray, groups: tuple[tuple[str, ...], ...] | None = None) -> np.ndarray:
    """Hours since the freshest measurement of each group (REQUIRED by default), per row (inf when never
    measured in the lookback)."""
    ages = []
    for group in REQUIRED if groups is None else groups:
        since = x[:, [column(f"{c}__hours_since") for c in group]]
        ages.append(np.nanmin(np.where(np.isnan(since), np.inf, since), axis=1))
    return np.stack(ages, axis=1)


def abstains(x: np.ndarray, groups: tuple[tuple[str, ...], ...] | None = None) -> np.ndarray:
    """Per feature row: True when the abstain rule (or the candidate `groups`) applies; the batch form used by
    `sentinel evaluate`."""
    return (_group_ages(x, groups) > MAX_AGE_H).any(axis=1)


def missing_inputs(row: np.ndarray, measurements: Sequence[Measurement], at: datetime,
                   groups: tuple[tuple[str, ...], ...] | None = None) -> tuple[Missing, ...]:
    """What the abstain rule (or `groups`) finds missing in one feature row; `measurements` only supply
    `last_seen`."""
    out = []
    groups = REQUIRED if groups is None else groups
    for group, age in zip(groups, _group_ages(row[None, :], groups)[0], strict=True):
        if age <= MAX_AGE_H:
            continue
        seen = [m.time for m in measurements if m.concept in group and m.time <= at]
        reason = "too old" if seen else "never measured"  # older than the lookback still counts as too old
        out.append(Missing(group[0], _group_label(group), reason, max(seen) if seen else None))
    return tuple(out)


def star_groups(row: np.ndarray, means: dict[str, float]) -> tuple[list[tuple[str, ...]], np.ndarray]:
    """Per measurement present in `row`: its concepts, and a copy of `row` with all of them at the mean at once
    (a group's concepts are replaced one after another, each time with the derived features recomputed)."""
    concepts, perturbed = at_population_mean(row, means)
    single = dict(zip(concepts, perturbed, strict=True))
    grouped = {c for g in MEASUREMENT_GROUPS for c in g}
    groups = [(c,) for c in concepts if c not in grouped and c not in NOT_MEASUREMENTS]
    rows = [single[c] for c, in groups]
    for group in MEASUREMENT_GROUPS:
        present = tuple(c for c in group if c in single)
        if not present:
            continue
        r = row
        for concept in present:
            r = at_population_mean(r, {concept: means[concept]})[1][0]
        groups.append(present)
        rows.append(r)
    return groups, np.array(rows).reshape(len(rows), len(row))


def _starred(probability: float, perturbed_probabilities: np.ndarray,
             groups: list[tuple[str, ...]]) -> frozenset[str]:
    contribution = probability - perturbed_probabilities
    order = np.argsort(-contribution, kind="stable")
    return frozenset(c for i in order[:MAX_STARS] if contribution[i] >= MATERIAL for c in groups[i])


def score(
    measurements: Sequence[Measurement], at: datetime, threshold: float | None = None, *, model: Model | None = None,
    icu_admitted_at: datetime | None = None,
) -> Risk | Abstain:
    """Risk of sepsis for one patient at `at` from their Measurements, or Abstain when data are too thin.

    `threshold=None` uses the model card's threshold; a site may pass its own. Uses only
    measurements at or before `at`. `model` defaults to the shipped, verified `load_model()`.
    `icu_admitted_at` (from the Encounter, `app.fhir.encounters`) gives the hours-in-ICU input; when it is
    unknown that input is missing and the model scores without it.
    """
    model = model or load_model()
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be a probability in [0, 1], got {threshold!r}")
    thr = model.threshold if threshold is None else float(threshold)
    row = build_features(measurements, at, icu_admitted_at=icu_admitted_at)
    missing = missing_inputs(row, measurements, at)
    if missing:
        return Abstain(missing=missing, model_version=model.version)
    groups, perturbed = star_groups(row, model.means)
    probabilities = model.probabilities(np.vstack([row[None, :], perturbed]))  # one call: row + N perturbed
    p = float(probabilities[0])
    return Risk(
        probability=p,
        threshold=thr,
        above_threshold=p >= thr,
        starred=_starred(p, probabilities[1:], groups),
        model_version=model.version,
        missing=missing_inputs(row, measurements, at, EXPECTED),
    )
