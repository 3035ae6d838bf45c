"""Patient-level, hourly and calibration metrics against hand-computed expectations."""

from __future__ import annotations

import numpy as np
import pytest

from app.model.metrics import (
    expected_calibration_error,
    hourly_auprc,
    hourly_auroc,
    patient_level,
    reliability_plot,
    rising_edges,
)


def cohort(p2_alert_hours=()):
    """P1 septic (labels from hour 5: t_sepsis 11), alerts at 3, 4, 8.  P2 septic (labelled from hour 1: t_sepsis 7).
    P3 never septic, alerts at 2, 3.  P4 never septic, 21 quiet hours.  48 patient-hours = 2 patient-days."""
    rows = []
    for h in range(1, 11):
        rows.append(("P1", h, h in (3, 4, 8), int(h >= 5)))
    for h in range(1, 10):
        rows.append(("P2", h, h in p2_alert_hours, 1))
    for h in range(1, 9):
        rows.append(("P3", h, h in (2, 3), 0))
    for h in range(1, 22):
        rows.append(("P4", h, False, 0))
    rows = rows[::-1]  # the metrics must not depend on row order
    p, h, a, y = (np.array(c) for c in zip(*rows, strict=True))
    return p, h, a, y


def test_patient_level_operating_point():
    r = patient_level(*cohort())
    assert r["patients"] == 4 and r["septic_patients"] == 2 and r["alerted_patients"] == 2
    assert r["sensitivity"] == 0.5  # P1 alerted before onset, P2 never
    assert r["precision"] == 0.5  # alerted: P1 (septic), P3 (not)
    assert r["alerts_per_patient_day"] == 1.5  # episodes: P1 at 3 and 8, P3 at 2 -> 3 per 2 patient-days
    assert r["median_lead_time_h"] == 8.0  # P1: t_sepsis 11 - first alert 3


def test_an_alert_at_onset_is_not_before_onset_but_the_patient_is_septic():
    r = patient_level(*cohort(p2_alert_hours=(7,)))  # at t_sepsis: alerted and septic, but not before onset
    assert r["alerted_patients"] == 3 and r["sensitivity"] == 0.5 and r["precision"] == pytest.approx(2 / 3)
    r = patient_level(*cohort(p2_alert_hours=(6,)))  # hour 6 < t_sepsis 7: early, lead 1 h
    assert r["sensitivity"] == 1.0 and r["median_lead_time_h"] == pytest.approx(4.5)
    assert r["precision"] == pytest.approx(2 / 3)


def test_rising_edges_count_each_episode_once_per_patient():
    p = ["a", "a", "a", "a", "b", "b"]
    h = [1, 2, 3, 4, 1, 2]
    a = [1, 1, 0, 1, 1, 1]
    # a: episodes start at hours 1 and 4; b starts a new episode at its first hour although a ended alerting
    assert rising_edges(p, h, a).tolist() == [True, False, False, True, True, False]


def test_no_alerts_give_undefined_precision_and_lead():
    p, h, _, y = cohort()
    r = patient_level(p, h, np.zeros(len(p), dtype=bool), y)
    assert r["sensitivity"] == 0 and np.isnan(r["precision"]) and np.isnan(r["median_lead_time_h"])
    assert r["alerts_per_patient_day"] == 0


def test_expected_calibration_error():
    # bin 0: mean 0.05, observed 0.5 -> 0.45 x half the rows; bin 9: mean 0.95, observed 1 -> 0.05 x half
    assert expected_calibration_error([0, 1, 1, 1], [0.05, 0.05, 0.95, 0.95]) == pytest.approx(0.25)
    assert expected_calibration_error([0, 1], [0.0, 1.0]) == 0


def test_hourly_auroc_and_auprc():
    assert hourly_auroc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert hourly_auroc([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4]) == 0.75
    assert hourly_auprc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert np.isnan(hourly_auroc([0, 0], [0.1, 0.2]))


def test_reliability_plot_is_a_png(tmp_path):
    path = tmp_path / "r.png"
    reliability_plot([0, 1, 0, 1, 1], [0.1, 0.8, 0.3, 0.6, 0.95], path, "test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
