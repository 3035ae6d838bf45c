"""Which abstain rule: for each candidate in `app.model.scoring.ABSTAIN_CANDIDATES`, how many hours and septic
hours it removes from alerting, and whether the scores it keeps on partial data (rows the strictest rule
removes) are still calibrated. Measured on held-out set A to choose; set B printed beside it, never used.

    nice .venv/bin/python -m bench.abstention [--model model_artifacts] [--cache DIR (default: $TMPDIR/sentinel-cache)]

Without --model, fits a quick model (the shipped learner on 30% of A's training patients). Numbers, not a test.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from app.config import shared_data_dir
from app.model import train
from app.model.artifact import Model, load_model
from app.model.metrics import alert_metrics, expected_calibration_error, hourly_auroc
from app.model.scoring import ABSTAIN_CANDIDATES, abstains
from app.model.validation import Scored
from bench.model_ablations import cached_cohort


def report(model: Model, cohort, strictest: np.ndarray, thresholds: dict | None = None) -> dict:
    """Per candidate rule; the threshold is chosen on this cohort unless `thresholds` (from held-out A) are given."""
    p = model.probabilities(cohort.x)
    septic_hours = cohort.labels == 1
    out = {}
    for name, groups in ABSTAIN_CANDIDATES.items():
        off = abstains(cohort.x, groups)
        scored = Scored(cohort, p, off)
        threshold = thresholds[name]["threshold"] if thresholds else train.choose_threshold(scored)[0]
        m = alert_metrics(cohort.patients, cohort.hours, scored.alerts(threshold), cohort.labels)
        partial = strictest & ~off
        entry = {"hours_removed": round(float(off.mean()), 4),
                 "septic_hours_removed": round(float(off[septic_hours].mean()), 4),
                 "threshold": threshold, "sensitivity": round(m["sensitivity"], 3),
                 "precision": round(m["precision"], 3), "utility": round(m["utility"], 3),
                 "partial_rows": int(partial.sum())}
        if partial.any():
            entry.update({
                "partial_observed_rate": round(float(cohort.labels[partial].mean()), 4),
                "partial_mean_predicted": round(float(p[partial].mean()), 4),
                "partial_ece": round(expected_calibration_error(cohort.labels[partial], p[partial]), 4),
                "partial_auroc": round(hourly_auroc(cohort.labels[partial], p[partial]), 4),
            })
        out[name] = entry
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=shared_data_dir() / "data" / "physionet2019")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "sentinel-cache")
    parser.add_argument("--model", type=Path, help="an artifact directory (default: fit a quick model)")
    args = parser.parse_args()
    a, b = cached_cohort(args.data, "A", args.cache), cached_cohort(args.data, "B", args.cache)
    train_ids, held_ids = train.split_patients(a)
    held = a.subset(held_ids)
    if args.model:
        model = load_model(args.model)
    else:
        fit_ids, _ = train.split_patients(a.subset(train_ids), 0.7, train.SEED + 7)
        part = a.subset(fit_ids)
        columns = np.flatnonzero(~np.all(np.isnan(part.x), axis=0))
        model = Model(train.fit(part, columns, train.CANDIDATES[0]), columns, {})
    strictest = ABSTAIN_CANDIDATES["full vital set"]
    on_a = report(model, held, abstains(held.x, strictest))
    result = {"heldout_A": on_a, "B (thresholds from held-out A)": report(model, b, abstains(b.x, strictest), on_a)}
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
