"""Measurements -> model features: the ONE pipeline, shared by training and live scoring.

`build_feature_matrix(measurements, times)` is the core; `build_features(measurements, at)` is the
same call with one time. Training (PhysioNet rows, via `app.model.physionet`) and live scoring (FHIR
Observations, via `app.fhir.mapping`) both hand this module `Measurement`s, so they cannot drift.

Features are causal: the row for time `at` uses only measurements with `time <= at`, and bounded: only
measurements in the lookback (at - 72 h, at], the history the live path reads from the EHR, so training
and live scoring see the same inputs. Demographics (age, sex) are the exception: one value per stay.
Inputs are the concepts with `model_input=True`, plus the hours since ICU admission when the caller
knows the admission time (`icu_admitted_at`; missing otherwise). No unit of care, no hospital admission
time, and no counts of measurements or orders: counts act as a hidden ICU clock and encode local ordering
habits (and, through culture orders, the label), so they transfer badly to another hospital.
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
WINDOWS_H = {"6h": 6.0, "12h": 12.0, "24h": 24.0, "72h": 72.0}
VITAL_WINDOWS = ("24h", "6h")  # min/max/mean over 24 h, mean over 6 h
LAB_WINDOW = "72h"  # min/max/mean of labs; also the lookback of every feature (the live path's history)
LOOKBACK_H = WINDOWS_H[LAB_WINDOW]
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
            # The direction of the last hours: mean of (at - 6 h, at] minus mean of (at - 12 h, at - 6 h], and how
            # much the value wandered over 24 h (standard deviation): a rising heart rate, a labile pressure.
            Feature(f"{concept}__trend_6h", concept, "change"),
            Feature(f"{concept}__sd_24h", concept, "change"),
            # The patient's own baseline over the whole lookback: worst values either way, and how far the
            # last value is from the patient's running mean (a heart rate of 110 means more in someone at 70).
            Feature(f"{concept}__min_{LAB_WINDOW}", concept, "value"),
            Feature(f"{concept}__max_{LAB_WINDOW}", concept, "value"),
            Feature(f"{concept}__deviation_{LAB_WINDOW}", concept, "change"),  # last - mean of the lookback
        ]
    else:
        out += [
            Feature(f"{concept}__min_{LAB_WINDOW}", concept, "value"),
            Feature(f"{concept}__max_{LAB_WINDOW}", concept, "value"),
            Feature(f"{concept}__rise_{LAB_WINDOW}", concept, "change"),  # last - min over the window
            Feature(f"{concept}__fall_{LAB_WINDOW}", concept, "change"),  # last - max over the window
            Feature(f"{concept}__deviation_{LAB_WINDOW}", concept, "change"),  # last - mean over the window
        ]
    return out


_BASE: list[Feature] = [f for concept in MODEL_CONCEPTS for f in _concept_features(concept)]
_DERIVED: list[Feature] = [
    Feature("shock_index", None, "value"),  # heart rate / systolic BP, both last values
    Feature("pulse_pressure", None, "value"),  # systolic - diastolic BP, last values
    Feature("spo2_fio2", None, "value"),  # SpO2 / FiO2, last values: oxygenation (PaO2 is not available)
    Feature("bun_creatinine", None, "value"),  # BUN / creatinine, last values
    Feature("hours_since_any_lab", None, "time"),
    # SOFA points from platelets, bilirubin, creatinine and MAP < 70 (no PaO2, GCS or vasopressors here):
    # now (last values), and its rise over the best values of the lab window (24 h for MAP).
    Feature("sofa_partial", None, "value"),
    Feature("sofa_partial_rise", None, "change"),
    # Bedside physiology, spelled out so that a regularised learner need not rebuild it from thresholds:
    # shock index on the 6 h means (steadier than one reading), heart rate / MAP (modified shock index),
    # SIRS criteria met now (temperature, heart rate, respiratory rate, white cells; last values) and
    # qSOFA's two measurable criteria (respiratory rate >= 22, systolic BP <= 100).
    Feature("shock_index_6h", None, "value"),
    Feature("modified_shock_index", None, "value"),
    Feature("sirs_criteria", None, "value"),
    Feature("qsofa_partial", None, "value"),
    # Hours since ICU admission: ICULOS in training; live, from the Encounter's ICU location period
    # (app.fhir.encounters). Missing when the admission time is unknown; the learner handles missing values.
    Feature("hours_in_icu", None, "time"),
]
FEATURES: tuple[Feature, ...] = tuple(_BASE + _DERIVED)
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
_INDEX = {name: i for i, name in enumerate(FEATURE_NAMES)}
_LABS = [k for k in MODEL_CONCEPTS if CONCEPTS[k].kind == "lab"]
_LAB_SINCE = np.array([_INDEX[f"{k}__hours_since"] for k in _LABS], dtype=np.intp)


def column(name: str) -> int:
    """Index of a feature in a feature row."""
    return _INDEX[name]


def hours(t: datetime) -> float:
    """A timezone-aware time as hours since the Unix epoch: the same instant in any zone, same number."""
    if t.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    return t.timestamp() / 3600.0


def build_features(
    measurements: Iterable[Measurement], at: datetime, *, icu_admitted_at: datetime | None = None
) -> np.ndarray:
    """The feature row (aligned with FEATURE_NAMES) for scoring at `at`: build_feature_matrix at one time."""
    return build_feature_matrix(measurements, [at], icu_admitted_at=icu_admitted_at)[0]


def build_feature_matrix(
    measurements: Iterable[Measurement], times: Sequence[datetime], *, icu_admitted_at: datetime | None = None
) -> np.ndarray:
    """One feature row per time in `times` for one patient, each using only measurements in (t - 72 h, t].

    `icu_admitted_at` (when known) gives `hours_in_icu`; a time before the admission gives 0, not a negative."""
    series = _series(measurements)
    q = np.array([hours(t) for t in times], dtype=float)
    x = np.full((len(q), len(FEATURE_NAMES)), np.nan)
    for concept in MODEL_CONCEPTS:
        t, v = series.get(concept, (np.empty(0), np.empty(0)))
        _fill_concept(x, concept, t, v, q)
    _fill_derived(x)
    if icu_admitted_at is not None:
        x[:, _INDEX["hours_in_icu"]] = np.round(np.maximum(q - hours(icu_admitted_at), 0.0), DECIMALS)
    return x


_CODE = {concept: i for i, concept in enumerate(MODEL_CONCEPTS)}


def _series(measurements: Iterable[Measurement]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per model concept: times (hours) and values, sorted by time then value so input order never matters."""
    ms = [m for m in measurements if m.concept in _CODE]
    code = np.fromiter((_CODE[m.concept] for m in ms), dtype=np.intp, count=len(ms))
    t = np.fromiter((m.time.timestamp() for m in ms), dtype=float, count=len(ms)) / 3600.0
    v = np.round(np.fromiter((m.value for m in ms), dtype=float, count=len(ms)), DECIMALS)
    order = np.lexsort((v, t, code))
    code, t, v = code[order], t[order], v[order]
    bounds = np.searchsorted(code, np.arange(len(MODEL_CONCEPTS) + 1))
    return {
        concept: (t[bounds[i]:bounds[i + 1]], v[bounds[i]:bounds[i + 1]])
        for concept, i in _CODE.items()
        if bounds[i + 1] > bounds[i]
    }


def _fill_concept(x: np.ndarray, concept: str, t: np.ndarray, v: np.ndarray, q: np.ndarray) -> None:
    n = np.searchsorted(t, q, side="right")  # measurements at or before each query time
    padded = np.append(v, np.nan)
    kind = CONCEPTS[concept].kind
    if kind == "demographic":
        has = n > 0
        x[has, _INDEX[f"{concept}__last"]] = v[np.maximum(n - 1, 0)[has]]
        return
    first = np.searchsorted(t, q - LOOKBACK_H, side="right")  # the first measurement inside the lookback
    has = n > first
    if not has.any():
        return
    last_i = np.maximum(n - 1, 0)
    x[has, _INDEX[f"{concept}__last"]] = v[last_i[has]]
    x[has, _INDEX[f"{concept}__hours_since"]] = np.round(q[has] - t[last_i[has]], DECIMALS)
    two = n - first > 1
    x[two, _INDEX[f"{concept}__change"]] = np.round(v[n[two] - 1] - v[n[two] - 2], DECIMALS)
    last = x[:, _INDEX[f"{concept}__last"]]
    low, high = _window(np.minimum, padded, first, n), _window(np.maximum, padded, first, n)
    x[:, _INDEX[f"{concept}__min_{LAB_WINDOW}"]] = low
    x[:, _INDEX[f"{concept}__max_{LAB_WINDOW}"]] = high
    x[:, _INDEX[f"{concept}__deviation_{LAB_WINDOW}"]] = np.round(last - _mean(padded, first, n), DECIMALS)
    if kind == "vital":
        lo = np.searchsorted(t, q - WINDOWS_H["24h"], side="right")
        x[:, _INDEX[f"{concept}__min_24h"]] = _window(np.minimum, padded, lo, n)
        x[:, _INDEX[f"{concept}__max_24h"]] = _window(np.maximum, padded, lo, n)
        mean = _mean(padded, lo, n)
        x[:, _INDEX[f"{concept}__mean_24h"]] = mean
        x[has, _INDEX[f"{concept}__deviation_24h"]] = np.round(last[has] - mean[has], DECIMALS)
        lo = np.searchsorted(t, q - WINDOWS_H["6h"], side="right")
        x[:, _INDEX[f"{concept}__mean_6h"]] = recent = _mean(padded, lo, n)
        before = np.searchsorted(t, q - WINDOWS_H["12h"], side="right")
        x[:, _INDEX[f"{concept}__trend_6h"]] = np.round(recent - _mean(padded, before, lo), DECIMALS)
        x[:, _INDEX[f"{concept}__sd_24h"]] = _sd(padded, np.searchsorted(t, q - WINDOWS_H["24h"], side="right"), n)
    else:
        x[:, _INDEX[f"{concept}__rise_{LAB_WINDOW}"]] = np.round(last - low, DECIMALS)
        x[:, _INDEX[f"{concept}__fall_{LAB_WINDOW}"]] = np.round(last - high, DECIMALS)


def _mean(v: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return np.round(_window(np.add, v, lo, hi) / np.maximum(hi - lo, 1), DECIMALS)


def _sd(v: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Population standard deviation of each window (NaN when empty; 0 for one value)."""
    n = np.maximum(hi - lo, 1)
    mean = _window(np.add, v, lo, hi) / n
    square = _window(np.add, v * v, lo, hi) / n
    return np.round(np.sqrt(np.maximum(square - mean * mean, 0.0)), DECIMALS)


def _window(ufunc: np.ufunc, v: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """ufunc-reduce of v[:-1][lo:hi] for each pair (NaN when empty), reducing exactly the window's values in order.

    `v` ends with one padding value so that hi == len(v) - 1 is a valid reduceat index."""
    out = np.full(len(lo), np.nan)
    ok = hi > lo
    if ok.any():
        idx = np.empty(2 * int(ok.sum()), dtype=np.intp)
        idx[0::2], idx[1::2] = lo[ok], hi[ok]
        out[ok] = ufunc.reduceat(v, idx)[0::2]
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
    x[:, _INDEX["shock_index_6h"]] = _ratio(x, "heart_rate__mean_6h", "sbp__mean_6h")
    x[:, _INDEX["modified_shock_index"]] = _ratio(x, "heart_rate__last", "map__last")
    x[:, _INDEX["sirs_criteria"]] = _sirs(x)
    with np.errstate(invalid="ignore"):
        x[:, _INDEX["qsofa_partial"]] = ((x[:, _INDEX["resp_rate__last"]] >= 22).astype(float)
                                         + (x[:, _INDEX["sbp__last"]] <= 100))
    since = x[:, _LAB_SINCE]
    any_lab = ~np.isnan(since).all(axis=1)
    x[:, _INDEX["hours_since_any_lab"]] = np.nan
    x[any_lab, _INDEX["hours_since_any_lab"]] = np.nanmin(since[any_lab], axis=1)
    now = _sofa(x, "platelets__last", "bilirubin_total__last", "creatinine__last", "map__last")
    best = _sofa(x, f"platelets__max_{LAB_WINDOW}", f"bilirubin_total__min_{LAB_WINDOW}",
                 f"creatinine__min_{LAB_WINDOW}", "map__max_24h")
    x[:, _INDEX["sofa_partial"]] = now
    x[:, _INDEX["sofa_partial_rise"]] = now - best


def _sirs(x: np.ndarray) -> np.ndarray:
    """SIRS criteria met by the last values (a criterion never measured is not met, as at the bedside)."""
    temp, hr = x[:, _INDEX["temperature__last"]], x[:, _INDEX["heart_rate__last"]]
    rr, wbc = x[:, _INDEX["resp_rate__last"]], x[:, _INDEX["wbc__last"]]
    with np.errstate(invalid="ignore"):
        return ((temp > 38) | (temp < 36)).astype(float) + (hr > 90) + (rr > 20) + ((wbc > 12) | (wbc < 4))


def _points(values: np.ndarray, bands: tuple[tuple[float, float], ...]) -> np.ndarray:
    """SOFA points: the points of the last band whose lower bound the value reaches; 0 when missing."""
    out = np.zeros(len(values))
    with np.errstate(invalid="ignore"):
        for bound, points in bands:
            out = np.where(values >= bound, points, out)
    return out


def _sofa(x: np.ndarray, platelets: str, bilirubin: str, creatinine: str, map_: str) -> np.ndarray:
    """Partial SOFA (Vincent et al., Intensive Care Med 1996;22:707, table 1) from the named feature columns."""
    with np.errstate(invalid="ignore"):
        plt = x[:, _INDEX[platelets]]
        coagulation = np.where(np.isnan(plt), 0, (plt < 150).astype(float) + (plt < 100) + (plt < 50) + (plt < 20))
        cardiovascular = (x[:, _INDEX[map_]] < 70).astype(float)
    liver = _points(x[:, _INDEX[bilirubin]], ((1.2, 1), (2.0, 2), (6.0, 3), (12.0, 4)))
    renal = _points(x[:, _INDEX[creatinine]], ((1.2, 1), (2.0, 2), (3.5, 3), (5.0, 4)))
    return coagulation + cardiovascular + liver + renal


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
