"""Bedside-score baselines against hand-scored examples."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from app.model.baselines import baseline_scores, mews, news2, qsofa, sirs
from app.model.features import build_feature_matrix
from app.model.measurement import Measurement

T = datetime(2026, 1, 5, 12, tzinfo=UTC)


def rows(**values) -> np.ndarray:
    return build_feature_matrix([Measurement(k, v, T) for k, v in values.items()], [T])


def test_a_sick_patient():
    x = rows(temperature=39.5, heart_rate=135, resp_rate=25, paco2=30, wbc=3, spo2=92, fio2=0.4, sbp=95)
    assert sirs(x)[0] == 4
    assert qsofa(x)[0] == 2
    # NEWS2: RR 25 -> 3, SpO2 92 -> 2, oxygen -> 2, SBP 95 -> 2, HR 135 -> 3, T 39.5 -> 2
    assert news2(x)[0] == 14
    # MEWS: SBP 95 -> 1, HR 135 -> 3, RR 25 -> 2, T 39.5 -> 2
    assert mews(x)[0] == 8


def test_a_well_patient_and_band_edges():
    x = rows(temperature=37.0, heart_rate=90, resp_rate=20, wbc=12, spo2=96, fio2=0.21, sbp=111)
    assert sirs(x)[0] == 0 and qsofa(x)[0] == 0 and news2(x)[0] == 0
    assert mews(x)[0] == 1  # RR 20 is in MEWS's 15-20 band (1 point)


def test_nothing_measured_scores_zero():
    assert all(s[0] == 0 for s in baseline_scores(rows()).values())
