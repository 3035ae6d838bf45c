"""The PhysioNet/CinC 2019 normalized utility score, reimplemented from its published definition.

Reyna et al., "Early Prediction of Sepsis From Clinical Data: the PhysioNet/Computing in Cardiology
Challenge 2019", Crit Care Med 2020;48(2):210-217, section "Scoring", and the organisers'
`evaluate_sepsis_score.py` (`compute_prediction_utility`). Per patient-hour t, with
d = t - t_sepsis and t_sepsis = (first hour with SepsisLabel = 1) + 6 (the label is shifted 6 h early):

    septic patient, alert:     d <= -6: max((d + 12) / 6, -0.05)   (0 at -12 h, +1 at -6 h, U_FP before -12 h)
                               -6 < d <= 3: (3 - d) / 9            (+1 at -6 h falling to 0 at +3 h)
    septic patient, no alert:  d <= -6: 0;  -6 < d <= 3: -2 (d + 6) / 9   (down to U_FN = -2 at +3 h)
    septic patient, d > 3:     0 whatever is predicted
    non-septic patient:        alert -0.05 (U_FP), no alert 0 (U_TN)

The cohort's total is normalized so that never alerting scores 0 and the optimal series (alert exactly
from t_sepsis - 12 to t_sepsis + 3) scores 1. Hours are ICULOS; the official code counts rows, which
is the same because ICULOS rises by exactly 1 per row. Inputs are plain per-row arrays, so the same
function scores any alert series (the model's, a baseline's, or an alert policy's gated series).
"""

from __future__ import annotations

import numpy as np

DT_EARLY, DT_OPTIMAL, DT_LATE = -12.0, -6.0, 3.0
U_TP_MAX, U_FN_MIN, U_FP, U_TN = 1.0, -2.0, -0.05, 0.0
LABEL_SHIFT_H = 6.0  # SepsisLabel is 1 from t_sepsis - 6 onward


def sepsis_onset(patients: np.ndarray, hours: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """t_sepsis for each row's patient: first labelled hour + 6, or +inf for a patient never labelled."""
    patients, hours, labels = np.asarray(patients), np.asarray(hours, dtype=float), np.asarray(labels)
    ids, inverse = np.unique(patients, return_inverse=True)
    first = np.full(len(ids), np.inf)
    pos = labels.astype(bool)
    np.minimum.at(first, inverse[pos], hours[pos])
    return first[inverse] + LABEL_SHIFT_H


def row_utilities(patients, hours, alerts, labels) -> np.ndarray:
    """Utility of each patient-hour under the challenge's definition (see module docstring)."""
    hours = np.asarray(hours, dtype=float)
    alerts = np.asarray(alerts).astype(bool)
    t_sepsis = sepsis_onset(patients, hours, labels)
    septic = np.isfinite(t_sepsis)
    d = np.where(septic, hours - np.where(septic, t_sepsis, 0.0), -np.inf)
    u = np.zeros(len(hours))
    early = septic & (d <= DT_OPTIMAL)
    late = septic & (d > DT_OPTIMAL) & (d <= DT_LATE)
    # slopes exactly as in the official code: m1 from 0 at DT_EARLY to U_TP_MAX at DT_OPTIMAL, etc.
    m1 = U_TP_MAX / (DT_OPTIMAL - DT_EARLY)
    m2 = -U_TP_MAX / (DT_LATE - DT_OPTIMAL)
    m3 = U_FN_MIN / (DT_LATE - DT_OPTIMAL)
    with np.errstate(invalid="ignore"):
        u = np.where(early & alerts, np.maximum(m1 * (d - DT_EARLY), U_FP), u)
        u = np.where(late & alerts, m2 * (d - DT_LATE), u)
        u = np.where(late & ~alerts, m3 * (d - DT_OPTIMAL), u)
    u = np.where(~septic & alerts, U_FP, u)
    u = np.where(~septic & ~alerts, U_TN, u)
    return u


def optimal_alerts(patients, hours, labels) -> np.ndarray:
    """The best possible series: alert exactly from t_sepsis - 12 to t_sepsis + 3 (inclusive)."""
    hours = np.asarray(hours, dtype=float)
    d = hours - sepsis_onset(patients, hours, labels)
    return (d >= DT_EARLY) & (d <= DT_LATE)


def normalized_utility(patients, hours, alerts, labels) -> float:
    """(observed - no alerts) / (optimal - no alerts), summed over the cohort as in the challenge."""
    observed = row_utilities(patients, hours, alerts, labels).sum()
    inaction = row_utilities(patients, hours, np.zeros(len(hours), dtype=bool), labels).sum()
    best = row_utilities(patients, hours, optimal_alerts(patients, hours, labels), labels).sum()
    if best == inaction:
        return float("nan")  # no septic patient: the score is undefined
    return float((observed - inaction) / (best - inaction))
