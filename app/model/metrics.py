"""Hourly, patient-level and calibration metrics, computed from plain per-row arrays.

Every function takes one entry per patient-hour: patient id, hour (ICULOS), a score or an alert flag,
and SepsisLabel. Any alert series can be measured the same way: the model's, a baseline's, or the
alert policy's series gated on organ dysfunction. Onset t_sepsis = first labelled hour + 6, because
the challenge shifted the label 6 h early (see `app.model.utility`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from app.model.utility import normalized_utility, sepsis_onset


def _sorted(patients, hours, *columns):
    """Rows ordered by patient then hour, so 'previous row' means the same patient's previous hour."""
    patients, hours = np.asarray(patients), np.asarray(hours, dtype=float)
    order = np.lexsort((hours, patients))
    return (patients[order], hours[order], *(np.asarray(c)[order] for c in columns))


def hourly_auroc(labels, scores) -> float:
    """Area under the ROC curve of the score against SepsisLabel, over all patient-hours."""
    labels = np.asarray(labels)
    return float(roc_auc_score(labels, scores)) if 0 < labels.sum() < len(labels) else float("nan")


def hourly_auprc(labels, scores) -> float:
    """Average precision of the score against SepsisLabel, over all patient-hours."""
    labels = np.asarray(labels)
    return float(average_precision_score(labels, scores)) if labels.sum() > 0 else float("nan")


def rising_edges(patients, hours, alerts) -> np.ndarray:
    """Per row (in patient, hour order): True where an alert episode starts (alert now, not in the previous hour)."""
    patients, hours, alerts = _sorted(patients, hours, alerts)
    alerts = alerts.astype(bool)
    new_patient = np.r_[True, patients[1:] != patients[:-1]]
    previous = np.r_[False, alerts[:-1]] & ~new_patient
    return alerts & ~previous


def patient_level(patients, hours, alerts, labels) -> dict[str, float | int]:
    """Patient-level operating point of an alert series.

    - sensitivity: septic patients with an alert strictly before t_sepsis / septic patients;
    - precision: alerted patients (any alert, any hour) who are septic / alerted patients;
    - alerts_per_patient_day: alert episodes (rising edges) / (patient-hours / 24);
    - median_lead_time_h: median of t_sepsis - first alert hour, over the septic patients alerted before onset.
    """
    patients, hours, alerts, labels = _sorted(patients, hours, alerts, labels)
    alerts = alerts.astype(bool)
    onset = sepsis_onset(patients, hours, labels)
    ids, inverse = np.unique(patients, return_inverse=True)
    septic = np.zeros(len(ids), dtype=bool)
    np.logical_or.at(septic, inverse, np.isfinite(onset))
    alerted = np.zeros(len(ids), dtype=bool)
    np.logical_or.at(alerted, inverse, alerts)
    first_alert = np.full(len(ids), np.inf)
    np.minimum.at(first_alert, inverse[alerts], hours[alerts])
    patient_onset = np.full(len(ids), np.inf)
    np.minimum.at(patient_onset, inverse, onset)
    early = septic & (first_alert < patient_onset)
    lead = patient_onset[early] - first_alert[early]
    episodes = int(rising_edges(patients, hours, alerts).sum())
    return {
        "patients": len(ids),
        "septic_patients": int(septic.sum()),
        "alerted_patients": int(alerted.sum()),
        "sensitivity": float(early.sum() / septic.sum()) if septic.any() else float("nan"),
        "precision": float((alerted & septic).sum() / alerted.sum()) if alerted.any() else float("nan"),
        "alerts_per_patient_day": float(episodes / (len(hours) / 24.0)) if len(hours) else float("nan"),
        "median_lead_time_h": float(np.median(lead)) if len(lead) else float("nan"),
    }


def expected_calibration_error(labels, probabilities, bins: int = 10) -> float:
    """ECE: |mean predicted - observed rate| per equal-width probability bin, weighted by the bin's share of rows."""
    labels, probabilities = np.asarray(labels, dtype=float), np.asarray(probabilities, dtype=float)
    which = np.minimum((probabilities * bins).astype(int), bins - 1)
    ece = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            ece += in_bin.mean() * abs(probabilities[in_bin].mean() - labels[in_bin].mean())
    return float(ece)


def reliability_plot(labels, probabilities, path: str | Path, title: str, bins: int = 10) -> None:
    """Save a reliability diagram (observed rate against mean predicted probability per bin) as PNG.

    matplotlib is imported here, not at the top: only training and evaluation draw, so serving does not need it
    (it is in the `train` extra)."""
    try:
        import matplotlib
    except ImportError:
        raise ModuleNotFoundError("Drawing the reliability plot needs matplotlib, which only training needs: "
                                  "install the train extra (scripts/bootstrap.sh train, or pip install "
                                  "-c constraints.txt -e '.[train]')", name="matplotlib") from None

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    labels, probabilities = np.asarray(labels, dtype=float), np.asarray(probabilities, dtype=float)
    which = np.minimum((probabilities * bins).astype(int), bins - 1)
    mean_p, rate = [], []
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            mean_p.append(probabilities[in_bin].mean())
            rate.append(labels[in_bin].mean())
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(5, 6), height_ratios=[3, 1], sharex=True)
    top.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    top.plot(mean_p, rate, marker="o", label="model")
    top.set_ylabel("observed rate of SepsisLabel = 1")
    top.set_title(title)
    top.legend(loc="upper left")
    bottom.bar([(b + 0.5) / bins for b in range(bins)], np.bincount(which, minlength=bins), width=0.9 / bins)
    bottom.set_yscale("log")
    bottom.set_xlabel("predicted probability")
    bottom.set_ylabel("patient-hours")
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata={"Software": None})  # no version string: reproducible bytes
    plt.close(fig)


def alert_metrics(patients, hours, alerts, labels) -> dict[str, float | int]:
    """Normalized utility plus the patient-level operating point of one alert series."""
    return {"utility": normalized_utility(patients, hours, alerts, labels), **patient_level(patients, hours, alerts, labels)}
