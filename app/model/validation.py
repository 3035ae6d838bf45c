"""What the card and `sentinel evaluate` report about a model on a cohort: metric tables and operating points.

The model's alert series is what the app would show: probability >= threshold on rows where the
model does not abstain. Baselines alert by their published cut-offs on every row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from app.model.artifact import Model
from app.model.baselines import BASELINES, CLOCK, baseline_scores
from app.model.dataset import Cohort
from app.model.features import column
from app.model.metrics import alert_metrics, expected_calibration_error, hourly_auprc, hourly_auroc
from app.model.scoring import ABSTAIN_CANDIDATES, abstains

MODEL_ROW = "Sepsis Sentinel model"
THRESHOLD_GRID = tuple(round(0.005 * i, 3) for i in range(2, 101))  # 0.01 .. 0.50
TABLE_THRESHOLDS = (0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.10, 0.12, 0.15, 0.20, 0.30)
HEADLINE = ("auroc", "auprc", "utility", "sensitivity", "precision", "alerts_per_patient_day", "median_lead_time_h")


@dataclass(frozen=True)
class Scored:
    """A cohort with the model's probabilities and abstain flags for every row."""

    cohort: Cohort
    probabilities: np.ndarray
    abstain: np.ndarray

    def alerts(self, threshold: float) -> np.ndarray:
        return (self.probabilities >= threshold) & ~self.abstain


def score_cohort(model: Model, cohort: Cohort) -> Scored:
    """Every patient-hour's probability (always computed) and whether the model would abstain there."""
    return Scored(cohort, model.probabilities(cohort.x), abstains(cohort.x))


def _clean(d: dict) -> dict:
    """Round floats for the card and turn NaN into None (JSON has no NaN)."""
    out = {}
    for k, v in d.items():
        if isinstance(v, float):
            out[k] = None if math.isnan(v) else round(v, 4)
        else:
            out[k] = v
    return out


def metrics_table(scored: Scored, threshold: float) -> list[dict]:
    """One row for the model at `threshold`, then one per baseline, on the same patient-hours."""
    c = scored.cohort
    model = {
        "name": MODEL_ROW,
        "rule": f"probability >= {threshold:g}, not abstaining",
        "auroc": hourly_auroc(c.labels, scored.probabilities),
        "auprc": hourly_auprc(c.labels, scored.probabilities),
        **alert_metrics(c.patients, c.hours, scored.alerts(threshold), c.labels),
        "ece": expected_calibration_error(c.labels, scored.probabilities),
        "rows_scored": float(1.0 - scored.abstain.mean()),
    }
    rows = [_clean(model)]
    scores = baseline_scores(c.x)
    for b in BASELINES:
        s = scores[b.name]
        row = {
            "name": b.name,
            "rule": b.description,
            "auroc": hourly_auroc(c.labels, s),
            "auprc": hourly_auprc(c.labels, s),
            **alert_metrics(c.patients, c.hours, s >= b.alert_at, c.labels),
            "ece": None,
            "rows_scored": 1.0,
        }
        rows.append(_clean(row))
    clock = next(r for r in rows if r["name"] == CLOCK)
    if rows[0]["utility"] is not None and clock["utility"] is not None:
        rows[0]["utility_lift_over_clock"] = round(rows[0]["utility"] - clock["utility"], 4)
    return rows


def operating_points(scored: Scored, thresholds=TABLE_THRESHOLDS) -> list[dict]:
    """Patient-level operating point and utility of the model at each threshold."""
    c = scored.cohort
    return [
        _clean({"threshold": t, **alert_metrics(c.patients, c.hours, scored.alerts(t), c.labels)})
        for t in thresholds
    ]


def _search(scored: Scored, meets, *, highest: bool) -> tuple[float, dict] | None:
    """A binary search over THRESHOLD_GRID for a target that changes once along it: with `highest`, the highest
    threshold whose metrics still `meet` a target that holds at low thresholds (sensitivity falls as the
    threshold rises); otherwise the lowest one meeting a target that holds at high thresholds (precision,
    roughly, rises with it). Returns (threshold, metrics) or None."""
    c = scored.cohort
    lo, hi, best = 0, len(THRESHOLD_GRID) - 1, None
    while lo <= hi:
        mid = (lo + hi) // 2
        m = alert_metrics(c.patients, c.hours, scored.alerts(THRESHOLD_GRID[mid]), c.labels)
        if meets(m):
            best = (THRESHOLD_GRID[mid], m)
            lo, hi = (mid + 1, hi) if highest else (lo, mid - 1)
        else:
            lo, hi = (lo, mid - 1) if highest else (mid + 1, hi)
    return best


def matched_comparisons(scored: Scored, table: list[dict]) -> list[dict]:
    """For each baseline: the model at the highest grid threshold at least as sensitive as the baseline (its
    precision and alert burden at equal sensitivity), and at the lowest grid threshold at least as precise
    (its sensitivity at equal precision). A report, never used to choose a threshold."""
    out = []
    for row in table[1:]:
        target, precision = row["sensitivity"], row["precision"]
        best = None if target is None else _search(scored, lambda m, t=target: m["sensitivity"] >= t, highest=True)
        entry = {"baseline": row["name"], "baseline_sensitivity": target, "baseline_precision": precision,
                 "baseline_alerts_per_patient_day": row["alerts_per_patient_day"]}
        if best is None:
            entry["model_threshold"] = None  # the model is less sensitive than this baseline at every grid threshold
        else:
            t, m = best
            entry.update(_clean({"model_threshold": t, "model_sensitivity": m["sensitivity"],
                                 "model_precision": m["precision"],
                                 "model_alerts_per_patient_day": m["alerts_per_patient_day"]}))
        same_precision = None if precision is None else _search(
            scored, lambda m, p=precision: m["precision"] == m["precision"] and m["precision"] >= p, highest=False)
        if same_precision is None:
            entry["model_threshold_at_precision"] = None  # never as precise on the grid
        else:
            t, m = same_precision
            entry.update(_clean({"model_threshold_at_precision": t, "model_sensitivity_at_precision": m["sensitivity"],
                                 "model_precision_at_precision": m["precision"]}))
        out.append(entry)
    return out


def where_baselines_win(table: list[dict]) -> list[str]:
    """Headline metrics on which some baseline does at least as well as the model (lower is better for alerts/day)."""
    model, notes = table[0], []
    for row in table[1:]:
        for key in HEADLINE:
            m, b = model.get(key), row.get(key)
            if m is None or b is None:
                continue
            better = b <= m if key == "alerts_per_patient_day" else b >= m
            if better:
                notes.append(f"{row['name']}: {key} {b} vs model {m}")
    return notes


_COLUMNS = (
    ("name", "", 26), ("auroc", "AUROC", 6), ("auprc", "AUPRC", 6), ("utility", "utility", 7),
    ("sensitivity", "sens", 6), ("precision", "prec", 6), ("alerts_per_patient_day", "alerts/pt-day", 13),
    ("median_lead_time_h", "lead h", 6), ("ece", "ECE", 6),
)


def format_table(table: list[dict]) -> str:
    """The metrics table as fixed-width text for the terminal."""

    def cell(v, width):
        if v is None:
            return "-".rjust(width)
        if isinstance(v, float):
            return f"{v:.3f}".rjust(width)
        return str(v).ljust(width) if width == 26 else str(v).rjust(width)

    lines = [" ".join(title.ljust(w) if i == 0 else title.rjust(w) for i, (_, title, w) in enumerate(_COLUMNS))]
    for row in table:
        lines.append(" ".join(cell(row.get(key), w) for key, _, w in _COLUMNS))
    return "\n".join(lines)


def abstention_candidates(scored: Scored, threshold: float) -> dict[str, dict]:
    """For each candidate abstain rule (`ABSTAIN_CANDIDATES`), at `threshold`: the share of hours and of septic
    hours it removes from alerting, the operating point, and the calibration of the scores it gives on partial
    data (rows the strictest rule, the full vital set, would remove)."""
    c, p = scored.cohort, scored.probabilities
    strictest = abstains(c.x, ABSTAIN_CANDIDATES["full vital set"])
    septic = c.labels == 1
    out = {}
    for name, groups in ABSTAIN_CANDIDATES.items():
        off = abstains(c.x, groups)
        m = alert_metrics(c.patients, c.hours, (p >= threshold) & ~off, c.labels)
        partial = strictest & ~off
        entry = {"hours_removed": float(off.mean()), "septic_hours_removed": float(off[septic].mean()),
                 "sensitivity": m["sensitivity"], "precision": m["precision"], "utility": m["utility"],
                 "partial_rows": int(partial.sum())}
        if partial.any():
            entry.update({"partial_observed_rate": float(c.labels[partial].mean()),
                          "partial_mean_predicted": float(p[partial].mean()),
                          "partial_ece": expected_calibration_error(c.labels[partial], p[partial])})
        out[name] = _clean(entry)
    return out


AGE_BANDS = ((18, 50), (50, 65), (65, 80), (80, 200))


def subgroups(scored: Scored) -> list[dict]:
    """Hourly AUROC and calibration by sex and age band (the only protected attributes the data hold), so
    a drop in one group is visible; a report, never used to choose."""
    c, p = scored.cohort, scored.probabilities
    age, male = c.x[:, column("age__last")], c.x[:, column("sex_male__last")]
    groups = [("female", male == 0), ("male", male == 1)]
    groups += [(f"age {lo}-{hi - 1}" if hi < 200 else f"age {lo}+", (age >= lo) & (age < hi)) for lo, hi in AGE_BANDS]
    out = []
    for name, rows in groups:
        if rows.sum() == 0:
            continue
        out.append(_clean({"group": name, "patient_hours": int(rows.sum()),
                           "septic_hours": int(c.labels[rows].sum()),
                           "auroc": hourly_auroc(c.labels[rows], p[rows]),
                           "observed_rate": float(c.labels[rows].mean()), "mean_predicted": float(p[rows].mean())}))
    return out
