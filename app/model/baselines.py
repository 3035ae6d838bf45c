"""Transparent bedside scores as baselines: SIRS, and the parts of qSOFA, NEWS2 and MEWS the data allow.

Each score is computed per patient-hour from the last value of each vital sign or lab at or before that
hour (the `__last` features of the ONE pipeline, so a baseline sees exactly what the model sees). A
component that was never measured scores 0 points, as at the bedside ("assume normal"). Left out
because PhysioNet 2019 has no such data: band forms (SIRS), mental status (qSOFA), consciousness
(NEWS2), AVPU (MEWS). The ICU clock is the null model of this data set: time in the ICU and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.model.features import column

CLOCK = "ICU clock (hour >= 48)"


@dataclass(frozen=True)
class Baseline:
    name: str
    description: str
    alert_at: int  # alert when the score is at least this


BASELINES = (
    Baseline("SIRS", "SIRS criteria (temperature, heart rate, respiratory rate or PaCO2, white cells; no bands), alert at >= 2", 2),
    Baseline("qSOFA (RR, SBP)", "qSOFA without mental status: respiratory rate >= 22, systolic BP <= 100; alert when both", 2),
    Baseline("NEWS2 (no consciousness)", "NEWS2 without consciousness; supplemental oxygen inferred from FiO2 > 0.21; alert at >= 5", 5),
    Baseline("MEWS (no AVPU)", "MEWS (Subbe 2001) without AVPU; alert at >= 5", 5),
    # No physiology at all: in this data, septic hours cluster late in long stays, so a clock alone scores a
    # utility of about 0.2. The model's utility is reported as lift over it.
    Baseline(CLOCK, "alert whenever the ICU hour (hours since ICU admission) is at least 48", 48),
)


def _last(x: np.ndarray, concept: str) -> np.ndarray:
    return x[:, column(f"{concept}__last")]


def _points(values: np.ndarray, bands: list[tuple[float, float]], above: float) -> np.ndarray:
    """Points for the first band whose upper bound (inclusive) the value does not exceed; `above` beyond; 0 if missing."""
    out = np.full(len(values), above)
    for upper, points in reversed(bands):
        out = np.where(values <= upper, points, out)
    return np.where(np.isnan(values), 0.0, out)


def sirs(x: np.ndarray) -> np.ndarray:
    temp, hr = _last(x, "temperature"), _last(x, "heart_rate")
    rr, paco2, wbc = _last(x, "resp_rate"), _last(x, "paco2"), _last(x, "wbc")
    with np.errstate(invalid="ignore"):
        return (
            ((temp > 38) | (temp < 36)).astype(float)
            + (hr > 90)
            + ((rr > 20) | (paco2 < 32))
            + ((wbc > 12) | (wbc < 4))
        )


def qsofa(x: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return (_last(x, "resp_rate") >= 22).astype(float) + (_last(x, "sbp") <= 100)


def news2(x: np.ndarray) -> np.ndarray:
    """Royal College of Physicians, NEWS2 (2017), chart 1, SpO2 scale 1."""
    with np.errstate(invalid="ignore"):
        oxygen = np.where(_last(x, "fio2") > 0.21, 2.0, 0.0)
    return (
        _points(_last(x, "resp_rate"), [(8, 3), (11, 1), (20, 0), (24, 2)], 3)
        + _points(_last(x, "spo2"), [(91, 3), (93, 2), (95, 1)], 0)
        + oxygen
        + _points(_last(x, "sbp"), [(90, 3), (100, 2), (110, 1), (219.999, 0)], 3)
        + _points(_last(x, "heart_rate"), [(40, 3), (50, 1), (90, 0), (110, 1), (130, 2)], 3)
        + _points(_last(x, "temperature"), [(35, 3), (36, 1), (38, 0), (39, 1)], 2)
    )


def mews(x: np.ndarray) -> np.ndarray:
    """Subbe et al., QJM 2001;94:521, table 1."""
    return (
        _points(_last(x, "sbp"), [(70, 3), (80, 2), (100, 1), (199.999, 0)], 2)
        + _points(_last(x, "heart_rate"), [(40, 2), (50, 1), (100, 0), (110, 1), (129.999, 2)], 3)
        + _points(_last(x, "resp_rate"), [(8.999, 2), (14, 0), (20, 1), (29.999, 2)], 3)
        + _points(_last(x, "temperature"), [(34.999, 2), (38.4, 0)], 2)
    )


def icu_clock(x: np.ndarray) -> np.ndarray:
    """Hours since ICU admission (0 when unknown: the clock then never alerts)."""
    return np.nan_to_num(x[:, column("hours_in_icu")], nan=0.0)


_SCORES = {"SIRS": sirs, "qSOFA (RR, SBP)": qsofa, "NEWS2 (no consciousness)": news2, "MEWS (no AVPU)": mews,
           CLOCK: icu_clock}


def baseline_scores(x: np.ndarray) -> dict[str, np.ndarray]:
    """Each baseline's score for every row of a feature matrix."""
    return {b.name: _SCORES[b.name](x) for b in BASELINES}
