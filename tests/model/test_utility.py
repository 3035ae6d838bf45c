"""The PhysioNet 2019 utility against hand-computed values and a literal port of the organisers' loop."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.model.utility import normalized_utility, optimal_alerts, row_utilities, sepsis_onset


def septic_patient(alerts):
    """Hours 1..20, SepsisLabel from hour 11, so t_sepsis = 17 and d = hour - 17 runs from -16 to +3."""
    hours = np.arange(1, 21)
    return np.full(20, "p1"), hours, np.asarray(alerts, dtype=bool), (hours >= 11).astype(int)


def test_onset_is_first_label_plus_six():
    p, h, _, y = septic_patient(np.zeros(20))
    assert set(sepsis_onset(p, h, y)) == {17.0}
    assert np.isinf(sepsis_onset(["q", "q"], [1, 2], [0, 0])).all()


def test_never_alerting_a_septic_patient_costs_minus_ten():
    # missed hours d = -5..3 cost -2(d+6)/9 = -2/9 * (1 + ... + 9) = -10
    assert row_utilities(*septic_patient(np.zeros(20))).sum() == pytest.approx(-10.0)


def test_the_optimal_series_earns_seven_and_a_half():
    p, h, _, y = septic_patient(np.zeros(20))
    best = optimal_alerts(p, h, y)
    assert list(h[best]) == list(range(5, 21))  # t_sepsis - 12 .. t_sepsis + 3
    # d = -12..-6: (d+12)/6 -> 0 + 1/6 + ... + 1 = 3.5;  d = -5..3: (3-d)/9 -> 8/9 + ... + 0 = 4
    assert row_utilities(p, h, best, y).sum() == pytest.approx(7.5)


def test_single_alerts_at_the_landmarks():
    def one(hour):
        alerts = np.zeros(20)
        alerts[hour - 1] = 1
        return row_utilities(*septic_patient(alerts))[hour - 1]

    assert one(11) == pytest.approx(1.0)  # d = -6: full reward
    assert one(5) == pytest.approx(0.0)  # d = -12
    assert one(8) == pytest.approx(0.5)  # d = -9
    assert one(2) == pytest.approx(-0.05)  # d = -15: too early, counted as a false positive
    assert one(20) == pytest.approx(0.0)  # d = +3
    assert one(14) == pytest.approx(6 / 9)  # d = -3: (3 - d) / 9


def test_normalized_utility_of_a_small_cohort():
    p, h, a, y = septic_patient(np.ones(20))  # alert every hour: 7.5 - 4 * 0.05 = 7.3
    q_hours = np.arange(1, 11)
    q_alerts = np.isin(q_hours, [2, 3, 7])  # non-septic patient, three false alerts: -0.15
    patients = np.r_[p, np.full(10, "p2")]
    hours = np.r_[h, q_hours]
    alerts = np.r_[a, q_alerts]
    labels = np.r_[y, np.zeros(10, dtype=int)]
    # (7.3 - 0.15 - (-10)) / (7.5 - (-10)) = 17.15 / 17.5
    assert normalized_utility(patients, hours, alerts, labels) == pytest.approx(0.98)
    assert normalized_utility(patients, hours, np.zeros(30), labels) == pytest.approx(0.0)
    assert normalized_utility(patients, hours, optimal_alerts(patients, hours, labels), labels) == pytest.approx(1.0)


def test_no_septic_patient_makes_the_score_undefined():
    assert np.isnan(normalized_utility(["a", "a"], [1, 2], [1, 0], [0, 0]))


def official_patient_utility(labels, predictions):
    """A literal port of compute_prediction_utility from the organisers' evaluate_sepsis_score.py (row index t)."""
    dt_early, dt_optimal, dt_late, max_u_tp, min_u_fn, u_fp, u_tn = -12, -6, 3.0, 1, -2, -0.05, 0
    if np.any(labels):
        is_septic, t_sepsis = True, np.argmax(labels) - dt_optimal
    else:
        is_septic, t_sepsis = False, float("inf")
    m_1 = float(max_u_tp) / float(dt_optimal - dt_early)
    b_1 = -m_1 * dt_early
    m_2 = float(-max_u_tp) / float(dt_late - dt_optimal)
    b_2 = -m_2 * dt_late
    m_3 = float(min_u_fn) / float(dt_late - dt_optimal)
    b_3 = -m_3 * dt_optimal
    u = np.zeros(len(labels))
    for t in range(len(labels)):
        if t <= t_sepsis + dt_late:
            if is_septic and predictions[t]:
                if t <= t_sepsis + dt_optimal:
                    u[t] = max(m_1 * (t - t_sepsis) + b_1, u_fp)
                elif t <= t_sepsis + dt_late:
                    u[t] = m_2 * (t - t_sepsis) + b_2
            elif not is_septic and predictions[t]:
                u[t] = u_fp
            elif is_septic and not predictions[t]:
                if t <= t_sepsis + dt_optimal:
                    u[t] = 0
                elif t <= t_sepsis + dt_late:
                    u[t] = m_3 * (t - t_sepsis) + b_3
            elif not is_septic and not predictions[t]:
                u[t] = u_tn
    return np.sum(u)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(min_value=8, max_value=60),
    first_hour=st.integers(min_value=1, max_value=30),
    onset=st.one_of(st.none(), st.integers(min_value=0, max_value=59)),
    seed=st.integers(min_value=0, max_value=10_000),
)
def test_matches_the_official_code_on_any_patient(n, first_hour, onset, seed):
    labels = np.zeros(n, dtype=int)
    if onset is not None and onset < n:
        labels[onset:] = 1
    alerts = np.random.default_rng(seed).random(n) < 0.3
    hours = np.arange(first_hour, first_hour + n)  # ICULOS need not start at 1
    ours = row_utilities(np.full(n, "p"), hours, alerts, labels).sum()
    assert ours == pytest.approx(official_patient_utility(labels, alerts), abs=1e-9)
