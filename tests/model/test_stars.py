"""Stars by measurement (TREWS): all of one measurement's features at the population mean at once; a blood
pressure is one measurement; age and sex are never starred."""

from datetime import UTC, datetime, timedelta

import numpy as np

from app.model import Measurement
from app.model.features import build_features, column
from app.model.scoring import _starred, star_groups

NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
MEANS = {"heart_rate": 85.0, "sbp": 120.0, "map": 80.0, "dbp": 62.0, "resp_rate": 18.0, "age": 62.0,
         "sex_male": 0.55}


def patient() -> list[Measurement]:
    out = []
    for h in range(4):
        t = NOW - timedelta(hours=h)
        out += [Measurement("heart_rate", 120 - h, t), Measurement("resp_rate", 30, t),
                Measurement("sbp", 85 + h, t), Measurement("map", 58, t)]
    return out + [Measurement("age", 71, NOW - timedelta(days=1)), Measurement("sex_male", 0, NOW - timedelta(days=1))]


def test_a_blood_pressure_is_one_measurement_replaced_at_once_and_demographics_are_left_out():
    row = build_features(patient(), NOW)
    groups, rows = star_groups(row, MEANS)
    assert ("sbp", "map") in groups  # measured together; dbp was not measured
    assert not any(c in ("age", "sex_male") for g in groups for c in g)
    bp = rows[groups.index(("sbp", "map"))]
    assert bp[column("sbp__last")] == 120.0 and bp[column("map__last")] == 80.0
    assert bp[column("heart_rate__last")] == row[column("heart_rate__last")]  # other measurements untouched
    rr = rows[groups.index(("resp_rate",))]
    assert rr[column("resp_rate__last")] == 18.0 and rr[column("sbp__last")] == row[column("sbp__last")]


def test_the_largest_measurements_are_starred_with_every_concept_they_cover():
    groups = [("heart_rate",), ("resp_rate",), ("sbp", "map")]
    starred = _starred(0.40, np.array([0.38, 0.395, 0.20]), groups)
    assert starred == {"sbp", "map", "heart_rate"}  # resp_rate lowers the risk by 0.005 < MATERIAL
