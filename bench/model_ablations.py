"""Feature and learner ablations for the risk model, chosen on held-out set A only (set B is only reported).

Caches each set's patient-hour features under --cache (parsing set A takes a minute or two), then fits each
variant on A's training part (`train.split_patients`, the split `sentinel train` uses; --fraction to fit on a
patient subsample of it) with `train.fit`, the shipped fitting code, and reports hourly AUROC/AUPRC and, at
the most sensitive threshold whose patient-level precision on held-out A is >= 0.30 (`train.choose_threshold`),
sensitivity and utility; the same model's figures on B are printed beside them for the card's change log,
never used to choose.

    nice .venv/bin/python -m bench.model_ablations [--fraction 1.0] [--cache DIR (default: $TMPDIR/sentinel-cache)]

Numbers, not a test.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import joblib
import numpy as np

from app.config import shared_data_dir
from app.model import train
from app.model.artifact import Model
from app.model.dataset import Cohort, load_cohort
from app.model.features import FEATURE_NAMES, FEATURES, LAB_WINDOW
from app.model.metrics import alert_metrics, hourly_auprc, hourly_auroc
from app.model.physionet import find_set
from app.model.validation import score_cohort


def cached_cohort(data: Path, name: str, cache: Path) -> Cohort:
    """The set's Cohort, built once by the ONE pipeline and kept under `cache` (keyed by the feature names)."""
    key = len(FEATURE_NAMES)
    path = cache / f"cohort_{name}_{key}.joblib"
    if path.exists():
        return joblib.load(path)
    cohort = load_cohort(find_set(data, name))
    cache.mkdir(parents=True, exist_ok=True)
    joblib.dump(cohort, path)
    return cohort


def _named(*suffixes: str, names: tuple[str, ...] = ()) -> set[int]:
    return {i for i, f in enumerate(FEATURES) if f.name.endswith(suffixes) or f.name in names}


_VITALS = ("heart_rate", "spo2", "temperature", "sbp", "map", "dbp", "resp_rate", "etco2")
BASELINE_FEATURES = {i for i, f in enumerate(FEATURES)
                     if f.name.endswith(f"__deviation_{LAB_WINDOW}")
                     or (f.name.endswith((f"__min_{LAB_WINDOW}", f"__max_{LAB_WINDOW}"))
                         and f.name.split("__")[0] in _VITALS)}
TRENDS = _named("__trend_6h", "__sd_24h")
BEDSIDE = _named(names=("shock_index_6h", "modified_shock_index", "sirs_criteria", "qsofa_partial"))
CLOCK = _named(names=("hours_in_icu",))
# The learner of the previous release (scikit-learn's histogram boosting with the same kind of regularisation).
PREVIOUS_LEARNER = {"learning_rate": 0.06, "max_leaf_nodes": 15, "min_samples_leaf": 1000, "l2_regularization": 10.0,
                    "max_features": 0.5}


class _Sklearn:
    """The previous learner behind the same `fit` steps (stopping slice, fitting rows, weights)."""

    def __init__(self, estimator) -> None:
        self.estimator, self.n_iter_ = estimator, int(estimator.n_iter_)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return self.estimator.predict_proba(x)


def fit_previous(cohort: Cohort, columns: np.ndarray) -> _Sklearn:
    from sklearn.ensemble import HistGradientBoostingClassifier

    fit_ids, stop_ids = train.split_patients(cohort, train.STOPPING_FRACTION, train.SEED + 1)
    fitted, stopping = cohort.subset(fit_ids), cohort.subset(stop_ids)
    keep, weights = train.fitting_rows(fitted)
    model = HistGradientBoostingClassifier(**PREVIOUS_LEARNER, max_iter=600, early_stopping=True, scoring="loss",
                                           n_iter_no_change=20, random_state=train.SEED)
    model.fit(fitted.x[np.ix_(keep, columns)], fitted.labels[keep], sample_weight=weights,
              X_val=stopping.x[:, columns], y_val=stopping.labels)
    return _Sklearn(model)


def evaluate(model: Model, cohort: Cohort, threshold: float | None = None) -> dict:
    scored = score_cohort(model, cohort)
    c = cohort
    if threshold is None:
        threshold, _ = train.choose_threshold(scored)
    m = alert_metrics(c.patients, c.hours, scored.alerts(threshold), c.labels)
    return {"auroc": round(hourly_auroc(c.labels, scored.probabilities), 4),
            "auprc": round(hourly_auprc(c.labels, scored.probabilities), 4),
            "threshold": threshold, "sensitivity": round(m["sensitivity"], 3), "precision": round(m["precision"], 3),
            "utility": round(m["utility"], 3)}


FULL = "LightGBM, shipped features"
# variant -> (the change it tests, "add" when the variant adds it to the reference, "without" when the reference has
# it and the variant does not); judged by hourly AUROC on held-out A.
DECISIONS = {
    "scikit-learn histogram boosting, shipped features": ("LightGBM instead of the previous learner", "without"),
    "LightGBM, with 6 h trends and 24 h variability of vital signs": ("6 h trends and 24 h variability", "add"),
    "LightGBM, with bedside physiology (6 h shock index, HR/MAP, SIRS, qSOFA)": ("bedside physiology", "add"),
    "LightGBM, with per-patient baselines": ("per-patient baselines (72 h worst values, deviation from the "
                                             "running mean)", "add"),
    "LightGBM, without hours in ICU": ("hours since ICU admission", "without"),
    "LightGBM, fitted on 50% of A's training part": ("fitting on all of A's training part", "without"),
}


def variants(measured: set[int]) -> dict[str, tuple[list[int], str, float]]:
    """name -> (feature columns, learner ("lightgbm", "sklearn", or a JSON of LightGBM settings), share of the
    training part fitted on)."""
    shipped = measured - {i for i, n in enumerate(FEATURE_NAMES) if n in train.UNUSED_FEATURES}
    return {
        FULL: (sorted(shipped), "lightgbm", 1.0),
        "scikit-learn histogram boosting, shipped features": (sorted(shipped), "sklearn", 1.0),
        "LightGBM, with 6 h trends and 24 h variability of vital signs": (sorted(shipped | (TRENDS & measured)),
                                                                          "lightgbm", 1.0),
        "LightGBM, with bedside physiology (6 h shock index, HR/MAP, SIRS, qSOFA)": (
            sorted(shipped | (BEDSIDE & measured)), "lightgbm", 1.0),
        "LightGBM, with per-patient baselines": (sorted(shipped | (BASELINE_FEATURES & measured)), "lightgbm", 1.0),
        "LightGBM, without hours in ICU": (sorted(shipped - CLOCK), "lightgbm", 1.0),
        "LightGBM, fitted on 50% of A's training part": (sorted(shipped), "lightgbm", 0.5),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=shared_data_dir() / "data" / "physionet2019")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "sentinel-cache")
    parser.add_argument("--only", nargs="*", help="variants to run (default: all)")
    parser.add_argument("--params", action="append", default=[], metavar="JSON",
                        help="also fit the shipped features with the learner settings updated by this JSON (for "
                        'example \'{"min_child_samples": 3000}\'); repeatable; reported, not in the card\'s table')
    args = parser.parse_args()
    start = time.perf_counter()
    a = cached_cohort(args.data, "A", args.cache)
    b = cached_cohort(args.data, "B", args.cache)
    print(f"[{time.perf_counter() - start:.0f}s] cohorts ready", flush=True)
    train_ids, held_ids = train.split_patients(a)
    training, held = a.subset(train_ids), a.subset(held_ids)
    del a
    measured = set(np.flatnonzero(~np.all(np.isnan(training.x), axis=0)).tolist())
    saved = args.cache / "ablations.json"
    results = json.loads(saved.read_text()) if saved.exists() else {}
    runs = variants(measured)
    for extra in args.params:
        runs[f"LightGBM, {extra}"] = (runs[FULL][0], extra, 1.0)
    for name, (columns, learner, fraction) in runs.items():
        if args.only and name not in args.only and not name.startswith("LightGBM, {"):
            continue
        t0 = time.perf_counter()
        part = training
        if fraction < 1:
            part = training.subset(train.split_patients(training, 1 - fraction, train.SEED + 7)[0])
        cols = np.array(columns)
        if learner == "sklearn":
            est = fit_previous(part, cols)
        else:
            params = {**train.CANDIDATES[0], **(json.loads(learner) if learner.startswith("{") else {})}
            est = train.fit(part, cols, params)
        model = Model(est, cols, {})
        h = evaluate(model, held)
        results[name] = {"heldout_A": h, "B": evaluate(model, b, h["threshold"]), "features": len(columns),
                         "trees": int(est.n_iter_), "fit_s": round(time.perf_counter() - t0, 1)}
        print(f"[{time.perf_counter() - start:.0f}s] {name}: {json.dumps(results[name])}", flush=True)
        saved.write_text(json.dumps(results, indent=2) + "\n")
    (args.cache / "ablations_card.json").write_text(json.dumps(for_card(results), indent=2) + "\n")
    return 0


def for_card(results: dict) -> dict:
    """The card's ablation table: each tested change, kept when held-out A says so (B is reported only)."""
    rows = []
    full = results.get(FULL)
    for name, r in results.items():
        if name.startswith("LightGBM, {"):
            continue  # a --params trial: printed and saved, not an ablation of this version
        if name == FULL or full is None or name not in DECISIONS:
            kept = "reference: the shipped model" if name == FULL else "-"
        else:
            what, how = DECISIONS[name]
            better = r["heldout_A"]["auroc"] > full["heldout_A"]["auroc"]
            # "add": the variant adds the change to the reference; otherwise the reference has it and the variant not.
            kept = f"{what}: {'kept' if better == (how == 'add') else 'dropped'}"
        rows.append({"variant": name, "kept": kept, "heldout_A": r["heldout_A"], "B": r["B"]})
    return {
        "how": "Each variant fitted on A's training part (same split, stopping slice and fitting rows as `sentinel "
               "train`), on features capped at the 72 h lookback without counts of measurements or orders; judged "
               "on held-out A (hourly AUROC; sensitivity at the most sensitive threshold with patient-level "
               "precision >= 0.30 there); B at the same threshold, reported only. Reproduce: `nice .venv/bin/python "
               "-m bench.model_ablations`.",
        "rows": rows,
    }


if __name__ == "__main__":
    raise SystemExit(main())
