"""The ONE pipeline: causal, unit- and zone-independent, and identical on the training and live paths."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from app.model.features import (
    FEATURE_NAMES,
    FEATURES,
    at_population_mean,
    build_feature_matrix,
    build_features,
)
from app.model.measurement import CONCEPTS, Measurement
from app.model.physionet import parse_stay
from tests.support.physionet import synthetic_stay

T0 = datetime(2026, 3, 8, 6, 0, tzinfo=ZoneInfo("America/Chicago"))  # a DST change day, on purpose


def same(a: np.ndarray, b: np.ndarray) -> bool:
    return np.array_equal(a, b, equal_nan=True)


def patient(t0: datetime = T0) -> list[Measurement]:
    out = [Measurement("age", 67, t0), Measurement("sex_male", 1, t0)]
    for h in range(30):
        t = t0 + timedelta(hours=h)
        out += [
            Measurement("heart_rate", 80 + h, t),
            Measurement("resp_rate", 16 + h % 5, t),
            Measurement("spo2", 97 - h % 3, t),
            Measurement("sbp", 120 - h, t),
        ]
        if h % 4 == 0:
            out.append(Measurement("temperature", 37 + h / 20, t))
        if h % 12 == 0:
            out += [Measurement("wbc", 9 + h / 6, t), Measurement("lactate", 1.5 + h / 10, t),
                    Measurement("glucose", 110 + h, t)]
    return out


def test_a_future_value_changes_nothing():
    ms = patient()
    at = T0 + timedelta(hours=20)
    before = build_features(ms, at)
    future = [Measurement("heart_rate", 190, at + timedelta(minutes=1)), Measurement("lactate", 9.0, at + timedelta(hours=2)),
              Measurement("platelets", 20, at + timedelta(days=3))]
    assert same(build_features(ms + future, at), before)


@settings(max_examples=40, deadline=None)
@given(
    at_hour=st.floats(min_value=0, max_value=40),
    extra=st.lists(
        st.tuples(st.sampled_from(["heart_rate", "lactate", "wbc", "temperature", "sbp"]),
                  st.floats(min_value=0.001, max_value=48), st.floats(min_value=0, max_value=1)),
        max_size=8,
    ),
)
def test_causality_for_any_future_measurements(at_hour, extra):
    ms = patient()
    at = T0 + timedelta(hours=at_hour)
    future = []
    for concept, dt, u in extra:
        c = CONCEPTS[concept]
        future.append(Measurement(concept, c.low + u * (c.high - c.low), at + timedelta(hours=dt)))
    assert same(build_features(ms + future, at), build_features(ms, at))


def test_a_measurement_exactly_at_the_scoring_time_is_used():
    ms = patient()
    at = T0 + timedelta(hours=5)
    row = build_features(ms + [Measurement("lactate", 4.2, at)], at)
    assert row[FEATURE_NAMES.index("lactate__last")] == 4.2
    assert row[FEATURE_NAMES.index("lactate__hours_since")] == 0


def test_equivalent_units_give_identical_features():
    """The same values recorded in other units and converted to the canonical unit (as the FHIR mapping does)."""
    at = T0 + timedelta(hours=6)
    canonical = [Measurement("temperature", 37.0, T0), Measurement("temperature", 39.5, T0 + timedelta(hours=4)),
                 Measurement("glucose", 99.0, T0), Measurement("hemoglobin", 12.1, T0), Measurement("fio2", 0.4, T0)]
    converted = [
        Measurement("temperature", (98.6 - 32) / 1.8, T0),  # 98.6 [degF] -> 36.99999999999999 Cel
        Measurement("temperature", (103.1 - 32) / 1.8, T0 + timedelta(hours=4)),  # -> 39.49999999999999
        Measurement("glucose", 99.0 / 18.0 * 18.0, T0),  # mg/dL -> mmol/L -> mg/dL round trip
        Measurement("hemoglobin", 121 / 10, T0),  # 121 g/L -> g/dL
        Measurement("fio2", 40 / 100, T0),  # 40 % -> fraction
    ]
    assert (98.6 - 32) / 1.8 != 37.0  # the conversion really is inexact in floating point
    assert same(build_features(converted, at), build_features(canonical, at))


def test_the_same_instants_in_any_time_zone_give_identical_features():
    ms = patient()
    at = T0 + timedelta(hours=25)
    for zone in (UTC, ZoneInfo("Asia/Kolkata"), timezone(timedelta(hours=-3, minutes=-30))):
        moved = [Measurement(m.concept, m.value, m.time.astimezone(zone)) for m in ms]
        assert same(build_features(moved, at.astimezone(zone)), build_features(ms, at))


def test_input_order_does_not_matter():
    ms = patient() + [Measurement("heart_rate", 150, T0 + timedelta(hours=3))]  # a duplicate time
    shuffled = ms[:]
    random.Random(7).shuffle(shuffled)
    at = T0 + timedelta(hours=10)
    assert same(build_features(shuffled, at), build_features(ms, at))


def test_training_and_live_paths_give_identical_features():
    """A PhysioNet stay through the training path (physionet -> one matrix for all its hours) and through the
    live path (Measurements as a FHIR mapping would hand them: other zone, any order, then build_features
    at one time) give the same numbers, hour by hour."""
    stay = parse_stay(synthetic_stay(np.random.default_rng(3), True, 30, 71, 1), "p000042")
    training = build_feature_matrix(stay.measurements, stay.times)
    zone = ZoneInfo("Europe/Berlin")
    live = [Measurement(m.concept, m.value, m.time.astimezone(zone)) for m in stay.measurements]
    random.Random(1).shuffle(live)
    for i, at in enumerate(stay.times):
        assert same(build_features(live, at.astimezone(zone)), training[i]), f"hour {stay.hours[i]}"


def test_never_measured_means_missing_not_zero():
    row = build_features([Measurement("heart_rate", 90, T0)], T0)
    assert np.isnan(row[FEATURE_NAMES.index("lactate__last")])
    assert np.isnan(row[FEATURE_NAMES.index("lactate__hours_since")])
    assert np.isnan(row[FEATURE_NAMES.index("hours_in_icu")])  # no admission time given: missing, not 0


def test_no_counts_no_unit_and_no_hospital_admission_feature():
    """Hours in the ICU is the one clock the model reads (knowable live from the Encounter); counts of
    measurements or orders, the unit of care and the hospital admission time are not features."""
    names = " ".join(FEATURE_NAMES).lower()
    for banned in ("iculos", "hospadm", "unit1", "unit2", "count", "draws", "ordered"):
        assert banned not in names
    assert [f.name for f in FEATURES if "icu" in f.name] == ["hours_in_icu"]
    for f in FEATURES:
        assert f.concept is None or CONCEPTS[f.concept].model_input


def test_hours_in_icu_come_from_the_admission_time_and_never_go_negative():
    at = T0 + timedelta(hours=30)
    row = build_features(patient(), at, icu_admitted_at=T0 - timedelta(hours=2))
    assert row[FEATURE_NAMES.index("hours_in_icu")] == 32
    early = build_features(patient(), T0, icu_admitted_at=T0 + timedelta(hours=1))
    assert early[FEATURE_NAMES.index("hours_in_icu")] == 0


def test_every_feature_reads_only_the_72_hour_lookback():
    """What live scoring reads from the EHR (the last 72 h) gives exactly the training row: older data is ignored."""
    at = T0 + timedelta(hours=100)
    old = [Measurement("lactate", 6.0, T0), Measurement("platelets", 40, T0 + timedelta(hours=27.5)),
           Measurement("heart_rate", 150, T0 + timedelta(hours=10))]
    recent = [Measurement("age", 67, T0), Measurement("heart_rate", 90, at - timedelta(hours=1)),
              Measurement("platelets", 210, at - timedelta(hours=71))]
    row = build_features(old + recent, at)
    assert same(row, build_features(recent, at))
    assert np.isnan(row[FEATURE_NAMES.index("lactate__last")])  # 100 h old: not measured, as live
    assert row[FEATURE_NAMES.index("platelets__min_72h")] == 210
    assert row[FEATURE_NAMES.index("age__last")] == 67  # demographics are read once per stay


def test_per_patient_baselines_worst_values_and_deviation_from_the_running_mean():
    at = T0 + timedelta(hours=29)
    row = build_features(patient(), at)
    hr = [80 + h for h in range(30)]  # one per hour, all inside the lookback
    assert row[FEATURE_NAMES.index("heart_rate__min_72h")] == min(hr)
    assert row[FEATURE_NAMES.index("heart_rate__max_72h")] == max(hr)
    assert row[FEATURE_NAMES.index("heart_rate__deviation_72h")] == round(hr[-1] - sum(hr) / len(hr), 6)
    lactate = [1.5, 2.7, 3.9]  # at hours 0, 12 and 24
    assert row[FEATURE_NAMES.index("lactate__deviation_72h")] == round(lactate[-1] - sum(lactate) / 3, 6)


def test_population_mean_perturbation_equals_rebuilding_with_mean_values():
    ms = patient()
    at = T0 + timedelta(hours=26)
    row = build_features(ms, at)
    means = {"heart_rate": 84.123456, "lactate": 1.9, "sbp": 121.5, "age": 62.0, "platelets": 200.0}
    concepts, rows = at_population_mean(row, means)
    assert "platelets" not in concepts  # never measured: nothing to replace
    for concept, perturbed in zip(concepts, rows, strict=True):
        rebuilt = build_features(
            [Measurement(m.concept, means[concept], m.time) if m.concept == concept else m for m in ms], at
        )
        assert same(perturbed, rebuilt), concept
