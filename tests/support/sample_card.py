"""A model card shaped exactly as `sentinel train` writes it (app/model/train.py), with made-up numbers, so the
transparency and tuning pages can be tested without a trained model. The numbers are chosen to be recognisable
in a page (e.g. AUROC 0.7771) so a test can tell they came from the card."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from app.model import card
from app.model.artifact import CARD_NAME

# A 1x1 transparent PNG.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")
VERSION = "2026.11.20+0123456789ab"
THRESHOLD = 0.08


def _metrics(model_auroc: float) -> list[dict]:
    rows = [{"name": "Sepsis Sentinel model", "rule": f"probability >= {THRESHOLD:g}, not abstaining",
             "auroc": model_auroc, "auprc": 0.0911, "patients": 10000, "septic_patients": 550,
             "alerted_patients": 1210, "sensitivity": 0.4123, "precision": 0.2456, "alerts_per_patient_day": 0.3141,
             "median_lead_time_h": 5.5, "utility": 0.2718, "ece": 0.0123, "rows_scored": 0.93}]
    for name, auroc in (("SIRS", 0.6012), ("qSOFA (RR, SBP)", 0.5801), ("NEWS2 (no consciousness)", 0.6345),
                        ("MEWS (no AVPU)", 0.6111)):
        rows.append({"name": name, "rule": f"{name} rule", "auroc": auroc, "auprc": 0.03, "patients": 10000,
                     "septic_patients": 550, "alerted_patients": 6000, "sensitivity": 0.7, "precision": 0.07,
                     "alerts_per_patient_day": 1.9, "median_lead_time_h": 9.0, "utility": 0.05, "ece": None,
                     "rows_scored": 1.0})
    return rows


def operating_points(scale: float = 1.0) -> list[dict]:
    rows = []
    for i, t in enumerate((0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.10, 0.12, 0.15, 0.20, 0.30)):
        rows.append({"threshold": t, "patients": 10000, "septic_patients": 550,
                     "alerted_patients": int(4000 / (i + 1)), "sensitivity": round(0.8 - 0.05 * i, 4),
                     "precision": round(0.1 + 0.03 * i * scale, 4),
                     "alerts_per_patient_day": round(1.2 / (i + 1), 4),
                     "median_lead_time_h": None if t == 0.30 else round(9.0 - 0.5 * i, 4),
                     "utility": round(0.1 + 0.01 * i, 4)})
    return rows


def _cohort(name, role, patients, septic, male):
    return {"set": name, "role": role, "patients": patients, "patient_hours": patients * 38, "septic_patients": septic,
            "septic_fraction": round(septic / patients, 4),
            "age_years": {"median": 63.0, "iqr": [51.2, 74.1], "min": 18.0, "max": 100.0}, "male_fraction": male,
            "units_of_care": {"MICU": patients // 2, "SICU": patients // 4, "not recorded": patients - 3 * patients // 4}}


def sample_card(*, external: bool = True) -> dict:
    c = card.base_card()
    c["model"] = {
        "name": "Sepsis Sentinel risk model", "version": VERSION, "created": "2026-11-20",
        "artifact": "sepsis_model.skops", "sha256": "0123456789ab" + "0" * 52, "size_bytes": 1234,
        "estimator": "scikit-learn HistGradientBoostingClassifier (missing values handled natively)",
        "hyperparameters": {"max_iter": 400}, "selection": [], "fitting_rows": "all", "seed": 1,
        "sklearn_version": "1.9.1", "features_used": 180, "features_total": 200,
        "scoring_ms_per_patient": {"median": 3.2, "p95": 5.0, "how": "test"}, "training_seconds": 100.0,
    }
    c["threshold"] = {"value": THRESHOLD, "rule": "the most sensitive threshold meeting precision 0.38 (test)",
                      "target_precision": 0.38, "utility_optimal_heldout_A": {"threshold": 0.05, "utility": 0.3}}
    c["population_means"] = {}
    c["data"]["split"] = "Set A split by patient (test card)."
    c["data"]["cohorts"] = [
        _cohort("A (training part)", "fitting", 16269, 1432, 0.5612),
        _cohort("A (held-out part)", "choosing hyper-parameters and threshold", 4067, 358, 0.5588),
    ]
    c["heldout_A"] = {"metrics": _metrics(0.8123)}
    c["operating_points"] = {"heldout_A": operating_points(1.0)}
    if external:
        c["data"]["cohorts"].append(_cohort("B", "external validation only (another hospital)", 10000, 550, 0.5791))
        c["external_validation"] = {
            "set": "B", "note": "10000 stays of hospital B, scored after the model and threshold were frozen.",
            "metrics": _metrics(0.7771), "utility_at_heldout_A_utility_optimal_threshold": 0.25,
            "baselines_not_beaten": ["SIRS: sensitivity 0.7 vs model 0.4123"], "reliability_plot": "reliability_B.png",
        }
        c["operating_points"]["B"] = operating_points(0.9)
    c["comparisons"] = ["TREWS (Adams et al., Nat Med 2022): 38% of evaluated alerts confirmed."]
    return c


def write_sample_card(directory: Path, **kwargs) -> dict:
    directory.mkdir(parents=True, exist_ok=True)
    c = sample_card(**kwargs)
    (directory / CARD_NAME).write_text(json.dumps(c, indent=2))
    (directory / "reliability_heldout_A.png").write_bytes(PNG)
    if c.get("external_validation"):
        (directory / "reliability_B.png").write_bytes(PNG)
    return c


def use_model_dir(app, directory: Path) -> None:
    """Point the app's model card reader at `directory` (the services' `model_dir`)."""
    app.extensions["sentinel"].model_dir = directory
