"""`sentinel evaluate`: score every patient-hour of a PhysioNet-format set with a model and report metrics.

Any artifact directory (`--model DIR`: the shipped one by default, or a site-adapted one written by
`sentinel train --site-data`) is loaded the same verified way the app loads the shipped model.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

from app.model.artifact import load_model
from app.model.dataset import load_cohort
from app.model.metrics import reliability_plot
from app.model.validation import (
    format_table,
    matched_comparisons,
    metrics_table,
    operating_points,
    score_cohort,
    where_baselines_win,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, type=Path, help="a folder of .psv files or a .tar.gz of them")
    parser.add_argument("--predictions", type=Path,
                        help="also write one CSV row per patient-hour: patient, ICULOS, probability, alert, SepsisLabel")
    parser.add_argument("--out", type=Path, default=Path("metrics.json"),
                        help="where to write the metrics as JSON (default: metrics.json)")
    parser.add_argument("--plot", type=Path, help="reliability plot PNG (default: next to --out, *_reliability.png)")
    parser.add_argument("--threshold", type=float, help="alert threshold (default: the model card's)")
    parser.add_argument("--model", "--model-dir", dest="model_dir", type=Path,
                        help="model artifact folder (default: the shipped model_artifacts/)")


def run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    model = load_model(args.model_dir)
    threshold = model.threshold if args.threshold is None else args.threshold
    cohort = load_cohort(args.data)
    scored = score_cohort(model, cohort)
    table = metrics_table(scored, threshold)
    report = {
        "data": str(args.data),
        "model_version": model.version,
        "threshold": threshold,
        "patients": len(cohort.stays),
        "patient_hours": len(cohort.labels),
        "metrics": table,
        "baselines_not_beaten": where_baselines_win(table),
        "matched_sensitivity": matched_comparisons(scored, table),
        "operating_points": operating_points(scored),
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    plot = args.plot or args.out.with_name(args.out.stem + "_reliability.png")
    reliability_plot(cohort.labels, scored.probabilities, plot, f"Reliability, {Path(args.data).name}")
    if args.predictions:
        alerts = scored.alerts(threshold)
        with args.predictions.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["patient", "ICULOS", "probability", "alert", "SepsisLabel"])
            for row in zip(cohort.patients, cohort.hours, scored.probabilities, alerts, cohort.labels, strict=True):
                w.writerow([row[0], int(row[1]), f"{row[2]:.6f}", int(row[3]), int(row[4])])
    print(f"model {model.version}, threshold {threshold:g}: {len(cohort.stays)} patients, {len(cohort.labels)} patient-hours")
    print(format_table(table))
    lift = table[0].get("utility_lift_over_clock")
    if lift is not None:
        print(f"  utility {table[0]['utility']} = the ICU clock's + {lift:+.4f} (lift over the clock baseline)")
    for note in report["baselines_not_beaten"]:
        print(f"  baseline at least as good: {note}")
    for m in report["matched_sensitivity"]:
        if m["model_threshold"] is None:
            print(f"  at {m['baseline']}'s sensitivity ({m['baseline_sensitivity']}): the model never reaches it")
        else:
            print(f"  at {m['baseline']}'s sensitivity ({m['baseline_sensitivity']}): model precision "
                  f"{m['model_precision']} vs {m['baseline_precision']}, alerts/patient-day "
                  f"{m['model_alerts_per_patient_day']} vs {m['baseline_alerts_per_patient_day']}")
        if m.get("model_threshold_at_precision") is None:
            print(f"  at {m['baseline']}'s precision ({m['baseline_precision']}): the model never reaches it")
        else:
            print(f"  at {m['baseline']}'s precision ({m['baseline_precision']}): model sensitivity "
                  f"{m['model_sensitivity_at_precision']} vs {m['baseline_sensitivity']}")
    print(f"wrote {args.out} and {plot}" + (f" and {args.predictions}" if args.predictions else ""))
    print(f"took {time.perf_counter() - start:.1f} s")
    return 0
