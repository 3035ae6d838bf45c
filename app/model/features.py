"""Measurements -> model features: the ONE pipeline, shared by training and live scoring.

`build_feature_matrix(measurements, times)` is the core; `build_features(measurements, at)` is the
same call with one time. Training (PhysioNet rows, via `app.model.physionet`) and live scoring (FHIR
Observations, via `app.fhir.mapping`) both hand this module `Measurement`s, so they cannot drift.

Features are causal: the row for time `at` uses only measurements with `time <= at`. Inputs are the
concepts with `model_input=True`; nothing else (no length of stay, no unit of care) is a feature.
Values are rounded to 6 decimals in their canonical unit, so a value converted from an equivalent
unit (98.6 °F -> 37 °C) gives the same features as one recorded in the canonical unit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from app.model.measurement import CONCEPTS, MODEL_CONCEPTS, Measurement

# Windows end at `at` and are open at the start: (at - width, at].
WINDOWS_H = {"6h": 6.0, "24h": 24.0, "72h": 72.0}
VITAL_WINDOWS = ("24h", "6h")  # min/max/mean over 24 h, mean over 6 h
LAB_WINDOW = "72h"  # count/min/max of labs
DECIMALS = 6


@dataclass(frozen=True)
class Feature:
    name: str
    concept: str | None  # the input concept it is computed from (None: several)
    # "value" (a level: replaced by the population mean when the concept is perturbed),
    # "change" (a difference of levels: 0 when perturbed), "time" and "count" (kept when perturbed).
    kind: str


def _concept_features(concept: str) -> list[Feature]:
    c = CONCEPTS[concept]
    if c.kind == "demographic":
        return [Feature(f"{concept}__last", concept, "value")]
    out = [
        Feature(f"{concept}__last", concept, "value"),
        Feature(f"{concept}__hours_since", concept, "time"),
        Feature(f"{concept}__change", concept, "change"),  # last - previous measurement
    ]
    if c.kind == "vital":
        # No vital-sign counts: in hourly ICU data they mostly count hours since admission (length of stay).
        out += [
            Feature(f"{concept}__min_24h", concept, "value"),
            Feature(f"{concept}__max_24h", concept, "value"),
            Feature(f"{concept}__mean_24h", concept, "value"),
            Feature(f"{concept}__mean_6h", concept, "value"),
            Feature(f"{concept}__deviation_24h", concept, "change"),  # last - mean of the last 24 h
        ]
    else:
        out += [
            Feature(f"{concept}__count_{LAB_WINDOW}", concept, "count"),  # how often it is ordered
            Feature(f"{concept}__min_{LAB_WINDOW}", concept, "value"),
            Feature(f"{concept}__max_{LAB_WINDOW}", concept, "value"),
        ]
    return out


_BASE: list[Feature] = [f for concept in MODEL_CONCEPTS for f in _concept_features(concept)]
_DERIVED: list[Feature] = [
    Feature("shock_index", None, "value"),  # heart rate / systolic BP, both last values
    Feature("pulse_pressure", None, "value"),  # systolic - diastolic BP, last values
    Feature("spo2_fio2", None, "value"),  # SpO2 / FiO2, last values: oxygenation (PaO2 is not available)
    Feature("bun_creatinine", None, "value"),  # BUN / creatinine, last values
    Feature("lab_draws", None, "count"),  # lab measurements of any kind in the lab window
    Feature("labs_ordered", None, "count"),  # distinct lab concepts measured in the lab window
]
FEATURES: tuple[Feature, ...] = tuple(_BASE + _DERIVED)
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
_INDEX = {name: i for i, name in enumerate(FEATURE_NAMES)}
_LAB_COUNTS = np.array(
    [_INDEX[f"{k}__count_{LAB_WINDOW}"] for k in MODEL_CONCEPTS if CONCEPTS[k].kind == "lab"], dtype=np.intp
)


def column(name: str) -> int:
    """Index of a feature in a feature row."""
    return _INDEX[name]


def hours(t: datetime) -> float:
    """A timezone-aware time as hours since the Unix epoch: the same instant in any zone, same number."""
    if t.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    return t.timestamp() / 3600.0


def build_features(measurements: Iterable[Measurement], at: datetime) -> np.ndarray:
    """The feature row (aligned with FEATURE_NAMES) for scoring at `at`: build_feature_matrix at one time."""
    return build_feature_matrix(measurements, [at])[0]


def build_feature_matrix(measurements: Iterable[Measurement], times: Sequence[datetime]) -> np.ndarray:
    """One feature row per time in `times` for one patient, each using only measurements at or before it."""
    series = _series(measurements)
    q = np.array([hours(t) for t in times], dtype=float)
    x = np.full((len(q), len(FEATURE_NAMES)), np.nan)
    for concept in MODEL_CONCEPTS:
        t, v = series.get(concept, (np.empty(0), np.empty(0)))
        _fill_concept(x, concept, t, v, q)
    _fill_derived(x)
    return x


def _series(measurements: Iterable[Measurement]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per model concept: times (hours) and values, sorted by time then value so input order never matters."""
    buckets: dict[str, tuple[list[float], list[float]]] = {}
    for m in measurements:
        if not CONCEPTS[m.concept].model_input:
            continue
        ts, vs = buckets.setdefault(m.concept, ([], []))
        ts.append(m.time.timestamp() / 3600.0)
        vs.append(m.value)
    out = {}
    for concept, (ts, vs) in buckets.items():
        t = np.array(ts, dtype=float)
        v = np.round(np.array(vs, dtype=float), DECIMALS)
        order = np.lexsort((v, t))
        out[concept] = (t[order], v[order])
    return out


def _fill_concept(x: np.ndarray, concept: str, t: np.ndarray, v: np.ndarray, q: np.ndarray) -> None:
    n = np.searchsorted(t, q, side="right")  # measurements at or before each query time
    has = n > 0
    last_i = np.maximum(n - 1, 0)
    kind = CONCEPTS[concept].kind
    if kind == "demographic":
        x[has, _INDEX[f"{concept}__last"]] = v[last_i[has]]
        return
    if kind == "lab":
        x[:, _INDEX[f"{concept}__count_{LAB_WINDOW}"]] = 0.0
    if not has.any():
        return
    x[has, _INDEX[f"{concept}__last"]] = v[last_i[has]]
    x[has, _INDEX[f"{concept}__hours_since"]] = np.round(q[has] - t[last_i[has]], DECIMALS)
    two = n > 1
    x[two, _INDEX[f"{concept}__change"]] = np.round(v[n[two] - 1] - v[n[two] - 2], DECIMALS)
    if kind == "vital":
        lo = np.searchsorted(t, q - WINDOWS_H["24h"], side="right")
        x[:, _INDEX[f"{concept}__min_24h"]] = _window(np.minimum, v, lo, n)
        x[:, _INDEX[f"{concept}__max_24h"]] = _window(np.maximum, v, lo, n)
        mean = _mean(v, lo, n)
        x[:, _INDEX[f"{concept}__mean_24h"]] = mean
        x[has, _INDEX[f"{concept}__deviation_24h"]] = np.round(x[has, _INDEX[f"{concept}__last"]] - mean[has], DECIMALS)
        lo = np.searchsorted(t, q - WINDOWS_H["6h"], side="right")
        x[:, _INDEX[f"{concept}__mean_6h"]] = _mean(v, lo, n)
    else:
        lo = np.searchsorted(t, q - WINDOWS_H[LAB_WINDOW], side="right")
        x[:, _INDEX[f"{concept}__count_{LAB_WINDOW}"]] = n - lo
        x[:, _INDEX[f"{concept}__min_{LAB_WINDOW}"]] = _window(np.minimum, v, lo, n)
        x[:, _INDEX[f"{concept}__max_{LAB_WINDOW}"]] = _window(np.maximum, v, lo, n)


def _mean(v: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return np.round(_window(np.add, v, lo, hi) / np.maximum(hi - lo, 1), DECIMALS)


def _window(ufunc: np.ufunc, v: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """ufunc-reduce of v[lo:hi] for each pair (NaN when empty), summing exactly the window's values in order."""
    out = np.full(len(lo), np.nan)
    ok = hi > lo
    if ok.any():
        idx = np.empty(2 * int(ok.sum()), dtype=np.intp)
        idx[0::2], idx[1::2] = lo[ok], hi[ok]
        out[ok] = ufunc.reduceat(np.append(v, np.nan), idx)[0::2]
    return out


def _ratio(x: np.ndarray, top: str, bottom: str) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        r = x[:, _INDEX[top]] / x[:, _INDEX[bottom]]
    return np.round(np.where(np.isfinite(r), r, np.nan), DECIMALS)


def _fill_derived(x: np.ndarray) -> None:
    """Features computed from several concepts' features; rerun after any perturbation of a concept."""
    x[:, _INDEX["shock_index"]] = _ratio(x, "heart_rate__last", "sbp__last")
    x[:, _INDEX["pulse_pressure"]] = np.round(x[:, _INDEX["sbp__last"]] - x[:, _INDEX["dbp__last"]], DECIMALS)
    x[:, _INDEX["spo2_fio2"]] = _ratio(x, "spo2__last", "fio2__last")
    x[:, _INDEX["bun_creatinine"]] = _ratio(x, "bun__last", "creatinine__last")
    x[:, _INDEX["lab_draws"]] = x[:, _LAB_COUNTS].sum(axis=1)
    x[:, _INDEX["labs_ordered"]] = (x[:, _LAB_COUNTS] > 0).sum(axis=1)


_BY_CONCEPT = {
    concept: (
        np.array([i for i, f in enumerate(FEATURES) if f.concept == concept and f.kind == "value"], dtype=np.intp),
        np.array([i for i, f in enumerate(FEATURES) if f.concept == concept and f.kind == "change"], dtype=np.intp),
    )
    for concept in MODEL_CONCEPTS
}


def at_population_mean(row: np.ndarray, means: dict[str, float]) -> tuple[list[str], np.ndarray]:
    """For each measured concept in `means`: a copy of `row` as if its values had all equalled the mean.

    Equivalent to rebuilding the features with that concept's measurements set to the mean (same
    times): levels become the mean, changes become 0, timing and counts stay. Concepts with no value
    in the row are skipped: there is nothing to replace. Returns the concepts and their rows.
    """
    concepts, rows = [], []
    for concept, mean in means.items():
        value_idx, change_idx = _BY_CONCEPT[concept]
        present = value_idx[~np.isnan(row[value_idx])]
        if len(present) == 0:
            continue
        r = row.copy()
        r[present] = np.round(mean, DECIMALS)
        changed = change_idx[~np.isnan(row[change_idx])]
        r[changed] = 0.0
        concepts.append(concept)
        rows.append(r)
    out = np.array(rows).reshape(len(rows), len(row))
    _fill_derived(out)
    return concepts, out
