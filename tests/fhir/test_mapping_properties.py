"""Property-based: mapping never raises on junk and never emits a value outside its concept's plausible range."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.fhir.codes import CODE_TO_CONCEPT
from app.fhir.mapping import Mapped, Rejected, map_observation, map_observations
from app.model.measurement import CONCEPTS, is_plausible
from tests.support.fhir import NOW, PATIENT
from tests.support.fhir_strategies import json_values, numbers, observations, units

SETTINGS = settings(max_examples=300, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


def check(results: list) -> None:
    assert isinstance(results, list)
    for r in results:
        assert isinstance(r, Mapped | Rejected)
        if isinstance(r, Mapped):
            m = r.measurement
            assert m.concept in CONCEPTS and m.time.tzinfo is not None
            assert is_plausible(m.concept, m.value), (m.concept, m.value)
        else:
            assert r.detail != "internal error", r  # the safety net in map_observation is never reached
            assert isinstance(r.text, str) and r.reason


@SETTINGS
@given(json_values)
def test_arbitrary_json_never_raises(doc):
    check(map_observation(doc, patient_id=PATIENT, now=NOW))


@SETTINGS
@given(observations())
def test_observation_shaped_junk_never_raises_and_never_emits_an_implausible_value(doc):
    check(map_observation(doc, patient_id=PATIENT, now=NOW))


@SETTINGS
@given(st.lists(observations(), max_size=6))
def test_many_observations_never_raise_and_stay_plausible(docs):
    result = map_observations(docs, patient_id=PATIENT, now=NOW)
    check(list(result.used) + list(result.rejected))
    keys = [(m.measurement.concept, m.measurement.time, round(m.measurement.value, 4)) for m in result.used]
    assert len(keys) == len(set(keys))  # no duplicate reaches the model


@SETTINGS
@given(st.sampled_from(sorted(CODE_TO_CONCEPT)), numbers, units)
def test_well_formed_observations_are_used_only_when_plausible(code, value, unit):
    doc = {"resourceType": "Observation", "id": "x", "status": "final",
           "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
           "subject": {"reference": f"Patient/{PATIENT}"}, "effectiveDateTime": "2026-11-23T13:00:00Z",
           "valueQuantity": {"value": value, "unit": unit, "code": unit}}
    check(map_observation(doc, patient_id=PATIENT, now=NOW))
